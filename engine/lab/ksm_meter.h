// KSM (kernel samepage merging) for `metrics`: how much guest memory the kernel has merged, host
// wide and per device kind. Many nodes of a lab run the same image, so their guest pages are
// largely identical; tools/setup-host turns KSM on, a kind may opt out (catalog
// `memory_sharing: false`, docs/catalog.md), and these figures show what it saves.
//
// Host-wide counters come from /sys/kernel/mm/ksm; per kind, each running QEMU's
// /proc/PID/ksm_stat (ksm_merging_pages, ksm_process_profit; Linux 6.1+, ksm_merging_pages alone
// since 5.16), its PID from libvirt's pid file. That is two file reads per VM: with hundreds of
// VMs they run on the worker pool, never on the loop thread, and `metrics` shows the last sample.
#ifndef LABVIRT_ENGINE_LAB_KSM_METER_H_
#define LABVIRT_ENGINE_LAB_KSM_METER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/lab/lifeline.h"
#include "reactor/op_handle.h"
#include "reactor/reactor.h"
#include "reactor/worker_pool.h"

namespace labvirt::engine {

// /sys/kernel/mm/ksm (Documentation/admin-guide/mm/ksm.rst).
struct KsmHostCounters {
  bool present = false;       // false: no /sys/kernel/mm/ksm (a kernel without CONFIG_KSM)
  int64_t run = 0;            // 0 stopped, 1 merging, 2 unmerged everything
  int64_t pages_shared = 0;   // merged pages in use (the copies kept)
  int64_t pages_sharing = 0;  // sites sharing them beyond the first: the pages saved
  int64_t pages_unshared = 0;
  int64_t pages_volatile = 0;
  int64_t full_scans = 0;
  int64_t general_profit = 0;  // bytes; 0 on kernels before 6.1
};

// What one kind's running VMs have merged.
struct KsmKindPages {
  int vms = 0;                  // running VMs of the kind
  int read = 0;                 // of them, whose QEMU's counters could be read
  int64_t merging_pages = 0;    // summed ksm_merging_pages
  int64_t profit_bytes = 0;     // summed ksm_process_profit (merged minus KSM's own metadata)
  bool sharing_allowed = true;  // the kind's memory_sharing
};

struct KsmSample {
  bool sampled = false;
  KsmHostCounters host;
  std::map<std::string, KsmKindPages> kinds;  // by kind name
};

// A running VM as the meter needs it.
struct KsmVm {
  std::string kind;
  std::string domain;  // libvirt's domain name: its pid file is <qemu_run_dir>/<domain>.pid
  bool sharing_allowed = true;
};

struct KsmPaths {
  std::string sys_ksm = "/sys/kernel/mm/ksm";
  std::string qemu_run_dir = "/run/libvirt/qemu";
  std::string proc = "/proc";
};

// One decimal integer, optionally followed by a newline (a sysfs or procfs counter).
std::optional<int64_t> ParseKsmCount(std::string_view text);
// `key` of a /proc/PID/ksm_stat text ("ksm_merging_pages 12\n…").
std::optional<int64_t> ParseKsmStat(std::string_view text, std::string_view key);

// Blocking reads (call off the loop thread). Missing files leave their fields 0; a VM whose pid
// file or /proc entry is gone (it stopped meanwhile) counts in `vms` but not in `read`.
KsmHostCounters ReadKsmHost(const std::string& sys_ksm);
std::map<std::string, KsmKindPages> ReadKsmPerKind(const std::vector<KsmVm>& vms,
                                                   const KsmPaths& paths);

// Appends labvirt_ksm_* gauges for `sample` (nothing when not sampled). `page_size` in bytes.
void RenderKsmMetrics(const KsmSample& sample, int64_t page_size, std::string& out);

// Samples KSM every `period` on the pool. Does not own the reactor or the pool, which must
// outlive it. Loop thread only; destroying it drops a sample in flight.
class KsmMeter {
 public:
  KsmMeter(reactor::Reactor& reactor, reactor::WorkerPool& pool);

  // Reads under `paths` now and every `period`. `vms` runs on the loop at each tick and names the
  // running VMs. A tick while the previous read is still running is skipped (a slow /proc never
  // piles up jobs on the pool).
  void Start(KsmPaths paths, std::chrono::milliseconds period,
             std::function<std::vector<KsmVm>()> vms);
  const KsmSample& last() const { return last_; }
  // RenderKsmMetrics of the last sample (nothing before the first one has come back).
  void Render(std::string& out) const;

 private:
  void Tick();

  reactor::Reactor& reactor_;
  reactor::WorkerPool& pool_;
  KsmPaths paths_;
  std::function<std::vector<KsmVm>()> vms_;
  bool in_flight_ = false;
  KsmSample last_;
  reactor::OpHandle timer_;
  Lifeline life_;  // last: dies first
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_KSM_METER_H_
