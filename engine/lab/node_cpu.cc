// NodeLife (engine/lab/node_life.h): the host probe and the CPU ladder at start
// (providers/cpu_policy.h, engine/lab/cpu_choices.h). A start that QEMU or libvirt refuses for the
// CPU is retried on the next rung down, within the same admission slot and the same `starting`
// state, with every refused choice kept in the node (cpu_attempts), its events and, on failure, its
// reason.
#include "engine/lab/node_life.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {

void NodeLife::ProbeHost(std::function<void()> done) {
  // /proc/cpuinfo (large on big hosts) and the cache file are read on a worker, libvirt's
  // capabilities through the hypervisor seam; the loop only parses and keeps the result.
  struct Local {
    providers::HostInfo host;
    std::string cache_json;
  };
  Status st = OnWorker<Local>(
      [force_tcg = options_.force_tcg, path = cpu_choices_.cache_path()] {
        Local l{providers::ProbeLocalHost(), ReadCpuCache(path)};
        l.host.kvm = l.host.kvm && !force_tcg;
        return l;
      },
      [this, done](Local l) {
        QueryHostCapabilities(std::move(l.host), std::move(l.cache_json), done);
      });
  if (!st.ok()) {
    LogWarn("host probe not run; CPU choices as at start", {{"error", st.ToString()}});
    done();
  }
}

void NodeLife::QueryHostCapabilities(providers::HostInfo local, std::string cache_json,
                                     std::function<void()> done) {
  std::string virttype = local.kvm ? "kvm" : "qemu";
  hv_.GetHostCapabilities(virttype, [this, local, cache_json, done = std::move(done)](
                                        Result<providers::HostCapabilities> caps) mutable {
    if (caps.ok()) {
      local.qemu_version = caps->hypervisor_version;
      auto parsed = providers::ParseDomainCapabilities(caps->domain_capabilities_xml);
      if (parsed.ok()) {
        local.caps = *parsed;
        local.caps_known = true;
      } else {
        local.caps_error = parsed.status().message();
      }
    } else {
      local.caps_error = caps.status().message();
    }
    cpu_choices_.SetHost(local, cache_json);
    LogInfo("host", {{"summary", providers::DescribeHost(local)},
                     {"cpu_cache", cpu_choices_.CachedSummary()}});
    done();
  });
}

namespace {

// Pause before a start is tried again on the same domain: time for libvirt to finish with the
// refused attempt's QEMU (see providers::KilledByLibvirtDuringStart). Boots take seconds.
constexpr auto kRetryPause = std::chrono::milliseconds(500);
constexpr int kMaxStartKills = 2;

}  // namespace

void NodeLife::StartRefused(Node& n, const std::string& error) {
  if (providers::IsContainerKind(*n.kind)) return FailStart(n, error);
  if (providers::KilledByLibvirtDuringStart(error) && n.start_kills < kMaxStartKills) {
    ++n.start_kills;
    LogWarn("start killed by libvirtd itself; trying the same CPU again",
            {{"node", n.key}, {"cpu", providers::DescribeCpu(n.cpu)}, {"error", error}});
    return RetryStart(n, /*redefine=*/false);
  }
  providers::CpuError err = providers::ClassifyCpuError(error);
  auto next = cpu_choices_.Next(*n.kind, n.cpu, err);
  if (!next) {
    std::string reason = error;
    if (!n.cpu_attempts.empty()) {
      reason += " [CPU choices tried: ";
      for (const auto& a : n.cpu_attempts) reason += a + "; ";
      reason += providers::DescribeCpu(n.cpu) + "]";
    }
    return FailStart(n, reason);
  }
  n.cpu_attempts.push_back(providers::DescribeCpu(n.cpu) + ": " + err.excerpt);
  LogWarn("CPU refused; trying the next choice", {{"node", n.key},
                                                  {"refused", providers::DescribeCpu(n.cpu)},
                                                  {"error", err.excerpt},
                                                  {"next", providers::DescribeCpu(*next)}});
  n.cpu = *next;
  Emit("node.cpu", &n, providers::CpuChoiceToJson(n.cpu));
  RetryStart(n, /*redefine=*/true);
}

