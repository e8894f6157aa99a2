#include "engine/lab/lab_store.h"

#include "engine/catalog/startup_config.h"
#include "engine/readiness/readiness_result.h"
#include "providers/interface_naming.h"
#include "providers/state_paths.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {

std::string NodeKey(const std::string& lab, const std::string& node) { return lab + "/" + node; }

Status NoNode(const std::string& lab, const std::string& node) {
  return NotFound("no node named '" + node + "' in lab '" + lab + "'").WithField("node");
}

bool Busy(NodeState s) {
  return s == NodeState::kQueued || s == NodeState::kStarting || s == NodeState::kStopping;
}

LabStore::LabStore(reactor::Reactor& reactor, const EngineOptions& options)
    : admission(options.admission), reactor_(reactor), options_(options) {}

Node* LabStore::FindNode(const std::string& lab, const std::string& node) const {
  auto l = labs.find(lab);
  if (l == labs.end()) return nullptr;
  auto n = l->second->nodes.find(node);
  return n == l->second->nodes.end() ? nullptr : n->second.get();
}

Node* LabStore::FindNodeByKey(const std::string& key) const {
  auto slash = key.find('/');
  return slash == std::string::npos ? nullptr
                                    : FindNode(key.substr(0, slash), key.substr(slash + 1));
}

Node* LabStore::FindNodeByDomain(const std::string& domain) const {
  if (domain.empty()) return nullptr;
  auto it = domain_keys_.find(domain);
  if (it == domain_keys_.end()) return nullptr;
  Node* n = FindNodeByKey(it->second);
  return n != nullptr && n->domain == domain ? n : nullptr;
}

void LabStore::IndexDomain(const Node& n) {
  if (!n.domain.empty()) domain_keys_[n.domain] = n.key;
}

void LabStore::ForgetDomain(const Node& n) {
  auto it = domain_keys_.find(n.domain);
  if (it != domain_keys_.end() && it->second == n.key) domain_keys_.erase(it);
}

bool LabStore::BeingDeployed(const std::string& domain) const {
  for (const auto& [id, job] : jobs) {
    for (const auto& n : job->nodes) {
      if (n->domain == domain) return true;
    }
  }
  return false;
}

void LabStore::Emit(const std::string& type, const Node* n, std::string data_json) {
  EmitFor(type, n ? n->lab : "", n ? n->name : "", std::move(data_json));
}

void LabStore::EmitFor(const std::string& type, const std::string& lab, const std::string& node,
                       std::string data_json) {
  if (!event_sink_) return;
  EngineEvent ev{type, lab, node, std::move(data_json)};
  event_sink_(ev);
}

void LabStore::SetState(Node& n, NodeState state, const std::string& reason) {
  if (n.state == state && n.reason == reason) return;
  if (n.state != state && !TransitionAllowed(n.state, state)) {
    // A move the machine forbids is an engine bug, but one that outside events (a guest's
    // console, libvirt's lifecycle events, a client's verbs) drove it into. Aborting would take
    // every lab on the host down with it (issue 13: a boot retry did); failing this one node
    // keeps the damage where it is and tells its owner.
    std::string refused =
        std::string(NodeStateName(n.state)) + " -> " + std::string(NodeStateName(state));
    LogError("node state machine refused a transition; node failed",
             {{"lab", n.lab}, {"node", n.name}, {"transition", refused}, {"reason", reason}});
    admission.Release(n.key);
    return SetState(n, NodeState::kFailed,
                    "internal error: state machine refused " + refused + " (" + reason +
                        "); stop and start the node");
  }
  NodeState old = n.state;
  n.state = state;
  n.reason = reason;
  if (state == NodeState::kReady) n.ready_since = reactor_.clock().Now();
  LogInfo("node state", {{"lab", n.lab},
                         {"node", n.name},
                         {"from", std::string(NodeStateName(old))},
                         {"to", std::string(NodeStateName(state))},
                         {"reason", reason}});
  JsonWriter w;
  w.BeginObject().Key("state").String(NodeStateName(state));
  w.Key("previous").String(NodeStateName(old)).Key("reason").String(reason).EndObject();
  Emit("node.state", &n, w.Take());
  // `ready` settles a node only while it should run: a `node.stop … wait` sent while a restarted
  // labvirtd was still adopting the node (starting → ready) was answered by that transition,
  // before the stop began (fault suite, StopFaultTest on a container, once in four runs).
  bool settled = (state == NodeState::kReady && n.desired_running) || state == NodeState::kFailed ||
                 state == NodeState::kStopped || state == NodeState::kCrashed ||
                 state == NodeState::kDefined;
  if (settled) {
    NotifyWaiters(n);
  }
}

void LabStore::NotifyWaiters(Node& n) {
  if (n.waiters.empty()) return;
  std::vector<Reply> waiters;
  waiters.swap(n.waiters);
  std::string json = NodeJson(n);
  for (auto& w : waiters) w(json);
}

