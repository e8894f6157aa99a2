// NodeLife: one node's life. Admission (a boot slot), start paused on the CPU this host takes (the
// CPU ladder, providers/cpu_policy.h), the console attached, the NICs plugged and their links
// re-applied, resume, the readiness watch and its boot retries, stop (ACPI, forced after the
// timeout), crashes and the restart policy. Every step is a callback on the loop that looks its
// node up by key again, because the node may have been destroyed while a worker was busy.
// A console-paste kind's startup config is typed (NodeConfig) after the readiness text and
// before `ready`. States and transitions: docs/node-states.md.
#ifndef LABVIRT_ENGINE_LAB_NODE_LIFE_H_
#define LABVIRT_ENGINE_LAB_NODE_LIFE_H_

#include <chrono>
#include <functional>
#include <string>

#include "engine/lab/cpu_choices.h"
#include "engine/lab/engine_part.h"
#include "engine/lab/link_book.h"
#include "engine/lab/metadata_writer.h"
#include "engine/lab/node_config.h"
#include "engine/readiness/readiness_pattern_cache.h"
#include "providers/host_probe.h"

namespace labvirt::engine {

class NodeLife : public EnginePart {
 public:
  NodeLife(const EngineSeams& seams, LabStore& store, MetadataWriter& writer, LinkBook& links,
           NodeConfig& config);

  // ---- Verbs ----
  void StartNode(const std::string& lab, const std::string& node, bool wait, Reply reply);
  void StopNode(const std::string& lab, const std::string& node, bool force, int timeout_s,
                bool wait, Reply reply);
  // Lifecycle events from the hypervisor.
  void OnDomainEvent(const providers::DomainEventInfo& event);

  // ---- Host and CPU ----
  // Probes the host (KVM or TCG, nested, CPU vendor, libvirt's CPU capabilities), logs it in one
  // line and keeps it for the CPU choices of new nodes; `done` runs on the loop once known (even
  // when libvirt's part failed: the local facts stand alone).
  void ProbeHost(std::function<void()> done);
  CpuChoices& cpu_choices() { return cpu_choices_; }
  const CpuChoices& cpu_choices() const { return cpu_choices_; }
  // The spec that defines `n`'s domain with `nics` data NICs (-1: the kind's default).
  providers::DomainSpec DomainSpecFor(const Node& n, int nics) const;

  // ---- Steps other parts ask for ----
  // Queues the node for a boot slot; it starts once admitted.
  void RequestStart(Node& n);
  void BeginStop(Node& n, bool force, std::chrono::seconds timeout);
  // The node's VM was found stopped (event, reconcile): states, slot, console and ports follow.
  void OnStopped(Node& n, const std::string& detail);
  // A node found running (reconcile, node.reconcile): console and ports attached again.
  void AdoptRunning(Node& n, const std::string& reason);
  // After a reconnect: a node whose start failed while libvirtd was gone starts again (its VM,
  // still up when `vm_active`, is destroyed first).
  void StartAfterReconnect(Node& n, bool vm_active);

 private:
  void BeginStart(const std::string& key);
  // `domain`: the node's domain the start was for (the node may be gone by the answer).
  void AfterStartPaused(const std::string& key, const std::string& domain, Status st);
  // A start answered `st` after its node was stopped: the VM it made is turned off; a start
  // that failed leaves a stopping node stopped.
  void StoppedDuringStart(Node& n, const Status& st);
  // A start answered `st` for node `key` that is being destroyed, or is gone: the VM it made (if
  // any) is turned off, which removes it once the destroy's undefine has run (or has made it a
  // transient domain).
  void DestroyedDuringStart(const std::string& key, const std::string& domain, const Status& st);
  // Reads the running domain's live XML (again while it has no PTY yet) and attaches.
  void FetchConsole(const std::string& key, int attempt);
  void AttachConsole(const std::string& key, const std::string& live_xml);
  // A start of ours: records where this boot's console log begins (metadata.boot, written before
  // the VM runs), then PlugPorts. An adoption keeps the record it found.
  void MarkBootThenPlug(const std::string& key);
  // The node's NICs on the bridge and their link states, then Resume.
  void PlugPorts(const std::string& key);
  void Resume(const std::string& key);
  // booting: the readiness watch begins with the console bytes read since the resume.
  void WatchReadiness(const std::string& key);
  // An adopted node not known ready whose boot mark is this run's: what the boot printed while
  // labvirtd was down (its readiness text, maybe) is read from the console log first, then
  // WatchReadiness.
  void CatchUpThenWatch(const std::string& key);
  void OnReadiness(const std::string& key, const ReadinessEvent& ev);
  // A boot retry the readiness tracker asked for: booting -> starting, then DestroyThenStart.
  void RetryBoot(const std::string& key);
  // For a starting node whose VM runs (a boot retry; a failed boot's VM left up): destroys it;
  // its stopped event then starts it again (StartWithCpu), all with the admission slot held.
  void DestroyThenStart(Node& n);
  void FailStart(Node& n, const std::string& reason);
  // A start step's libvirt call failed with `st`: when libvirtd is gone (Unavailable) the node
  // fails saying so and is started again once labvirt has reconnected (Reconciler); otherwise
  // FailStart with its message.
  void StartStepFailed(Node& n, const Status& st);
  void ScheduleRestart(Node& n, const std::string& why);
  void ReleaseRuntime(Node& n);

  // CPU (node_cpu.cc).
  // A start refused with `error`: redefines the domain with the next CPU choice and starts it
  // again when the error is the CPU's and the ladder goes on, else FailStart.
  void StartRefused(Node& n, const std::string& error);
  // The paused start succeeded but its QEMU is gone before the console was attached (its PTY
  // vanished): libvirt 9.0 shooting a retry with a refused predecessor's late monitor EOF (see
  // providers::KilledByLibvirtDuringStart). Starts the same CPU choice again, a bounded number
  // of times, else FailStart with `why`.
  void StartVanished(Node& n, const std::string& why);
  // The host's local facts and the CPU cache (read on the worker pool by ProbeHost), completed
  // with libvirt's capabilities.
  void QueryHostCapabilities(providers::HostInfo local, std::string cache_json,
                             std::function<void()> done);
  // The node started on its CPU choice: remembered, and the cache file rewritten off the loop
  // when that is new.
  void CpuWorked(Node& n);
  // Starts the node paused, first moving it to the CPU this host has learnt works when it is
  // still on its kind's first choice.
  void StartWithCpu(Node& n);
  // Redefines the node's domain with its current CPU choice (same UUID) and starts it paused.
  void RedefineAndStart(Node& n);
  // After a short pause (libvirt finishing with the refused attempt), starts the node paused
  // again: redefined first when its CPU choice changed.
  void RetryStart(Node& n, bool redefine);

  // The readiness text matched on a node whose startup config is still to be typed: the node is
  // ready once it is (or failed, naming the refused line).
  void PasteThenReady(Node& n, const std::string& matched);

  MetadataWriter& writer_;
  LinkBook& links_;
  NodeConfig& config_;
  CpuChoices cpu_choices_;
  // Readiness databases shared by the nodes whose specs are equal (one per kind, in practice).
  ReadinessPatternCache readiness_patterns_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_NODE_LIFE_H_
