// Admission: boots are admitted by what the host can take now, so a 50-VM lab does not boot-storm
// the host (peers' users report random boot failures when everything starts at once) and a lab
// too big for the host's memory waits instead of swapping it to a halt.
//
// A node at the head of the queue is admitted when every gate lets it through:
//   ceiling        the weighted starts in flight plus its weight fit the ceiling (--boot-budget);
//   libvirt_queue  libvirt calls waiting for a worker thread are at most the limit;
//   memory         MemAvailable minus the RAM of boots in flight >= its RAM + the reserve;
//   memory_pressure / cpu_pressure  the PSI stall share is below the limit (>= 100: gate off).
// Never starving: with nothing in flight the head is admitted whatever the gates say (a busy or
// small host would otherwise wait forever for a pressure that its own other work causes).
//
// An admitted node holds two things. Its weight counts against the ceiling until it reaches
// `booting` (VM resumed, console attached: libvirt's and QEMU's expensive start is over) under
// BootSlot::kBooting, or until `ready` under BootSlot::kReady. Its RAM counts as in flight until
// it is ready, failed or stopped (Release): a booting guest is still touching its memory.
//
// First come, first served: a heavy node at the head waits for room rather than being overtaken
// forever. A node heavier than the whole ceiling is admitted when no weight is held. Pure logic,
// loop thread only; `on_admitted` runs synchronously inside Request, Release, Booting or
// SetReadings.
#ifndef LABVIRT_ENGINE_LAB_ADMISSION_H_
#define LABVIRT_ENGINE_LAB_ADMISSION_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/lab/host_readings.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

// When an admitted node gives its weight back.
enum class BootSlot { kBooting, kReady };

struct AdmissionLimits {
  double ceiling = 0;  // sum of kind weights starting at once; <= 0: DefaultBootCeiling()
  int64_t mem_reserve_mib = 1024;
  double mem_pressure = 10;   // percent of time some task stalled on memory; >= 100: off
  double cpu_pressure = 100;  // percent of time some task waited for a CPU; >= 100: off
  int libvirt_queue = 4;      // libvirt calls waiting for a worker thread
  BootSlot slot = BootSlot::kBooting;
};

// The ceiling when none is configured: four weighted starts per host core (docs/benchmarks.md).
double DefaultBootCeiling();

class Admission {
 public:
  // A ceiling <= 0 in `limits` means DefaultBootCeiling().
  explicit Admission(const AdmissionLimits& limits);

  // Queues `key` (unique among queued and admitted keys) with `weight` and `mem_mib` (the node's
  // RAM); `on_admitted` runs when it gets its slot — possibly at once, before Request returns.
  // Returns false if `key` is known.
  bool Request(const std::string& key, double weight, int64_t mem_mib,
               std::function<void()> on_admitted);
  // `key` reached `booting`: under BootSlot::kBooting its weight is given back and whoever now
  // fits is admitted; its RAM stays in flight. Unknown keys are ignored.
  void Booting(const std::string& key);
  // A boot retry of `key` (its VM is started again): it takes its weight again at once, over the
  // ceiling if need be — a retry is part of the boot it was admitted for and never waits behind
  // other nodes. A key not admitted is admitted here.
  void Readmit(const std::string& key, double weight, int64_t mem_mib);
  // Frees everything `key` holds, or drops it from the queue. Admits whoever now fits. Unknown
  // keys are ignored (a node may release twice, e.g. ready then stopped).
  void Release(const std::string& key);
  // The host as last read; the gates use it from now on (a first reading may admit at once).
  void SetReadings(const HostReadings& readings);

  // Whether nodes needing `mem_mib` of RAM in all fit the host beside `held_mib`, the RAM of
  // this daemon's nodes that already run or wait to run: MemTotal minus the reserve.
  // FailedPrecondition (field "nodes") with the numbers if not; Ok when MemTotal is not known (no
  // reading yet, or no /proc/meminfo).
  Status FitsHost(int64_t mem_mib, int64_t held_mib = 0) const;

  bool IsQueued(const std::string& key) const;
  bool IsAdmitted(const std::string& key) const { return admitted_.count(key) > 0; }
  // Keys waiting, in admission order.
  std::vector<std::string> Queue() const;
  // Why queued `key` waits, as a JSON object {"reason": …, numbers}; "null" if it is not queued.
  // Reasons: ceiling, libvirt_queue, memory, memory_pressure, cpu_pressure, or order (it would
  // pass every gate but waits behind `ahead` nodes). docs/protocol.md has the fields.
  std::string QueuedReasonJson(const std::string& key) const;
  // {"budget","ceiling","in_use","mem_in_flight_mib","slot","queue":[keys],"limits":{…},
  //  "readings":{…}} ("budget" is the ceiling, under its old name).
  std::string ToJson() const;
  // Queued nodes per reason (every reason present, 0 included).
  std::map<std::string, int> QueuedByReason() const;

  double in_use() const { return in_use_; }
  int64_t mem_in_flight_mib() const { return mem_in_flight_; }
  const AdmissionLimits& limits() const { return limits_; }
  const HostReadings& readings() const { return readings_; }
  void set_ceiling(double ceiling);

 private:
  struct Waiter {
    std::string key;
    double weight = 0;
    int64_t mem_mib = 0;
    std::function<void()> on_admitted;
  };
  struct Held {
    double weight = 0;
    int64_t mem_mib = 0;
    bool holds_weight = true;
  };
  struct Verdict {
    const char* reason = nullptr;  // null: every gate lets it through
    std::string json;
  };
  // The gates for `w` as if it were next, with what is in flight now.
  Verdict Check(const Waiter& w) const;
  void Admit(const std::string& key, double weight, int64_t mem_mib);
  void AdmitWhatFits();

  AdmissionLimits limits_;
  HostReadings readings_;
  double in_use_ = 0;
  int64_t mem_in_flight_ = 0;
  std::deque<Waiter> queue_;
  std::map<std::string, Held> admitted_;
};

// Appends admission's gauges (labvirt_admission_*, and the last host readings as labvirt_host_*
// and labvirt_libvirt_calls_queued) to `out`. In admission_metrics.cc.
void RenderAdmissionMetrics(const Admission& admission, std::string& out);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_ADMISSION_H_
