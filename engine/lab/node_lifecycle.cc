// NodeLife (engine/lab/node_life.h): admission, start paused, resume, readiness, stop, crashes
// and restarts. The console and NIC steps of a start are in node_console.cc, the CPU ladder's in
// node_cpu.cc.
#include <utility>

#include "engine/lab/node_life.h"
#include "reactor/base/fault_point.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {
namespace {

// The answer to a force-off that nothing waits for: a failure only deserves a line in the log.
providers::Hypervisor::Done LogIfForceOffFailed(std::string key) {
  return [key = std::move(key)](Status st) {
    if (!st.ok()) LogWarn("force off failed", {{"node", key}, {"error", st.ToString()}});
  };
}

}  // namespace

NodeLife::NodeLife(const EngineSeams& seams, LabStore& store, MetadataWriter& writer,
                   LinkBook& links, NodeConfig& config)
    : EnginePart(seams, store),
      writer_(writer),
      links_(links),
      config_(config),
      cpu_choices_(options_.state_dir) {
  providers::HostInfo host = providers::ProbeLocalHost();
  host.kvm = host.kvm && !options_.force_tcg;
  // Before the loop runs: the cache file's few hundred bytes are read here, once.
  cpu_choices_.SetHost(host, ReadCpuCache(cpu_choices_.cache_path()));
}

void NodeLife::RequestStart(Node& n) {
  n.restart_timer.Cancel();
  n.start_requested = reactor_.clock().Now();
  n.cpu_attempts.clear();
  n.start_kills = 0;
  SetState(n, NodeState::kQueued, "waiting for a boot slot");
  std::string key = n.key;
  admission_.Request(key, n.kind->admission_weight, n.kind->memory_mb, [this, key] {
    // Admission may call back synchronously; start from a clean stack.
    Defer([this, key] { BeginStart(key); });
  });
  JsonWriter w;
  w.BeginObject().Key("queue").BeginArray();
  for (const auto& k : admission_.Queue()) w.String(k);
  w.EndArray().Key("in_use").Double(admission_.in_use()).EndObject();
  Emit("admission", &n, w.Take());
}

void NodeLife::BeginStart(const std::string& key) {
  Node* n = FindNodeByKey(key);
  // Not wanted any more (desired_running false) covers a lab being destroyed: its nodes' slots are
  // released one by one, which admits the lab's next queued node while its own destruction is
  // already under way; started here, its VM would outlive the lab (tools/density saw 15 VMs of a
  // destroyed 200-node lab keep running).
  if (n == nullptr || n->state != NodeState::kQueued || !n->desired_running) {
    admission_.Release(key);
    return;
  }
  SetState(*n, NodeState::kStarting, "starting paused");
  // A failed boot left its VM up for its console: that one goes first, then a fresh boot.
  if (n->vm_left_up) return DestroyThenStart(*n);
  // Paused first: QEMU drops console output while nobody holds the PTY, so the VM runs only
  // once the console reader is attached.
  StartWithCpu(*n);
}

void NodeLife::AfterStartPaused(const std::string& key, const std::string& domain, Status st) {
  Node* n = FindNodeByKey(key);
  if (n == nullptr) return DestroyedDuringStart(key, domain, st);
  if (n->state == NodeState::kStopping || n->state == NodeState::kStopped) {
    return StoppedDuringStart(*n, st);
  }
  if (n->state != NodeState::kStarting) return;
  // Still starting but no longer wanted: DestroyNode (a stop would have made it stopping). Its
  // undefine waits in libvirtd for this start's job, so this answer can come first.
  if (!n->desired_running) return DestroyedDuringStart(key, domain, st);
  if (st.code() == StatusCode::kUnavailable) return StartStepFailed(*n, st);
  if (!st.ok()) return StartRefused(*n, st.message());
  FaultPoint("start_paused");
  n->adopting = false;  // this run is ours
  // QEMU took this CPU: later nodes of the same first choice start on it at once.
  CpuWorked(*n);
  FetchConsole(key, 0);
}

