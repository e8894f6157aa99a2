// LabEngine: labs, nodes and links, and every node's life: define, admit, start paused, attach
// the console, plug the NICs, resume, watch readiness, stop, crash handling, destroy.
//
// All state lives on the reactor thread; every libvirt call goes through the Hypervisor seam
// (worker pool), every OVS change through the NetworkPlumber seam. State that must survive a
// labvirtd restart is written into the domain's metadata, and Reconcile() rebuilds the labs from
// it. Nothing polls: node states move on libvirt lifecycle events and console readiness.
//
// What it does not own: the reactor, the hypervisor, the plumber and the catalog, which must
// outlive it. Callbacks given to its verbs run on the loop thread, once. Lifetime, one rule
// (engine/lab/lifeline.h): every callback it hands to the hypervisor, the plumber, the worker
// pool or the reactor is bound to its Lifeline, and its timers are OpHandles its nodes own, so
// it may be destroyed on the loop thread at any time; what was in flight then is dropped.
#ifndef LABVIRT_ENGINE_LAB_LAB_ENGINE_H_
#define LABVIRT_ENGINE_LAB_LAB_ENGINE_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/catalog/catalog.h"
#include "engine/console/console_hub.h"
#include "engine/lab/admission.h"
#include "engine/lab/cpu_choices.h"
#include "engine/lab/lab_spec.h"
#include "engine/lab/lifeline.h"
#include "engine/lab/metrics.h"
#include "engine/lab/network_plumber.h"
#include "engine/lab/node_state.h"
#include "engine/lab/restart_policy.h"
#include "engine/lab/wrapped_hypervisor.h"
#include "engine/readiness/readiness_patterns.h"
#include "engine/readiness/readiness_tracker.h"
#include "providers/domain_xml.h"
#include "providers/hypervisor.h"
#include "reactor/reactor.h"
#include "reactor/worker_pool.h"

namespace labvirt::engine {

struct LinkRecord;  // lab_engine_internal.h

struct EngineOptions {
  // This daemon's labvirt instance (docs/instances.md): written into every domain it defines; at
  // reconcile and cleanup it adopts and cleans only domains and ports of this instance.
  std::string instance = providers::kDefaultInstance;
  std::string image_root = "/var/lib/labvirt/images";
  std::string state_dir = "/var/lib/labvirt";
  // Sum of admission weights that may boot at once (0: one per host core).
  double boot_budget = 0;
  RestartPolicy restart_policy;
  ConsoleHubOptions console;
  // The QEMU binary every domain names (<emulator>); empty: libvirt's default. For tests that
  // put a wrapper in front of QEMU (e.g. one that refuses some CPUs as a nested host does).
  std::string emulator;
  // Define every domain for TCG (type 'qemu') even where KVM is usable (labvirtd --accel tcg).
  bool force_tcg = false;
};

// A change worth telling subscribers about.
struct EngineEvent {
  std::string type;  // "node.state", "node.readiness", "lab.deployed", "lab.destroyed", …
  std::string lab;
  std::string node;
  std::string data_json;  // a JSON object
};

class LabEngine {
 public:
  using Reply = std::function<void(Result<std::string>)>;
  using EventSink = std::function<void(const EngineEvent&)>;

  LabEngine(reactor::Reactor& reactor, reactor::WorkerPool& pool, providers::Hypervisor& hv,
            NetworkPlumber& plumber, const Catalog& catalog, EngineOptions options);
  ~LabEngine();
  LabEngine(const LabEngine&) = delete;
  LabEngine& operator=(const LabEngine&) = delete;

  void SetEventSink(EventSink sink) { event_sink_ = std::move(sink); }

  // ---- Labs ----
  // Validates the whole lab, then defines every node and starts those that should run. Replies
  // when the lab is defined (`wait` false) or when every node is ready or failed (`wait` true).
  // Deploying an existing lab converges it: new nodes are added, missing ones removed.
  void Deploy(LabSpec spec, bool wait, Reply reply);
  // Destroys every node (VM, definition, overlay, console log, ports). Idempotent.
  void Destroy(const std::string& lab, Reply reply);
  Result<std::string> ListLabs() const;
  Result<std::string> GetLab(const std::string& lab) const;