ConfigStatus ConfigStatusOf(const Node& n) {
  ConfigStatus c;
  c.bytes = n.config_bytes;
  c.error = n.config_error;
  if (n.kind->day0.method == "console" && n.config_bytes > 0) {
    c.lines = n.config_lines;
    c.lines_done = n.config_lines_done;
  }
  if (!c.error.empty()) {
    c.state = "failed";
  } else if (n.config_bytes == 0) {
    c.state = "none";
  } else if (n.kind->day0.method == "console") {
    c.state = n.config_applying ? "applying" : n.metadata.config_applied ? "applied" : "pending";
  } else {
    bool running =
        n.config_attached && (n.state == NodeState::kBooting || n.state == NodeState::kReady ||
                              n.state == NodeState::kStopping);
    c.state = running ? "attached" : "written";
  }
  return c;
}

std::string LabStore::NodeJson(const Node& n) const {
  JsonWriter w;
  w.BeginObject();
  w.Key("lab").String(n.lab).Key("name").String(n.name).Key("kind").String(n.kind_name);
  w.Key("resolved_kind").String(n.kind->name).Key("provider").String(n.kind->provider);
  w.Key("domain").String(n.domain).Key("state").String(NodeStateName(n.state));
  w.Key("reason").String(n.reason);
  w.Key("desired").String(n.desired_running ? "running" : "stopped");
  w.Key("queued").Bool(admission.IsQueued(n.key));
  w.Key("queued_reason").Raw(admission.QueuedReasonJson(n.key));
  w.Key("image").String(n.image).Key("overlay").String(n.overlay);
  w.Key("memory_mb").Int(n.kind->memory_mb).Key("vcpus").Int(n.kind->vcpus);
  w.Key("console").BeginObject();
  w.Key("pty").String(n.pty).Key("attached").Bool(n.hub && n.hub->attached());
  w.Key("viewers").Uint(n.hub ? n.hub->viewer_count() : 0);
  w.Key("log").String(ConsoleLogPath(n.lab, n.name)).EndObject();
  w.Key("readiness").Raw(n.readiness.ToJson());
  w.Key("config").Raw(StartupConfigJson(*n.kind, ConfigStatusOf(n)));
  w.Key("save_on_stop").Bool(n.metadata.save_on_stop);
  w.Key("mgmt").Raw(NodeMgmtJson(n));
  w.Key("cpu").Raw(providers::CpuChoiceToJson(n.cpu));
  w.Key("cpu_attempts").BeginArray();
  for (const auto& a : n.cpu_attempts) w.String(a);
  w.EndArray();
  w.Key("nics").BeginArray();
  for (const auto& nic : n.metadata.nics) {
    w.BeginObject().Key("role").String(providers::NicRoleName(nic.role));
    w.Key("index").Int(nic.index).Key("interface").String(nic.interface);
    // Data NICs also answer to their kind-independent alias (providers/interface_naming.h).
    if (nic.role == providers::NicRole::kData) {
      w.Key("alias").String(providers::InterfaceAlias(nic.index));
    }
    w.Key("tap").String(nic.tap).Key("mac").String(nic.mac).Key("link").String(nic.link);
    w.EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

Result<std::string> LabStore::ListLabs() const {
  JsonWriter w;
  w.BeginArray();
  for (const auto& [name, lab] : labs) {
    int ready = 0;
    for (const auto& [n, node] : lab->nodes) ready += node->state == NodeState::kReady;
    w.BeginObject().Key("name").String(name).Key("nodes").Uint(lab->nodes.size());
    w.Key("ready").Int(ready).Key("links").Uint(lab->links.size()).EndObject();
  }
  w.EndArray();
  return w.Take();
}

Result<std::string> LabStore::GetLab(const std::string& name) const {
  auto it = labs.find(name);
  if (it == labs.end()) return NotFound("no lab named '" + name + "'").WithField("lab");
  const Lab& lab = *it->second;
  JsonWriter w;
  w.BeginObject().Key("name").String(lab.name).Key("nodes").BeginArray();
  for (const auto& [n, node] : lab.nodes) w.Raw(NodeJson(*node));
  w.EndArray().Key("links").BeginArray();
  for (const auto& l : lab.links) w.Raw(LinkJson(l));
  w.EndArray().Key("mgmt").Raw(LabMgmtJson(lab)).Key("admission").Raw(admission.ToJson());
  w.EndObject();
  return w.Take();
}

Result<std::string> LabStore::GetNode(const std::string& lab, const std::string& node) const {
  if (!labs.count(lab)) return NotFound("no lab named '" + lab + "'").WithField("lab");
  const Node* n = FindNode(lab, node);
  if (n == nullptr) return NotFound("no node named '" + node + "' in lab " + lab).WithField("node");
  return NodeJson(*n);
}

std::string LabStore::ConsoleLogPath(const std::string& lab, const std::string& node) const {
  return providers::ConsoleLogPath(options_.state_dir, lab, node);
}

LinkRecord* LabStore::FindLink(const std::string& lab, const std::string& link) const {
  auto it = labs.find(lab);
  if (it == labs.end()) return nullptr;
  for (auto& l : it->second->links) {
    if (l.id == link) return &l;
  }
  return nullptr;
}

std::set<std::string> LabStore::MacsInUse() const {
  std::set<std::string> macs = host_macs;
  for (const auto& [ln, lab] : labs) {
    for (const auto& [nn, node] : lab->nodes) {
      for (const auto& nic : node->metadata.nics) macs.insert(nic.mac);
    }
  }
  return macs;
}

}  // namespace labvirt::engine
