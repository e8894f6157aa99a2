#include "engine/lab/ksm_meter.h"

#include <unistd.h>

#include <charconv>

#include "engine/lab/host_readings.h"
#include "engine/lab/metrics.h"

namespace labvirt::engine {
namespace {

int64_t CountAt(const std::string& path) {
  auto text = ReadSmall(path);
  return text ? ParseKsmCount(*text).value_or(0) : 0;
}

}  // namespace

std::optional<int64_t> ParseKsmCount(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

std::optional<int64_t> ParseKsmStat(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      return ParseKsmCount(line.substr(key.size() + 1));
    }
  }
  return std::nullopt;
}

KsmHostCounters ReadKsmHost(const std::string& sys_ksm) {
  KsmHostCounters c;
  auto run = ReadSmall(sys_ksm + "/run");
  if (!run) return c;
  c.present = true;
  c.run = ParseKsmCount(*run).value_or(0);
  c.pages_shared = CountAt(sys_ksm + "/pages_shared");
  c.pages_sharing = CountAt(sys_ksm + "/pages_sharing");
  c.pages_unshared = CountAt(sys_ksm + "/pages_unshared");
  c.pages_volatile = CountAt(sys_ksm + "/pages_volatile");
  c.full_scans = CountAt(sys_ksm + "/full_scans");
  c.general_profit = CountAt(sys_ksm + "/general_profit");
  return c;
}

std::map<std::string, KsmKindPages> ReadKsmPerKind(const std::vector<KsmVm>& vms,
                                                   const KsmPaths& paths) {
  std::map<std::string, KsmKindPages> out;
  for (const auto& vm : vms) {
    KsmKindPages& k = out[vm.kind];
    ++k.vms;
    k.sharing_allowed = vm.sharing_allowed;
    auto pid_text = ReadSmall(paths.qemu_run_dir + "/" + vm.domain + ".pid");
    auto pid = pid_text ? ParseKsmCount(*pid_text) : std::nullopt;
    if (!pid || *pid <= 0) continue;
    std::string dir = paths.proc + "/" + std::to_string(*pid);
    // ksm_stat has both figures (6.1+); older kernels have ksm_merging_pages alone (5.16+).
    if (auto stat = ReadSmall(dir + "/ksm_stat")) {
      auto merging = ParseKsmStat(*stat, "ksm_merging_pages");
      if (!merging) continue;
      ++k.read;
      k.merging_pages += *merging;
      k.profit_bytes += ParseKsmStat(*stat, "ksm_process_profit").value_or(0);
    } else if (auto merging = ReadSmall(dir + "/ksm_merging_pages")) {
      auto n = ParseKsmCount(*merging);
      if (!n) continue;
      ++k.read;
      k.merging_pages += *n;
    }
  }
  return out;
}

void RenderKsmMetrics(const KsmSample& s, int64_t page_size, std::string& out) {
  if (!s.sampled || !s.host.present) return;
  auto page_bytes = [page_size](int64_t pages) { return static_cast<double>(pages * page_size); };
  AppendHeader(out, "labvirt_ksm_run", "gauge",
               "/sys/kernel/mm/ksm/run: 0 stopped, 1 merging, 2 unmerged");
  AppendSample(out, "labvirt_ksm_run", "", static_cast<double>(s.host.run));
  AppendHeader(out, "labvirt_ksm_pages_shared", "gauge", "Host-wide merged pages kept (KSM)");
  AppendSample(out, "labvirt_ksm_pages_shared", "", static_cast<double>(s.host.pages_shared));
  AppendHeader(out, "labvirt_ksm_pages_sharing", "gauge",
               "Host-wide page sites sharing a merged page beyond its first: pages saved (KSM)");
  AppendSample(out, "labvirt_ksm_pages_sharing", "", static_cast<double>(s.host.pages_sharing));
  AppendHeader(out, "labvirt_ksm_saved_bytes", "gauge",
               "Host-wide memory saved by KSM (pages_sharing times the page size)");
  AppendSample(out, "labvirt_ksm_saved_bytes", "", page_bytes(s.host.pages_sharing));
  AppendHeader(out, "labvirt_ksm_full_scans_total", "counter", "KSM passes over all memory");
  AppendSample(out, "labvirt_ksm_full_scans_total", "", static_cast<double>(s.host.full_scans));
  AppendHeader(out, "labvirt_ksm_merging_pages", "gauge",
               "Guest pages of a kind's running VMs that KSM merged (sum of ksm_merging_pages)");
  for (const auto& [kind, k] : s.kinds) {
    AppendSample(out, "labvirt_ksm_merging_pages", Label("kind", kind),
                 static_cast<double>(k.merging_pages));
  }
  AppendHeader(out, "labvirt_ksm_merged_bytes", "gauge",
               "Memory of a kind's running VMs that KSM merged, in bytes");
  for (const auto& [kind, k] : s.kinds) {
    AppendSample(out, "labvirt_ksm_merged_bytes", Label("kind", kind), page_bytes(k.merging_pages));
  }
  AppendHeader(out, "labvirt_ksm_profit_bytes", "gauge",
               "Per kind, the kernel's ksm_process_profit summed: merged memory minus KSM's own "
               "bookkeeping (0 before Linux 6.1)");
  for (const auto& [kind, k] : s.kinds) {
    AppendSample(out, "labvirt_ksm_profit_bytes", Label("kind", kind),
                 static_cast<double>(k.profit_bytes));
  }
  AppendHeader(out, "labvirt_ksm_vms", "gauge",
               "Running VMs per kind and whether the kind lets KSM merge them (sharing=\"no\": "
               "memory_sharing false)");
  for (const auto& [kind, k] : s.kinds) {
    AppendSample(out, "labvirt_ksm_vms",
                 Label("kind", kind) + "," + Label("sharing", k.sharing_allowed ? "yes" : "no"),
                 k.vms);
  }
}

KsmMeter::KsmMeter(reactor::Reactor& reactor, reactor::WorkerPool& pool)
    : reactor_(reactor), pool_(pool) {}

void KsmMeter::Start(KsmPaths paths, std::chrono::milliseconds period,
                     std::function<std::vector<KsmVm>()> vms) {
  paths_ = std::move(paths);
  vms_ = std::move(vms);
  Tick();
  timer_ = reactor_.Every(period, [this] { Tick(); });
}

void KsmMeter::Tick() {
  if (in_flight_) return;
  struct Work {
    std::vector<KsmVm> vms;
    KsmPaths paths;
  };
  auto work = std::make_shared<Work>(Work{vms_(), paths_});
  auto done = life_.Bind([this](KsmSample s) {
    in_flight_ = false;
    last_ = std::move(s);
  });
  Status st = pool_.Submit<KsmSample>(
      [work] {
        KsmSample s;
        s.sampled = true;
        s.host = ReadKsmHost(work->paths.sys_ksm);
        s.kinds = ReadKsmPerKind(work->vms, work->paths);
        return s;
      },
      std::move(done));
  // A full queue (boots keep every worker busy): try again at the next tick.
  in_flight_ = st.ok();
}

void KsmMeter::Render(std::string& out) const {
  static const int64_t kPageSize = ::sysconf(_SC_PAGESIZE);
  RenderKsmMetrics(last_, kPageSize, out);
}

}  // namespace labvirt::engine
