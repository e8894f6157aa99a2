// LabStore: the engine's records (labs, their nodes and links, deploys in flight) and what every
// part of the engine does to them: look-ups, state changes through the node state machine, the
// events subscribers hear, the JSON a client reads, the boot-slot admission and the host-wide
// facts the parts share. Holds no seam: it calls neither libvirt nor OVS.
//
// LabEngine's parts (engine/lab/engine_part.h) share one store. Loop thread only.
#ifndef LABVIRT_ENGINE_LAB_LAB_STORE_H_
#define LABVIRT_ENGINE_LAB_LAB_STORE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/catalog/startup_config.h"
#include "engine/console/console_hub.h"
#include "engine/lab/admission.h"
#include "engine/lab/identities.h"
#include "engine/lab/kind_pool.h"
#include "engine/lab/lab_spec.h"
#include "engine/lab/metrics.h"
#include "engine/lab/mgmt_segment.h"
#include "engine/lab/node_state.h"
#include "engine/lab/restart_policy.h"
#include "engine/netem/impairment.h"
#include "engine/readiness/readiness_tracker.h"
#include "providers/cpu_policy.h"
#include "providers/domain_xml.h"
#include "providers/image_check.h"
#include "reactor/reactor.h"

namespace labvirt::engine {

// A verb's answer: the JSON result, or the error (with the field concerned) for the client.
using Reply = std::function<void(Result<std::string>)>;

struct EngineOptions {
  // This daemon's labvirt instance (docs/instances.md): written into every domain it defines; at
  // reconcile and cleanup it adopts and cleans only domains and ports of this instance.
  std::string instance = providers::kDefaultInstance;
  std::string image_root = "/var/lib/labvirt/images";
  std::string bind_root = "/var/lib/labvirt/binds";  // sources of container nodes' binds
  std::string state_dir = "/var/lib/labvirt";
  // The admission gates (engine/lab/admission.h); ceiling 0: four weighted starts per core.
  AdmissionLimits admission;
  RestartPolicy restart_policy;
  ConsoleHubOptions console;
  // The QEMU binary every domain names (<emulator>); empty: libvirt's default. For tests that
  // put a wrapper in front of QEMU (e.g. one that refuses some CPUs as a nested host does).
  std::string emulator;
  // Define every domain for TCG (type 'qemu') even where KVM is usable (labvirtd --accel tcg).
  bool force_tcg = false;
  // Management segments (engine/lab/mgmt_network.h). Off: no segment is made, and a lab that asks
  // for one in particular is refused (unit tests; a host without OVS).
  bool mgmt = false;
  std::string mgmt_pool_ipv4 = "10.250.0.0/16";   // each lab takes the next free /24
  std::string mgmt_pool_ipv6 = "fd6c:7600::/48";  // and the next free /64
  std::string dnsmasq = "/usr/sbin/dnsmasq";
  std::string nft = "/usr/sbin/nft";
};

// A change worth telling subscribers about.
struct EngineEvent {
  std::string type;  // "node.state", "node.readiness", "lab.deployed", "lab.destroyed", …
  std::string lab;
  std::string node;
  std::string data_json;  // a JSON object
};

struct LinkRecord {
  std::string id;  // "a_node:a_if--b_node:b_if"
  std::string a_node, a_interface, b_node, b_interface;
  bool up = true;
  // netem per direction (link.set_impairment): a_to_b on b's tap, b_to_a on a's. The NICs'
  // metadata holds them (each NIC the direction it receives); these are rebuilt from it.
  Impairment a_to_b, b_to_a;
};

struct Node {
  std::string lab;
  std::string name;
  std::string key;     // "lab/node"
  std::string domain;  // libvirt domain name
  std::string kind_name;
  SharedKind kind = NoKind();        // resolved, overrides applied; shared (KindPool)
  providers::NodeMetadata metadata;  // NIC plan (taps, MACs, links) as defined
  std::string image;                 // base image path (resolved)
  providers::ResolvedImage base;     // the checked base image (path, format)
  std::string overlay;
  // Day-0 config: its size (0: none) and medium (STATE/day0/LAB/NODE.img|.iso), kept across
  // restarts and rebuilt by a wipe; why it could not be made or rebuilt, if so.
  int64_t config_bytes = 0;
  std::string config_medium;
  std::string config_error;
  bool config_attached = false;  // the running domain's live XML has the medium (AttachConsole)
  // A console-paste config (NodeConfig::Paste) being typed: its lines and how many were accepted.
  // Whether it was applied is in metadata.config_applied (it survives a labvirtd restart).
  bool config_applying = false;
  int config_lines = 0;
  int config_lines_done = 0;
  NodeState state = NodeState::kDefined;
  std::string reason;
  bool desired_running = true;
  int crash_restarts = 0;
  reactor::TimePoint ready_since{};  // when it last became ready (restart policy's stable window)
  bool adopted_ready = false;        // found running and ready at reconcile: no new readiness watch
  // Found running (AdoptRunning) and not started by this labvirtd since: its boot's output so far
  // is read from the console log (metadata.boot) rather than marked anew.
  bool adopting = false;
  std::string run_id;  // libvirt's id of the running domain (live XML), "" when it has none
  ReadinessResult readiness;
  providers::CpuChoice cpu;               // the CPU the domain is defined with, and why
  std::vector<std::string> cpu_attempts;  // CPU choices refused at this start, with the error
  int start_kills = 0;  // attempts of this start that libvirtd killed itself (StartRefused)
  std::string pty;
  std::string early_console;  // read after the resume, before the readiness attempt began
  reactor::TimePoint start_requested{};
  std::vector<Reply> waiters;       // replies owed when the node is ready, failed or stopped
  std::set<int> unplug_pending;     // data NICs detached live that the guest has not released yet
  bool restart_pending = false;     // node.restart: start again once stopped
  bool start_when_stopped = false;  // DestroyThenStart: start again once the VM is off
  bool vm_left_up = false;          // a failed boot left the VM running (for its console)
  // Its start failed because libvirtd was gone (Unavailable): started again at the reconcile
  // pass that follows the reconnect, as the restart of libvirtd is no fault of the node's.
  bool start_after_reconnect = false;
  std::vector<Reply> restart_waiters;  // node.restart with wait: replied when ready or failed
  bool metadata_writing = false;       // a SetMetadata is in flight (PersistMetadata)
  bool metadata_dirty = false;         // changed since that write began: write again after it
  std::vector<std::function<void()>> metadata_waiters;  // run once the next write lands
  std::unique_ptr<ConsoleHub> hub;
  std::unique_ptr<ReadinessTracker> tracker;
  // Handles last: they die first.
  reactor::OpHandle stop_timer;
  reactor::OpHandle restart_timer;
};

struct Lab {
  std::string name;
  std::map<std::string, std::unique_ptr<Node>> nodes;
  std::vector<LinkRecord> links;
  std::unique_ptr<MgmtSegment> mgmt;  // its management segment; null: none
};

struct DeployJob {
  uint64_t id = 0;
  LabSpec spec;
  bool wait = false;
  Reply reply;
  std::vector<std::unique_ptr<Node>> nodes;  // new nodes, not yet in the lab
  std::vector<NodeSpec> node_specs;          // parallel to `nodes`
  std::vector<LinkRecord> links;             // the lab's links once the deploy succeeds
  std::set<std::string> defined;             // domains this deploy defined (for a rollback)
  // What DeployDefine planned for each node it defines, in order.
  struct Build {
    std::string node, domain, xml, overlay;
    providers::ResolvedImage base;
    std::string log_dir;
    std::string nvram_dir;  // stateful-UEFI kinds (N9Kv) keep their NVRAM there
    // The node's startup config and where its text and medium go; config_medium empty: none.
    providers::Day0Spec day0;
    std::string config_text, config_text_path, config_medium;
  };
  std::vector<Build> builds;
  // Deployer::DefineMore's progress: the next build to define, the defines in flight, and the
  // earliest failed build (SIZE_MAX: none) with its error.
  size_t define_next = 0;
  size_t defines_open = 0;
  size_t define_failed = SIZE_MAX;
  Status define_error;