void NodeLife::StartVanished(Node& n, const std::string& why) {
  if (n.start_kills >= kMaxStartKills) return FailStart(n, why);
  ++n.start_kills;
  LogWarn("QEMU gone right after its start; starting the same CPU again",
          {{"node", n.key}, {"cpu", providers::DescribeCpu(n.cpu)}, {"why", why}});
  // Whatever is left of the domain (libvirt may still be tearing it down) goes first.
  hv_.Destroy(n.domain, [this, key = n.key](Status) {
    Node* n = FindNodeByKey(key);
    if (n == nullptr || n->state != NodeState::kStarting) return;
    RetryStart(*n, /*redefine=*/false);
  });
}

void NodeLife::RetryStart(Node& n, bool redefine) {
  std::string key = n.key;
  n.stop_timer = reactor_.After(kRetryPause, [this, key, redefine] {
    Node* n = FindNodeByKey(key);
    if (n == nullptr || n->state != NodeState::kStarting) return;
    if (redefine) return RedefineAndStart(*n);
    hv_.Start(n->domain, /*paused=*/true,
              [this, key, domain = n->domain](Status st) { AfterStartPaused(key, domain, st); });
  });
}

void NodeLife::CpuWorked(Node& n) {
  if (providers::IsContainerKind(*n.kind) || !cpu_choices_.Worked(*n.kind, n.cpu)) return;
  // Writes are rare (a rung learnt anew). Two in flight could land out of order and the older
  // snapshot would drop the newer entry: the cost is one refused start that relearns it.
  Status st =
      OnWorker<Status>([path = cpu_choices_.cache_path(),
                        json = cpu_choices_.CacheJson()] { return WriteCpuCache(path, json); },
                       [](Status st) {
                         if (!st.ok())
                           LogWarn("CPU choice cache not written", {{"error", st.ToString()}});
                       });
  if (!st.ok()) LogWarn("CPU choice cache not written", {{"error", st.ToString()}});
}

void NodeLife::StartWithCpu(Node& n) {
  // A container has no CPU model to choose.
  if (providers::IsContainerKind(*n.kind) || !cpu_choices_.Outdated(*n.kind, n.cpu)) {
    return hv_.Start(n.domain, /*paused=*/true, [this, key = n.key, domain = n.domain](Status st) {
      AfterStartPaused(key, domain, st);
    });
  }
  n.cpu = cpu_choices_.Initial(*n.kind);
  RedefineAndStart(n);
}

void NodeLife::RedefineAndStart(Node& n) {
  std::string key = n.key;
  // Redefine (the persistent definition keeps the CPU that works for later starts) under the
  // same UUID, then start paused again exactly as the first attempt did.
  hv_.GetXml(n.domain, /*live=*/false, [this, key](Result<std::string> xml) {
    Node* n = FindNodeByKey(key);
    if (n == nullptr || n->state != NodeState::kStarting) return;
    if (!xml.ok()) return FailStart(*n, "CPU change: " + xml.status().message());
    providers::DomainSpec ds = DomainSpecFor(*n, DataNics(n->metadata));
    ds.uuid = providers::DomainUuid(*xml);
    auto built = providers::BuildDomain(ds);
    if (!built.ok()) return FailStart(*n, "CPU change: " + built.status().message());
    n->metadata.cpu = n->cpu;
    hv_.Define(built->xml, [this, key](Status st) {
      Node* n = FindNodeByKey(key);
      if (n == nullptr || n->state != NodeState::kStarting) return;
      if (!st.ok()) return FailStart(*n, "redefine with another CPU: " + st.message());
      hv_.Start(n->domain, /*paused=*/true,
                [this, key, domain = n->domain](Status st) { AfterStartPaused(key, domain, st); });
    });
  });
}

}  // namespace labvirt::engine