void NodeLife::DestroyedDuringStart(const std::string& key, const std::string& domain,
                                    const Status& st) {
  // Destroyed (its lab, or a re-deploy without it) while this start was in flight: the destroy's
  // force-off found the domain off, and its undefine removes the definition (at once, or — when
  // libvirtd ran it after this start's job — by making the running domain transient). Either way
  // the VM this start made belongs to nobody: off, which removes it. Without this, a start that
  // answered before the undefine left a transient VM running behind a destroyed lab (found by the
  // fault suite: killed mid-destroy, the restarted labvirtd restarted the node as the same
  // lab.destroy came in again).
  if (!st.ok()) return;
  LogInfo("node destroyed while its start was in flight; removing the new VM",
          {{"node", key}, {"domain", domain}});
  hv_.Destroy(domain, LogIfForceOffFailed(key));
}

void NodeLife::StoppedDuringStart(Node& n, const Status& st) {
  if (!st.ok()) {
    // No VM came of it, and the stop's force-off found nothing to turn off: the node is off.
    if (n.state == NodeState::kStopping) OnStopped(n, "its start did not complete");
    return;
  }
  // The stop (or a reconcile pass that listed the domain before QEMU ran) came first, so this
  // start made a VM nobody wants. Paused, it never ran the guest: off at once; its stopped event
  // finishes the stop. Without this the VM stayed up behind a node that says stopped.
  LogInfo("node stopped while its start was in flight; turning the new VM off", {{"node", n.key}});
  hv_.Destroy(n.domain, LogIfForceOffFailed(n.key));
}

void NodeLife::Resume(const std::string& key) {
  Node* n = FindNodeByKey(key);
  hv_.Resume(n->domain, [this, key](Status st) {
    Node* n = FindNodeByKey(key);
    if (n == nullptr || n->state != NodeState::kStarting) return;
    // kFailedPrecondition: the domain was not paused (adopted running at reconcile).
    if (!st.ok() && st.code() != StatusCode::kFailedPrecondition) return StartStepFailed(*n, st);
    FaultPoint("resumed");
    // Adopted not ready: its guest may have printed the readiness text while labvirtd was down
    // (killed between `ready` and the metadata saying so), which only the log still holds.
    const bool adopted = std::exchange(n->adopting, false);
    if (adopted && !n->adopted_ready && !n->run_id.empty() &&
        n->metadata.boot.domain_id == n->run_id) {
      return CatchUpThenWatch(key);
    }
    WatchReadiness(key);
  });
}

void NodeLife::WatchReadiness(const std::string& key) {
  Node* n = FindNodeByKey(key);
  if (n == nullptr || n->state != NodeState::kStarting) return;
  SetState(*n, NodeState::kBooting, "waiting for the readiness text");
  // libvirt's and QEMU's start is over: under --boot-slot booting the next start may begin.
  admission_.Booting(key);
  std::string early = std::move(n->early_console);
  n->early_console.clear();
  if (n->adopted_ready) {
    n->adopted_ready = false;
    admission_.Release(key);
    SetState(*n, NodeState::kReady, "was ready before labvirtd restarted");
    return;
  }
  bool restart_attempt = n->tracker && n->readiness.state == ReadinessState::kRestarting;
  if (!n->tracker) {
    auto compiled = readiness_patterns_.Get(n->kind->readiness, n->kind->name);
    if (!compiled.ok()) return FailStart(*n, compiled.status().message());
    n->tracker = std::make_unique<ReadinessTracker>(
        reactor_, *compiled, [this, key](const ReadinessEvent& ev) { OnReadiness(key, ev); });
  }
  if (restart_attempt) {
    n->tracker->Restarted();
  } else {
    n->tracker->Start();
  }
  // Until its first event the attempt is visible only here: node.get would show the last
  // attempt's "restarting" through the whole retry.
  if (n->tracker->result().state == ReadinessState::kBooting) n->readiness = n->tracker->result();
  if (!early.empty()) n->tracker->OnConsole(early);
}