  // The field path of node `node`'s `member` in the spec ("nodes[2].image"), the syntax
  // ParseLabSpec uses; just "nodes[2]" when `member` is empty.
  std::string NodeField(const std::string& node, const std::string& member) const;
};

std::string NodeKey(const std::string& lab, const std::string& node);
// {"id","up","endpoints":["a_node:a_if","b_node:b_if"]}
std::string LinkJson(const LinkRecord& link);

// The vendor name of interface `name` of `kind`: an alias ("eth1" is data NIC 0 on every kind) or
// one of the kind's own names (providers::ResolveInterface).
Result<std::string> VendorInterface(const providers::DeviceKind& kind, const std::string& name);

// How many data NICs `md` plans.
int DataNics(const providers::NodeMetadata& md);

// What the node object's `config` shows (engine/catalog/startup_config.h).
ConfigStatus ConfigStatusOf(const Node& n);

// The client's "no such node" error (field "node").
Status NoNode(const std::string& lab, const std::string& node);
// True while a step of the node's life is in flight (queued, starting, stopping): a NIC change or
// a reconcile of the node would race with it.
bool Busy(NodeState s);

class LabStore {
 public:
  using EventSink = std::function<void(const EngineEvent&)>;

  LabStore(reactor::Reactor& reactor, const EngineOptions& options);

