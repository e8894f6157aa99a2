// LabEngine: labs, nodes and links, and every node's life — the engine's facade. Its verbs are
// what the control socket offers; each hands over to the part whose one job it is
// (engine/lab/engine_part.h draws them and the one way their calls go): Deployer, Reconciler,
// LeftoverSweep, NodeOps, NodeLife, LinkBook, MetadataWriter, over the shared LabStore.
//
// All state lives on the reactor thread; every libvirt call goes through the Hypervisor seam
// (worker pool), every OVS change through the NetworkPlumber seam. State that must survive a
// labvirtd restart is written into the domain's metadata, and Reconcile() rebuilds the labs from
// it. Nothing polls: node states move on libvirt lifecycle events and console readiness.
//
// What it does not own: the reactor, the pool, the hypervisor, the plumber and the catalog, which
// must outlive it. Callbacks given to its verbs run on the loop thread, once. Lifetime, one rule
// (engine/lab/lifeline.h): every callback the engine hands to the hypervisor, the plumber, the
// worker pool or the reactor is bound to its Lifeline, and its timers are OpHandles its nodes own,
// so it may be destroyed on the loop thread at any time; what was in flight then is dropped.
#ifndef LABVIRT_ENGINE_LAB_LAB_ENGINE_H_
#define LABVIRT_ENGINE_LAB_LAB_ENGINE_H_

#include <functional>
#include <memory>
#include <string>

#include "engine/catalog/catalog.h"
#include "engine/console/console_hub.h"
#include "engine/lab/host_readings.h"
#include "engine/lab/ksm_meter.h"
#include "engine/lab/lab_spec.h"
#include "engine/lab/lab_store.h"
#include "engine/lab/lifeline.h"
#include "engine/lab/network_plumber.h"
#include "engine/lab/wrapped_hypervisor.h"
#include "providers/hypervisor.h"
#include "reactor/reactor.h"
#include "reactor/worker_pool.h"

namespace labvirt::engine {

class MetadataWriter;
class LinkBook;
class NodeLife;
class Reconciler;
class Deployer;
class LeftoverSweep;
class NodeOps;
class NodeConfig;
class MgmtNetwork;

// A running node's data NIC, as a live capture needs it.
struct NicTarget {
  std::string node;
  std::string interface;  // the kind's own name ("GigabitEthernet0/1")
  std::string tap;        // the host-side tap
  std::string link;       // the link it is in; empty: none
};

class LabEngine {
 public:
  using Reply = engine::Reply;
  using EventSink = LabStore::EventSink;

  LabEngine(reactor::Reactor& reactor, reactor::WorkerPool& pool, providers::Hypervisor& hv,
            NetworkPlumber& plumber, const Catalog& catalog, EngineOptions options);
  ~LabEngine();
  LabEngine(const LabEngine&) = delete;
  LabEngine& operator=(const LabEngine&) = delete;

  void SetEventSink(EventSink sink);

  // ---- Labs ----
  // Validates the whole lab, then defines every node and starts those that should run. Replies
  // when the lab is defined (`wait` false) or when every node is ready or failed (`wait` true).
  // Deploying an existing lab converges it: new nodes are added, missing ones removed.
  void Deploy(LabSpec spec, bool wait, Reply reply);
  // Destroys every node (VM, definition, overlay, console log, ports). Idempotent.
  void Destroy(const std::string& lab, Reply reply);
  Result<std::string> ListLabs() const;
  // lab.inventory: an Ansible inventory of the lab's nodes with management addresses, as YAML
  // text or (`yaml` false) a JSON object (engine/lab/mgmt_segment.h).
  Result<std::string> Inventory(const std::string& lab, bool yaml) const;
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

  // ---- Configs over the console (engine/lab/node_config.h) ----
  // Reads the node's running config over its console and stores it as a new saved version.
  void SaveConfig(const std::string& lab, const std::string& node, Reply reply);
  // The same for every ready node of the lab whose kind can show its config, a few at a time.
  void SaveLabConfigs(const std::string& lab, Reply reply);
  // A saved config (`version` "" or "latest": the newest); works after the lab was destroyed.
  void GetConfig(const std::string& lab, const std::string& node, const std::string& version,
                 Reply reply);