void NodeLife::OnReadiness(const std::string& key, const ReadinessEvent& ev) {
  Node* n = FindNodeByKey(key);
  if (n == nullptr) return;
  n->readiness = ev.result;
  Emit(std::string("node.readiness.") + std::string(ReadinessEventName(ev.type)), n,
       ev.result.ToJson());
  switch (ev.type) {
    case ReadinessEvent::Type::kProgress:
      return;
    case ReadinessEvent::Type::kReady: {
      admission_.Release(key);
      std::chrono::duration<double> boot = reactor_.clock().Now() - n->start_requested;
      store_.boot_seconds.Observe(n->kind->name, boot.count());
      store_.readiness_seconds.Observe(n->kind->name,
                                       static_cast<double>(ev.result.elapsed_ms) / 1000);
      if (n->state == NodeState::kBooting && NodeConfig::NeedsPaste(*n)) {
        PasteThenReady(*n, ev.result.pattern);
      } else if (n->state == NodeState::kBooting) {
        SetState(*n, NodeState::kReady, "matched: " + ev.result.pattern);
        FaultPoint("ready");  // before the metadata says so
      }
      writer_.PersistMetadata(*n);
      return;
    }
    case ReadinessEvent::Type::kFailed:
      admission_.Release(key);
      // The VM stays up so its console can be inspected; the node is failed.
      n->vm_left_up = true;
      SetState(*n, NodeState::kFailed, "boot failed: " + ev.result.reason);
      writer_.PersistMetadata(*n);
      return;
    case ReadinessEvent::Type::kRestartRequested:
      // From a clean stack: the tracker is inside its callback.
      Defer([this, key] { RetryBoot(key); });
      return;
  }
}

void NodeLife::PasteThenReady(Node& n, const std::string& matched) {
  n.reason = "matched: " + matched + "; typing the startup config";
  const std::string key = n.key;
  config_.Paste(n, [this, key, matched](Status st) {
    Node* n = FindNodeByKey(key);
    if (n == nullptr || n->state != NodeState::kBooting) return;  // stopped meanwhile
    if (st.ok()) {
      SetState(*n, NodeState::kReady, "matched: " + matched + "; startup config applied");
    } else {
      n->vm_left_up = true;  // as a failed boot: its console shows what the device answered
      SetState(*n, NodeState::kFailed, "startup config: " + st.message());
    }
    writer_.PersistMetadata(*n);
  });
}

void NodeLife::RetryBoot(const std::string& key) {
  Node* n = FindNodeByKey(key);
  if (n == nullptr || n->state != NodeState::kBooting) return;  // stopped or crashed meanwhile
  // The retry takes its weight again at once, never queued behind other nodes (it is part of
  // the boot it was admitted for; docs/node-states.md): no Release here nor in OnStopped.
  admission_.Readmit(key, n->kind->admission_weight, n->kind->memory_mb);
  SetState(*n, NodeState::kStarting,
           "restarting for boot attempt " + std::to_string(n->readiness.attempt + 1) + " (" +
               n->readiness.reason + ")");
  DestroyThenStart(*n);
}

void NodeLife::DestroyThenStart(Node& n) {
  n.start_when_stopped = true;
  std::string key = n.key;
  hv_.Destroy(n.domain, [this, key](Status st) {
    Node* n = FindNodeByKey(key);
    if (n == nullptr || !n->start_when_stopped || n->state != NodeState::kStarting) return;
    if (!st.ok()) {
      n->start_when_stopped = false;
      return FailStart(*n, "destroy before the start: " + st.message());
    }
    // The start follows from the stopped event (OnStopped), not from this answer: libvirt may
    // deliver that event after the answer, and handled then it would close the new VM's console
    // and unplug its ports.
  });
}