  void SetEventSink(EventSink sink) { event_sink_ = std::move(sink); }

  Node* FindNode(const std::string& lab, const std::string& node) const;
  Node* FindNodeByKey(const std::string& key) const;  // "lab/node"
  // The node whose libvirt domain is `domain`, or nullptr; O(1), through the index below
  // (libvirt reports events of every domain on the host, so a scan of every node per event made
  // each event O(nodes) — issue 20's 5000-node simulation).
  Node* FindNodeByDomain(const std::string& domain) const;
  // Indexes `n` by its domain name. Call when the node joins its lab (its domain name is fixed
  // from then on); ForgetDomain when it leaves. An entry left behind is harmless (a lookup
  // checks the node it finds), a node never indexed is not found by its domain.
  void IndexDomain(const Node& n);
  void ForgetDomain(const Node& n);
  LinkRecord* FindLink(const std::string& lab, const std::string& link) const;
  // Whether a deploy in flight is defining `domain` (its nodes are not in a lab yet).
  bool BeingDeployed(const std::string& domain) const;

  // Moves `n` to `state` (docs/node-states.md) with `reason`, tells subscribers, and answers the
  // node's waiters when the state is one a caller waits for. A move the state machine forbids
  // fails the node instead (an engine bug driven by outside events must not abort the daemon).
  void SetState(Node& n, NodeState state, const std::string& reason);
  // Answers every waiter of `n` with its JSON now.
  void NotifyWaiters(Node& n);
  void Emit(const std::string& type, const Node* n, std::string data_json);
  // An event about a lab (or one node of it by name) rather than a node record.
  void EmitFor(const std::string& type, const std::string& lab, const std::string& node,
               std::string data_json);

  std::string NodeJson(const Node& n) const;
  Result<std::string> ListLabs() const;
  Result<std::string> GetLab(const std::string& lab) const;
  Result<std::string> GetNode(const std::string& lab, const std::string& node) const;
  // The node's persistent console log (virtlogd's file).
  std::string ConsoleLogPath(const std::string& lab, const std::string& node) const;
  // MACs of every node labvirt knows and of every other domain as of the last walk.
  std::set<std::string> MacsInUse() const;

  std::map<std::string, std::unique_ptr<Lab>> labs;
  std::map<uint64_t, std::unique_ptr<DeployJob>> jobs;
  // Labs with a deploy between its start and its nodes being in the lab (or rolled back), each
  // with the deploys of that lab asked for meanwhile, in order (see Deployer::Deploy).
  std::map<std::string, std::deque<std::function<void()>>> deploys_in_flight;
  uint64_t next_job_id = 1;
  Admission admission;
  // Labs on this host that belong to other labvirt instances (lab -> instance), as of the last
  // reconcile pass; a deploy refuses their names.
  std::map<std::string, std::string> other_instance_labs;
  // MACs of every domain on the host as of the last walk (Hypervisor::ListMacs reads every
  // domain's XML, so a deploy walks only when a domain labvirt did not define appeared since).
  // foreign_changes counts domains defined behind labvirt's back (and reconnects); the walk is
  // fresh while host_macs_at equals the count the last walk started at.
  std::set<std::string> host_macs;
  uint64_t foreign_changes = 1;
  uint64_t host_macs_at = 0;
  KindPool kinds;                          // each resolved kind once, shared by its nodes
  LatencyTable boot_seconds{"kind"};       // start requested -> ready (queue included)
  LatencyTable readiness_seconds{"kind"};  // VM running -> readiness text seen

 private:
  reactor::Reactor& reactor_;
  const EngineOptions& options_;
  EventSink event_sink_;
  std::unordered_map<std::string, std::string> domain_keys_;  // domain -> "lab/node"
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_LAB_STORE_H_
