// Prometheus text exposition (version 0.0.4) for the `metrics` method: histograms, latency tables
// keyed by a label, and HELP/TYPE/sample lines. Pure, loop thread (no locking).
#ifndef LABVIRT_ENGINE_LAB_METRICS_H_
#define LABVIRT_ENGINE_LAB_METRICS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace labvirt::engine {

// Cumulative histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  // 1 ms .. 30 min: RPC latencies and VM boot times on one scale.
  static std::vector<double> DefaultBounds();
  explicit Histogram(std::vector<double> bounds = DefaultBounds());
  void Observe(double value);
  uint64_t count() const { return count_; }
  // Appends NAME_bucket{LABELS,le=".."}, NAME_sum, NAME_count. `labels`: `kind="iosv"` or "".
  void Render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> buckets_;  // per bound, not cumulative
  double sum_ = 0;
  uint64_t count_ = 0;
};

// One histogram per value of one label (a verb, a kind).
class LatencyTable {
 public:
  explicit LatencyTable(std::string label) : label_(std::move(label)) {}
  void Observe(const std::string& key, double seconds) { by_key_[key].Observe(seconds); }
  // HELP and TYPE, then every key's histogram.
  void Render(std::string& out, std::string_view name, std::string_view help) const;

 private:
  std::string label_;
  std::map<std::string, Histogram> by_key_;
};

// `name{labels} value` lines and their HELP/TYPE header.
void AppendHeader(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help);
void AppendSample(std::string& out, std::string_view name, std::string_view labels, double value);
// `key="value"` with the value escaped as the text format requires (\\, \", \n).
std::string Label(std::string_view key, std::string_view value);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_METRICS_H_