void NodeLife::FailStart(Node& n, const std::string& reason) {
  LogWarn("node start failed", {{"lab", n.lab}, {"node", n.name}, {"reason", reason}});
  admission_.Release(n.key);
  SetState(n, NodeState::kFailed, reason);
  // Leave nothing half-started: a paused VM without console or ports is of no use.
  hv_.Destroy(n.domain, [](Status) {});
}

void NodeLife::StartStepFailed(Node& n, const Status& st) {
  if (st.code() != StatusCode::kUnavailable) return FailStart(n, st.message());
  n.start_after_reconnect = true;
  FailStart(n, st.message() + " (libvirtd unavailable: started again once labvirtd reconnects)");
}

void NodeLife::StartAfterReconnect(Node& n, bool vm_active) {
  n.start_after_reconnect = false;
  if (n.state != NodeState::kFailed || !n.desired_running) return;
  // FailStart's destroy could not reach libvirtd: a VM left paused goes first.
  n.vm_left_up = vm_active;
  RequestStart(n);
}

void NodeLife::BeginStop(Node& n, bool force, std::chrono::seconds timeout) {
  SetState(n, NodeState::kStopping, force ? "forced off" : "ACPI shutdown requested");
  config_.Cancel(n.key, "node " + n.name + ": it is stopping");
  if (n.tracker) n.tracker->Stop();
  std::string key = n.key;
  auto force_off = [this, key] {
    Node* n = FindNodeByKey(key);
    if (n == nullptr || n->state != NodeState::kStopping) return;
    n->reason = "forced off after the shutdown timeout";
    hv_.Destroy(n->domain, LogIfForceOffFailed(key));
  };
  if (force) return force_off();
  hv_.Shutdown(n.domain, [force_off](Status st) {
    FaultPoint("stopping");
    if (!st.ok()) force_off();
  });
  n.stop_timer = reactor_.After(timeout, force_off);
}

void NodeLife::OnDomainEvent(const providers::DomainEventInfo& ev) {
  Node* n = FindNodeByDomain(ev.name);
  if (n == nullptr) {
    // Not ours (nor being defined by a deploy in flight): its MACs must be avoided from the next
    // deploy on.
    if (ev.event == providers::DomainEvent::kDefined && !BeingDeployed(ev.name))
      ++store_.foreign_changes;
    return;
  }
  if (ev.event != providers::DomainEvent::kStopped) return;
  OnStopped(*n, ev.detail);
}

void NodeLife::OnStopped(Node& n, const std::string& detail) {
  if (n.state == NodeState::kStarting && !n.start_when_stopped) {
    // A start attempt in flight answers for itself (a dead QEMU fails its next step); this event
    // is an earlier attempt's (a refused start), and acting on it would free the boot slot and
    // close the new attempt's console.
    LogInfo("stopped event during a start; left to the start",
            {{"node", n.key}, {"detail", detail}});
    return;
  }
  n.stop_timer.Cancel();
  n.unplug_pending.clear();  // a device the guest held is gone with the QEMU process
  ReleaseRuntime(n);
  n.vm_left_up = false;
  bool start = n.start_when_stopped && n.state == NodeState::kStarting;
  n.start_when_stopped = false;
  if (start) return StartWithCpu(n);  // DestroyThenStart's VM is off; the slot stays held
  admission_.Release(n.key);
  if (n.state == NodeState::kStopping || !n.desired_running) {
    // A forced stop says so ("forced off…"); otherwise libvirt's reason (shutdown, destroyed…).
    bool forced = n.state == NodeState::kStopping && n.reason.rfind("forced off", 0) == 0;
    if (n.state != NodeState::kStopped)
      SetState(n, NodeState::kStopped, forced ? n.reason : "stopped (" + detail + ")");
    writer_.PersistMetadata(n);
    if (n.restart_pending) {  // node.restart: up again, with the same disk
      n.restart_pending = false;
      RequestStart(n);
      for (auto& r : n.restart_waiters) n.waiters.push_back(std::move(r));
      n.restart_waiters.clear();
    }
    return;
  }
  if (n.state == NodeState::kStarting || n.state == NodeState::kQueued ||
      n.state == NodeState::kFailed || n.state == NodeState::kStopped) {
    return;  // our own destroy during a restart or a failed start
  }
  bool was_stable = n.state == NodeState::kReady &&
                    reactor_.clock().Now() - n.ready_since >= options_.restart_policy.stable_after;
  if (was_stable) n.crash_restarts = 0;
  SetState(n, NodeState::kCrashed, "stopped unexpectedly (" + detail + ")");
  ScheduleRestart(n, detail);
}

