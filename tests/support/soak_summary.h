// The verdict of a soak run over its samples (tests/support/soak_sample.h): pure, no I/O.
//
// Drift is last − first for the counts that must come back to where they were once a lab is
// destroyed: labvirtd's fds and threads, the bridge's and the labs' OVS ports, domains, state
// files and helper processes. "First" is the sample after cycle 1 (the daemon has then done
// everything once: lazily opened connections are open), "last" the last sample; the baseline
// before cycle 1 is reported but not compared. Threads are reported, not judged: the worker pool
// may grow and shrink with load.
//
// RSS is judged per labvirtd lifetime, never across a restart (a new process starts from its own
// baseline): for each lifetime its first and last RSS and a least-squares slope over its samples
// after `warmup` of them; and one slope over all lifetimes together, each lifetime with its own
// intercept (the pooled within-lifetime slope), in KiB per cycle.
#ifndef LABVIRT_TESTS_SUPPORT_SOAK_SUMMARY_H_
#define LABVIRT_TESTS_SUPPORT_SOAK_SUMMARY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/soak_sample.h"

namespace labvirt::testing {

struct SoakDrift {
  std::string metric;  // "fds", "bridge_ports", …
  int64_t first = 0;
  int64_t last = 0;
  bool judged = true;  // false: reported only (threads)
  int64_t drift() const { return last - first; }
};

struct SoakLifetime {
  int lifetime = 0;
  int first_cycle = 0;
  int last_cycle = 0;
  int64_t first_rss_kib = 0;
  int64_t last_rss_kib = 0;
  int fitted = 0;                             // samples in the fit (after warm-up)
  std::optional<double> slope_kib_per_cycle;  // none with fewer than 2 fitted samples
};

struct SoakSummary {
  int cycles = 0;  // cycles sampled (the baseline not counted)
  std::vector<SoakDrift> drifts;
  std::vector<SoakLifetime> lifetimes;
  std::optional<double> rss_slope_kib_per_cycle;       // pooled within lifetimes
  std::optional<double> rss_anon_slope_kib_per_cycle;  // the same for RssAnon alone
  // True when a judged count drifted or could not be read (-1) in the first or last sample.
  bool drifted = false;
};

// `samples` in cycle order, the baseline (cycle 0) first when there is one.
SoakSummary Summarize(const std::vector<SoakSample>& samples, int warmup);

// The report: {"config": config_json, "samples": […], "summary": {…}}. `config_json` is a JSON
// object (trusted text).
std::string SoakReportJson(const std::string& config_json, const std::vector<SoakSample>& samples,
                           const SoakSummary& summary);

// A few lines for a person: each drift, each lifetime's RSS, the slope and the verdict.
std::string SoakSummaryText(const SoakSummary& summary);

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_SOAK_SUMMARY_H_
