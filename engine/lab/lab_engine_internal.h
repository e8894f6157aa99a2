// Internal to LabEngine (lab_engine*.cc): the records behind labs, nodes and deploy jobs.
#ifndef LABVIRT_ENGINE_LAB_LAB_ENGINE_INTERNAL_H_
#define LABVIRT_ENGINE_LAB_LAB_ENGINE_INTERNAL_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/lab/identities.h"
#include "engine/lab/lab_engine.h"
#include "providers/image_check.h"

namespace labvirt::engine {

struct LinkRecord {
  std::string id;  // "a_node:a_if--b_node:b_if"
  std::string a_node, a_interface, b_node, b_interface;
  bool up = true;
};

struct LabEngine::Node {
  std::string lab;
  std::string name;
  std::string key;     // "lab/node"
  std::string domain;  // libvirt domain name
  std::string kind_name;
  providers::DeviceKind kind;
  providers::NodeMetadata metadata;  // NIC plan (taps, MACs, links) as defined
  std::string image;                 // base image path (resolved)
  providers::ResolvedImage base;     // the checked base image (path, format)
  std::string overlay;
  NodeState state = NodeState::kDefined;
  std::string reason;
  bool desired_running = true;
  int crash_restarts = 0;
  reactor::TimePoint ready_since{};  // when it last became ready (restart policy's stable window)
  bool adopted_ready = false;        // found running and ready at reconcile: no new readiness watch
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

struct LabEngine::Lab {
  std::string name;
  std::map<std::string, std::unique_ptr<Node>> nodes;
  std::vector<LinkRecord> links;
};

struct LabEngine::DeployJob {
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
  };
  std::vector<Build> builds;

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

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_LAB_ENGINE_INTERNAL_H_