  // ---- Nodes ----
  Result<std::string> GetNode(const std::string& lab, const std::string& node) const;
  void StartNode(const std::string& lab, const std::string& node, bool wait, Reply reply);
  void StopNode(const std::string& lab, const std::string& node, bool force, int timeout_s,
                bool wait, Reply reply);
  // Stops the node (ACPI, forced after its timeout) and starts it again; its disk is kept.
  // A node that is not running is simply started. `wait`: reply once it is ready or failed.
  void RestartNode(const std::string& lab, const std::string& node, bool wait, Reply reply);
  // Recreates the node's overlay disk from its base image (a factory reset). Refused while the
  // node runs or is queued: stop it first.
  void WipeNode(const std::string& lab, const std::string& node, Reply reply);
  // Reads the node's domain state from libvirt once and converges: adopts a domain found running,
  // notices one found off, starts or stops it to match the desired state, reattaches a console
  // that was lost. Replies with the node and the list of actions taken.
  void ReconcileNode(const std::string& lab, const std::string& node, Reply reply);
  // Adds the node's next data NIC (live when it runs, and in its definition), up to the kind's
  // maximum. The new NIC is unlinked, on an isolated tag.
  void AddNic(const std::string& lab, const std::string& node, Reply reply);
  // Removes the node's last data NIC (the last, so the guest's other interfaces keep their
  // names). Refused while that NIC is in a link.
  void RemoveNic(const std::string& lab, const std::string& node, Reply reply);

  // ---- Links (all live: no VM restarts) ----
  // Links two unlinked data interfaces ("node:interface"; "ethN" means data NIC N-1) of a lab.
  // Interfaces beyond a node's NICs are refused (add NICs first with node.nic.add).
  void CreateLink(const std::string& lab, const std::string& a, const std::string& b, Reply reply);
  // Removes a link; both ends go back to isolated tags.
  void DeleteLink(const std::string& lab, const std::string& link, Reply reply);
  // Carrier up (both ends share the link's tag) or down (each end isolated).
  void SetLinkState(const std::string& lab, const std::string& link, bool up, Reply reply);

  // ---- Host ----
  // Probes the host (KVM or TCG, nested, CPU vendor, libvirt's CPU capabilities), logs it in one
  // line and keeps it for the CPU choices of new nodes; `done` runs on the loop once known (even
  // when libvirt's part failed: the local facts stand alone).
  void ProbeHost(std::function<void()> done);
  // {"host": …, "cached": …} for host.info (engine/lab/cpu_choices.h).
  std::string CpuJson() const { return cpu_choices_.Json(); }

  // Finds what labvirt owns but no node claims: OVS ports, overlay disks, console logs, and
  // labvirt domains it could not adopt. Removes the first three unless `dry_run`; domains are
  // only reported (their metadata is unreadable, so their ownership is not certain).
  void Cleanup(bool dry_run, Reply reply);

  // Finds a node's console hub; nullptr if the node is unknown or has no console yet.
  ConsoleHub* Console(const std::string& lab, const std::string& node);
  // The node's persistent console log (virtlogd's file).
  std::string ConsoleLogPath(const std::string& lab, const std::string& node) const;

  // Appends the engine's Prometheus metrics: nodes by state, boot and readiness histograms per
  // kind, console bytes and viewers per node, the admission queue.
  void RenderMetrics(std::string& out) const;

  // Rebuilds labs from the hypervisor's domains and their labvirt metadata (start-up, reconnect).
  // Deploys asked for while a pass runs wait for it.
  void Reconcile(std::function<void(Status)> done);
  // True once a reconcile pass has completed (host.info's `healthy` needs it).
  bool reconciled() const { return reconciled_once_; }
  // Lifecycle events from the hypervisor.
  void OnDomainEvent(const providers::DomainEventInfo& event);

 private:
  struct Node;
  struct Lab;
  struct DeployJob;