  // ---- Links (all live: no VM restarts) ----
  // Links two unlinked data interfaces ("node:interface"; "ethN" means data NIC N-1) of a lab.
  // Interfaces beyond a node's NICs are refused (add NICs first with node.nic.add).
  void CreateLink(const std::string& lab, const std::string& a, const std::string& b, Reply reply);
  // Removes a link; both ends go back to isolated tags.
  void DeleteLink(const std::string& lab, const std::string& link, Reply reply);
  // Carrier up (both ends share the link's tag) or down (each end isolated).
  void SetLinkState(const std::string& lab, const std::string& link, bool up, Reply reply);
  // netem per direction of a link (LinkBook::SetImpairment); {} in both clears it.
  void SetLinkImpairment(const std::string& lab, const std::string& link, const Impairment& a_to_b,
                         const Impairment& b_to_a, Reply reply);

  // ---- Host ----
  // Probes the host (KVM or TCG, nested, CPU vendor, libvirt's CPU capabilities), logs it in one
  // line and keeps it for the CPU choices of new nodes; `done` runs on the loop once known (even
  // when libvirt's part failed: the local facts stand alone).
  void ProbeHost(std::function<void()> done);
  // {"host": …, "cached": …} for host.info (engine/lab/cpu_choices.h).
  std::string CpuJson() const;

  // Finds what labvirt owns but no node claims: OVS ports, overlay disks, console logs, and
  // labvirt domains it could not adopt. Removes the first three unless `dry_run`; domains are
  // only reported (their metadata is unreadable, so their ownership is not certain).
  void Cleanup(bool dry_run, Reply reply);

  // ---- Captures ----
  // Data NIC `interface` (a vendor name or an "ethN" alias) of `node`, whose VM must be running
  // (booting or ready). InvalidArgument/NotFound naming the field ("lab", "node", "interface")
  // for an unknown one; FailedPrecondition (field "node") when the node is not running.
  Result<NicTarget> RunningNic(const std::string& lab, const std::string& node,
                               const std::string& interface) const;
  // End `end` ("a", "b") of link `link`; "" picks the first end whose node runs. Errors as
  // RunningNic's, "link" for an unknown link.
  Result<NicTarget> RunningLinkEnd(const std::string& lab, const std::string& link,
                                   const std::string& end) const;

  // Finds a node's console hub; nullptr if the node is unknown or has no console yet.
  ConsoleHub* Console(const std::string& lab, const std::string& node);
  // The node's persistent console log (virtlogd's file).
  std::string ConsoleLogPath(const std::string& lab, const std::string& node) const;

  // Appends the engine's Prometheus metrics: nodes by state, boot and readiness histograms per
  // kind, console bytes and viewers per node, the admission queue.
  void RenderMetrics(std::string& out) const;

  // Reads the host through `source` now and then once a second, and hands the readings to
  // admission's gates (engine/lab/admission.h). Without it, only the ceiling gates boots.
  void WatchHost(std::unique_ptr<HostReadingsSource> source);
  // Samples KSM (engine/lab/ksm_meter.h) for `metrics` every `period` on the worker pool: the
  // host's counters and, per kind, what the running VMs' QEMUs have merged.
  void WatchKsm(KsmPaths paths, std::chrono::milliseconds period);
  // Admission's ceiling, limits, queue and the host's last readings (host.info's "admission").
  std::string AdmissionJson() const;

  // Rebuilds labs from the hypervisor's domains and their labvirt metadata (start-up, reconnect).
  // Deploys asked for while a pass runs wait for it.
  void Reconcile(std::function<void(Status)> done);
  // True once a reconcile pass has completed (host.info's `healthy` needs it).
  bool reconciled() const;
  // Lifecycle events from the hypervisor.
  void OnDomainEvent(const providers::DomainEventInfo& event);

 private:
  EngineOptions options_;
  // The seams, every callback bound to life_ (the lifetime rule above).
  WrappedHypervisor<BindToLifeline> hv_;
  WrappedPlumber<BindToLifeline> plumber_;
  LabStore store_;
  std::unique_ptr<MetadataWriter> writer_;
  std::unique_ptr<LinkBook> links_;
  std::unique_ptr<NodeConfig> config_;
  std::unique_ptr<NodeLife> lifecycle_;
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<MgmtNetwork> mgmt_;
  std::unique_ptr<Deployer> deployer_;
  std::unique_ptr<LeftoverSweep> sweep_;
  std::unique_ptr<NodeOps> ops_;
  reactor::Reactor& reactor_;
  std::unique_ptr<HostReadingsSource> host_source_;
  reactor::OpHandle host_timer_;
  std::unique_ptr<KsmMeter> ksm_;
  Lifeline life_;  // last: dies first, so nothing bound to it runs during destruction
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_LAB_ENGINE_H_