void NodeLife::ScheduleRestart(Node& n, const std::string& why) {
  auto delay = options_.restart_policy.Delay(++n.crash_restarts);
  if (!delay) {
    SetState(n, NodeState::kFailed,
             "crashed " + std::to_string(n.crash_restarts - 1) +
                 " times; restart policy exhausted (" + why + ")");
    return;
  }
  std::string key = n.key;
  n.restart_timer = reactor_.After(*delay, [this, key] {
    Node* n = FindNodeByKey(key);
    if (n != nullptr && n->state == NodeState::kCrashed && n->desired_running) RequestStart(*n);
  });
}

void NodeLife::ReleaseRuntime(Node& n) {
  config_.Cancel(n.key, "node " + n.name + ": the VM stopped");
  if (n.hub) n.hub->ClosePty();
  plumber_.Unplug(n.lab, n.name, [](Status st) {
    if (!st.ok()) LogWarn("unplug failed", {{"error", st.ToString()}});
  });
}

void NodeLife::StartNode(const std::string& lab, const std::string& node, bool wait, Reply reply) {
  Node* n = FindNode(lab, node);
  if (n == nullptr)
    return reply(NotFound("no node named '" + node + "' in " + lab).WithField("node"));
  n->desired_running = true;
  n->crash_restarts = 0;
  if (IsActive(n->state) || n->state == NodeState::kQueued) {
    if (n->state == NodeState::kStopping) {
      return reply(FailedPrecondition("wait until it stopped")
                       .WithField("node")
                       .WithSummary("node is stopping"));
    }
    return reply(NodeJson(*n));
  }
  RequestStart(*n);
  if (wait) {
    n->waiters.push_back(std::move(reply));
  } else {
    reply(NodeJson(*n));
  }
}