  Node* FindNode(const std::string& lab, const std::string& node) const;
  Node* FindNodeByDomain(const std::string& domain) const;
  // Whether a deploy in flight is defining `domain` (its nodes are not in a lab yet).
  bool BeingDeployed(const std::string& domain) const;
  Node* FindNodeByKey(const std::string& key) const;  // "lab/node"
  LinkRecord* FindLink(const std::string& lab, const std::string& link) const;
  // The spec that defines `n`'s domain with `nics` data NICs (-1: the kind's default).
  providers::DomainSpec DomainSpecFor(const Node& n, int nics) const;
  // MACs of every node labvirt knows and of every other domain as of the last walk.
  std::set<std::string> MacsInUse() const;
  // The node whose NICs `change` ("add NICs") alters, or nullptr after replying why not (unknown
  // node, or one starting or stopping).
  Node* NodeForNicChange(const std::string& lab, const std::string& node, const std::string& change,
                         const Reply& reply);
  // Records `link` (empty: none) and whether its carrier is down on both ends' NICs and persists
  // both nodes' metadata; `then` runs once both writes are done, so a reply sent from it holds
  // across a labvirtd crash.
  void RecordLinkOnEnds(const std::string& lab, const LinkRecord& rec, const std::string& link,
                        bool down, std::function<void()> then);
  void AdoptRunning(Node& n, const std::string& reason);
  // Rejoins a link after one end was re-plugged, and reapplies a down carrier.
  void ApplyLinkStates(Node& n, NetworkPlumber::Done done);
  // Records `rec`'s id on both NICs and, when both ends are on the bridge, joins them.
  void WireLink(const std::string& lab, const LinkRecord& rec, NetworkPlumber::Done done);
  // Clears the link id from both NICs and puts the ends on isolated tags.
  void UnwireLink(const std::string& lab, const LinkRecord& rec, NetworkPlumber::Done done);
  std::string TapOf(const std::string& lab, const std::string& node,
                    const std::string& interface) const;
  bool OnBridge(const std::string& tap) const;
  std::string NodeJson(const Node& n) const;
  void SetState(Node& n, NodeState state, const std::string& reason);
  void Emit(const std::string& type, const Node* n, std::string data_json);
  // An event about a lab (or one node of it by name) rather than a node record.
  void EmitFor(const std::string& type, const std::string& lab, const std::string& node,
               std::string data_json);

  // Deploy steps (lab_deploy.cc).
  void DeployResolve(uint64_t job_id);
  // Runs `then` once host_macs_ is fresh (walking every domain's MACs only if it is stale).
  void WithHostMacs(uint64_t job_id, std::function<void()> then);
  // Plans every new node's domain (tag, NICs, MACs, XML) into the job's builds.
  void DeployDefine(uint64_t job_id, std::set<std::string> macs_in_use);
  // Makes the builds' overlays and log directories on a worker, then defines them.
  void DeployFiles(uint64_t job_id);
  // Defines builds[i..] one after another.
  void DefineFrom(uint64_t job_id, size_t i);
  // Ends a deploy: on failure rolls it back and answers -32602 with `field` (the spec's field
  // path, "nodes[1].image"; "lab" when no one field is to blame) and st's message as reason.
  void DeployFinish(uint64_t job_id, Status st, std::string field = "lab");
  // The other labvirt instance that holds a lab named `lab` on this host (its domains seen at the
  // last reconcile, or its ports on the bridge now), or "" when none does.
  std::string OtherInstanceOf(const std::string& lab) const;
  // A re-deploy: wires new links, unwires links no longer listed, destroys unlisted nodes; `done`
  // runs once all of that has finished (failures are logged; a node not removed stays failed).
  void ConvergeExisting(Lab& lab, const DeployJob& job, const std::set<std::string>& new_nodes,
                        std::function<void()> done);
  // Undefines the domains in `defined` (this deploy's, not ones that were there before) and
  // removes those nodes' overlays; others are left alone (a leak beats destroying a disk).
  void RollBack(std::vector<std::unique_ptr<Node>> nodes, std::set<std::string> defined,
                std::function<void()> done);