void NodeLife::StopNode(const std::string& lab, const std::string& node, bool force, int timeout_s,
                        bool wait, Reply reply) {
  Node* n = FindNode(lab, node);
  if (n == nullptr)
    return reply(NotFound("no node named '" + node + "' in " + lab).WithField("node"));
  n->desired_running = false;
  n->restart_pending = false;
  n->restart_timer.Cancel();
  if (n->state == NodeState::kQueued) {
    admission_.Release(n->key);
    SetState(*n, NodeState::kStopped, "stop requested while queued");
    return reply(NodeJson(*n));
  }
  if (n->state == NodeState::kFailed && n->vm_left_up) {
    // The failed boot's VM, kept for its console, is no working guest: off at once. Its stopped
    // event makes the node stopped and answers a waiting caller.
    if (wait) n->waiters.push_back(std::move(reply));
    std::string key = n->key;
    hv_.Destroy(n->domain, [this, key](Status st) {
      if (st.ok()) return;
      LogWarn("force off failed", {{"node", key}, {"error", st.ToString()}});
      if (Node* n = FindNodeByKey(key)) NotifyWaiters(*n);
    });
    if (!wait) reply(NodeJson(*n));
    return;
  }
  if (!IsActive(n->state)) return reply(NodeJson(*n));
  // A starting node's guest has not run (it is paused, or its start is still in flight): there
  // is nothing to shut down gracefully nor a running config to save, and ACPI would only wait
  // out the timeout. Off at once; a start still in flight is turned off when it answers. Not a
  // node being adopted: its guest runs (a restarted labvirtd is reattaching its console).
  if (n->state == NodeState::kStarting && !n->adopting) force = true;
  auto timeout = timeout_s > 0 ? std::chrono::seconds(timeout_s) : n->kind->shutdown_timeout;
  if (wait) n->waiters.push_back(std::move(reply));
  // The desired state is saved before the guest is asked to stop: a labvirtd killed once the
  // stop is under way must not start the node again when it comes back (seen in the fault
  // suite's `stopping` case under TCG, where the guest was off before the new labvirtd looked).
  std::string key = n->key;
  writer_.PersistMetadata(*n, [this, key, force, timeout] {
    Node* n = FindNodeByKey(key);
    if (n == nullptr || !IsActive(n->state) || n->state == NodeState::kStopping ||
        n->desired_running) {
      return;
    }
    if (force) return BeginStop(*n, true, timeout);
    // save_on_stop: the running config first (a forced stop is "off now": no save).
    config_.SaveBeforeStop(*n, [this, key, timeout] {
      Node* n = FindNodeByKey(key);
      if (n != nullptr && IsActive(n->state) && n->state != NodeState::kStopping &&
          !n->desired_running) {
        BeginStop(*n, false, timeout);
      }
    });
  });
  if (!wait) reply(NodeJson(*n));
}

providers::DomainSpec NodeLife::DomainSpecFor(const Node& n, int nics) const {
  providers::DomainSpec ds;
  ds.instance = options_.instance;
  ds.lab = n.lab;
  ds.node = n.name;
  ds.kind_name = n.kind_name;
  ds.kind = *n.kind;
  ds.tag = n.metadata.tag;
  ds.domain_type = cpu_choices_.host().kvm ? "kvm" : "qemu";
  ds.image = n.image;
  ds.overlay_path = n.overlay;
  ds.state_dir = options_.state_dir;
  ds.nics = nics;
  for (const auto& nic : n.metadata.nics) {
    if (nic.role == providers::NicRole::kData && !nic.link.empty()) {
      ds.links.push_back({nic.interface, nic.link});
    }
    if (!nic.mac.empty()) ds.fixed_macs[NicKey(nic)] = nic.mac;
    if (nic.link_down || !nic.impairment.empty()) {
      ds.nic_link_state[NicKey(nic)] = {nic.link_down, nic.impairment};
    }
  }
  ds.desired_state = n.desired_running ? "running" : "stopped";
  ds.cpu = n.cpu;
  ds.emulator = options_.emulator;
  ds.overrides_json = n.metadata.overrides_json;
  // Every (re)definition keeps the node's day-0 medium attached.
  ds.config_medium = n.config_medium;
  ds.config_bytes = n.config_bytes;
  ds.config_applied = n.metadata.config_applied;
  ds.save_on_stop = n.metadata.save_on_stop;
  ds.mgmt = n.metadata.mgmt;
  ds.binds = n.metadata.binds;
  return ds;
}

void NodeLife::AdoptRunning(Node& n, const std::string& reason) {
  // Not through SetState: an adopted node skips the queue (it is already running).
  NodeState old = n.state;
  n.state = NodeState::kStarting;
  n.reason = reason;
  JsonWriter w;
  w.BeginObject().Key("state").String(NodeStateName(n.state));
  w.Key("previous").String(NodeStateName(old)).Key("reason").String(reason).EndObject();
  Emit("node.state", &n, w.Take());
  n.adopted_ready = n.readiness.state == ReadinessState::kReady;
  n.adopting = true;
  FetchConsole(n.key, 0);
}

}  // namespace labvirt::engine