  // Node life (node_lifecycle.cc).
  void RequestStart(Node& n);
  void BeginStart(const std::string& key);
  void AfterStartPaused(const std::string& key, Status st);
  // Reads the running domain's live XML (again while it has no PTY yet) and attaches.
  void FetchConsole(const std::string& key, int attempt);
  void AttachConsole(const std::string& key, const std::string& live_xml);
  void Resume(const std::string& key);
  void OnReadiness(const std::string& key, const ReadinessEvent& ev);
  // A boot retry the readiness tracker asked for: booting -> starting, then DestroyThenStart.
  void RetryBoot(const std::string& key);
  // For a starting node whose VM runs (a boot retry; a failed boot's VM left up): destroys it;
  // its stopped event then starts it again (StartWithCpu), all with the admission slot held.
  void DestroyThenStart(Node& n);
  void FailStart(Node& n, const std::string& reason);
  // A start refused with `error`: redefines the domain with the next CPU choice and starts it
  // again when the error is the CPU's and the ladder goes on (node_cpu.cc), else FailStart.
  void StartRefused(Node& n, const std::string& error);
  // The host's local facts and the CPU cache (read on the worker pool by ProbeHost), completed
  // with libvirt's capabilities.
  void QueryHostCapabilities(providers::HostInfo local, std::string cache_json,
                             std::function<void()> done);
  // The node started on its CPU choice: remembered, and the cache file rewritten off the loop
  // when that is new.
  void CpuWorked(Node& n);
  // Starts the node paused, first moving it to the CPU this host has learnt works when it is
  // still on its kind's first choice (node_cpu.cc).
  void StartWithCpu(Node& n);
  // Redefines the node's domain with its current CPU choice (same UUID) and starts it paused.
  void RedefineAndStart(Node& n);
  // After a short pause (libvirt finishing with the refused attempt), starts the node paused
  // again: redefined first when its CPU choice changed.
  void RetryStart(Node& n, bool redefine);
  void BeginStop(Node& n, bool force, std::chrono::seconds timeout);
  void OnStopped(Node& n, const std::string& detail);
  void ScheduleRestart(Node& n, const std::string& why);
  // Writes n's metadata into its domain (live and persistent); `then` (optional) runs after the
  // write, whether it worked or not (a failure is logged: the running VM is unaffected).
  void PersistMetadata(Node& n, std::function<void()> then = {});
  void ReleaseRuntime(Node& n);
  void NotifyWaiters(Node& n);
  void DestroyNode(std::string key, std::function<void(Status)> done);

  // `work` on the worker pool, then `done(result)` on the loop while the engine lives.
  template <typename T, typename Work, typename Done>
  Status OnWorker(Work work, Done done) {
    return pool_.Submit<T>(std::move(work), life_.Bind(std::move(done)));
  }
  // `f` on the loop from a clean stack, while the engine lives.
  void Defer(std::function<void()> f) { reactor_.Defer(life_.Bind(std::move(f))); }

  reactor::Reactor& reactor_;
  reactor::WorkerPool& pool_;
  // The seams, every callback bound to life_ (the lifetime rule above).
  WrappedHypervisor<BindToLifeline> hv_;
  WrappedPlumber<BindToLifeline> plumber_;
  const Catalog& catalog_;
  EngineOptions options_;
  Admission admission_;
  CpuChoices cpu_choices_;
  EventSink event_sink_;
  std::map<std::string, std::unique_ptr<Lab>> labs_;
  std::map<uint64_t, std::unique_ptr<DeployJob>> jobs_;
  uint64_t next_job_id_ = 1;
  // Compiled readiness patterns, shared by every node of a kind.
  std::map<std::string, std::shared_ptr<const ReadinessPatterns>> patterns_;
  bool reconciling_ = false;
  bool reconciled_once_ = false;
  std::vector<std::function<void()>> after_reconcile_;  // deploys waiting for the pass
  // Labs on this host that belong to other labvirt instances (lab -> instance), as of the last
  // reconcile pass; a deploy refuses their names (see OtherInstanceOf).
  std::map<std::string, std::string> other_instance_labs_;
  // MACs of every domain on the host as of the last walk (Hypervisor::ListMacs reads every
  // domain's XML, so a deploy walks only when a domain labvirt did not define appeared since).
  // Counts domains defined behind labvirt's back (and reconnects); the walk is fresh while it
  // equals the count the last walk started at.
  std::set<std::string> host_macs_;
  uint64_t foreign_changes_ = 1;
  uint64_t host_macs_at_ = 0;
  LatencyTable boot_seconds_{"kind"};       // start requested -> ready (queue included)
  LatencyTable readiness_seconds_{"kind"};  // VM running -> readiness text seen
  Lifeline life_;  // last: dies first, so nothing bound to it runs during destruction
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_LAB_ENGINE_H_
