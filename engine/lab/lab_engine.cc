#include "engine/lab/lab_engine.h"

#include <unistd.h>

#include <thread>

#include "engine/lab/lab_engine_internal.h"
#include "providers/interface_naming.h"
#include "providers/state_paths.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {

std::string NodeKey(const std::string& lab, const std::string& node) { return lab + "/" + node; }

namespace {}  // namespace

LabEngine::LabEngine(reactor::Reactor& reactor, reactor::WorkerPool& pool,
                     providers::Hypervisor& hv, NetworkPlumber& plumber, const Catalog& catalog,
                     EngineOptions options)
    : reactor_(reactor),
      pool_(pool),
      hv_(hv, BindToLifeline{&life_}),
      plumber_(plumber, BindToLifeline{&life_}),
      catalog_(catalog),
      options_(std::move(options)),
      admission_(options_.boot_budget > 0 ? options_.boot_budget : DefaultBootBudget()),
      cpu_choices_(options_.state_dir) {
  providers::HostInfo host = providers::ProbeLocalHost();
  host.kvm = host.kvm && !options_.force_tcg;
  // Before the loop runs: the cache file's few hundred bytes are read here, once.
  cpu_choices_.SetHost(host, ReadCpuCache(cpu_choices_.cache_path()));
}

LabEngine::~LabEngine() = default;

LabEngine::Node* LabEngine::FindNode(const std::string& lab, const std::string& node) const {
  auto l = labs_.find(lab);
  if (l == labs_.end()) return nullptr;
  auto n = l->second->nodes.find(node);
  return n == l->second->nodes.end() ? nullptr : n->second.get();
}

LabEngine::Node* LabEngine::FindNodeByKey(const std::string& key) const {
  auto slash = key.find('/');
  return slash == std::string::npos ? nullptr
                                    : FindNode(key.substr(0, slash), key.substr(slash + 1));
}

LabEngine::Node* LabEngine::FindNodeByDomain(const std::string& domain) const {
  for (const auto& [name, lab] : labs_) {
    for (const auto& [nname, node] : lab->nodes) {
      if (node->domain == domain) return node.get();
    }
  }
  return nullptr;
}

bool LabEngine::BeingDeployed(const std::string& domain) const {
  for (const auto& [id, job] : jobs_) {
    for (const auto& n : job->nodes) {
      if (n->domain == domain) return true;
    }
  }
  return false;
}

void LabEngine::Emit(const std::string& type, const Node* n, std::string data_json) {
  EmitFor(type, n ? n->lab : "", n ? n->name : "", std::move(data_json));
}

void LabEngine::EmitFor(const std::string& type, const std::string& lab, const std::string& node,
                        std::string data_json) {
  if (!event_sink_) return;
  EngineEvent ev{type, lab, node, std::move(data_json)};
  event_sink_(ev);
}

void LabEngine::SetState(Node& n, NodeState state, const std::string& reason) {
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
    admission_.Release(n.key);
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
  if (state == NodeState::kReady || state == NodeState::kFailed || state == NodeState::kStopped ||
      state == NodeState::kCrashed || state == NodeState::kDefined) {
    NotifyWaiters(n);
  }
}

void LabEngine::NotifyWaiters(Node& n) {
  if (n.waiters.empty()) return;
  std::vector<Reply> waiters;
  waiters.swap(n.waiters);
  std::string json = NodeJson(n);
  for (auto& w : waiters) w(json);
}

std::string LabEngine::NodeJson(const Node& n) const {
  JsonWriter w;
  w.BeginObject();
  w.Key("lab").String(n.lab).Key("name").String(n.name).Key("kind").String(n.kind_name);
  w.Key("resolved_kind").String(n.kind.name);
  w.Key("domain").String(n.domain).Key("state").String(NodeStateName(n.state));
  w.Key("reason").String(n.reason);
  w.Key("desired").String(n.desired_running ? "running" : "stopped");
  w.Key("queued").Bool(admission_.IsQueued(n.key));
  w.Key("image").String(n.image).Key("overlay").String(n.overlay);
  w.Key("memory_mb").Int(n.kind.memory_mb).Key("vcpus").Int(n.kind.vcpus);
  w.Key("console").BeginObject();
  w.Key("pty").String(n.pty).Key("attached").Bool(n.hub && n.hub->attached());
  w.Key("viewers").Uint(n.hub ? n.hub->viewer_count() : 0);
  w.Key("log").String(ConsoleLogPath(n.lab, n.name)).EndObject();
  w.Key("readiness").Raw(n.readiness.ToJson());
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

Result<std::string> LabEngine::ListLabs() const {
  JsonWriter w;
  w.BeginArray();
  for (const auto& [name, lab] : labs_) {
    int ready = 0;
    for (const auto& [n, node] : lab->nodes) ready += node->state == NodeState::kReady;
    w.BeginObject().Key("name").String(name).Key("nodes").Uint(lab->nodes.size());
    w.Key("ready").Int(ready).Key("links").Uint(lab->links.size()).EndObject();
  }
  w.EndArray();
  return w.Take();
}

Result<std::string> LabEngine::GetLab(const std::string& name) const {
  auto it = labs_.find(name);
  if (it == labs_.end()) return NotFound("no lab named '" + name + "'").WithField("lab");
  const Lab& lab = *it->second;
  JsonWriter w;
  w.BeginObject().Key("name").String(lab.name).Key("nodes").BeginArray();
  for (const auto& [n, node] : lab.nodes) w.Raw(NodeJson(*node));
  w.EndArray().Key("links").BeginArray();
  for (const auto& l : lab.links) w.Raw(LinkJson(l));
  w.EndArray().Key("admission").BeginObject();
  w.Key("budget").Double(admission_.budget()).Key("in_use").Double(admission_.in_use());
  w.Key("queue").BeginArray();
  for (const auto& k : admission_.Queue()) w.String(k);
  w.EndArray().EndObject().EndObject();
  return w.Take();
}

Result<std::string> LabEngine::GetNode(const std::string& lab, const std::string& node) const {
  if (!labs_.count(lab)) return NotFound("no lab named '" + lab + "'").WithField("lab");
  const Node* n = FindNode(lab, node);
  if (n == nullptr) return NotFound("no node named '" + node + "' in lab " + lab).WithField("node");
  return NodeJson(*n);
}

ConsoleHub* LabEngine::Console(const std::string& lab, const std::string& node) {
  Node* n = FindNode(lab, node);
  return n ? n->hub.get() : nullptr;
}

std::string LabEngine::ConsoleLogPath(const std::string& lab, const std::string& node) const {
  return providers::ConsoleLogPath(options_.state_dir, lab, node);
}

void LabEngine::StartNode(const std::string& lab, const std::string& node, bool wait, Reply reply) {
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

void LabEngine::StopNode(const std::string& lab, const std::string& node, bool force, int timeout_s,
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
  auto timeout = timeout_s > 0 ? std::chrono::seconds(timeout_s) : n->kind.shutdown_timeout;
  if (wait) n->waiters.push_back(std::move(reply));
  BeginStop(*n, force, timeout);
  if (!wait) reply(NodeJson(*n));
}

void LabEngine::RenderMetrics(std::string& out) const {
  std::map<std::string, int> by_state;
  for (int s = 0; s <= static_cast<int>(NodeState::kFailed); ++s) {
    by_state[std::string(NodeStateName(static_cast<NodeState>(s)))] = 0;
  }
  AppendHeader(out, "labvirt_console_bytes_total", "counter",
               "Bytes read from each node's serial console");
  std::string viewers;
  for (const auto& [ln, lab] : labs_) {
    for (const auto& [nn, n] : lab->nodes) {
      ++by_state[std::string(NodeStateName(n->state))];
      std::string labels = Label("lab", n->lab) + "," + Label("node", n->name);
      AppendSample(out, "labvirt_console_bytes_total", labels,
                   n->hub ? static_cast<double>(n->hub->bytes_read()) : 0);
      AppendSample(viewers, "labvirt_console_viewers", labels,
                   n->hub ? static_cast<double>(n->hub->viewer_count()) : 0);
    }
  }
  AppendHeader(out, "labvirt_console_viewers", "gauge", "Clients attached to each console");
  out += viewers;
  AppendHeader(out, "labvirt_nodes", "gauge", "Nodes by state");
  for (const auto& [state, count] : by_state) {
    AppendSample(out, "labvirt_nodes", Label("state", state), count);
  }
  AppendHeader(out, "labvirt_admission_queue_length", "gauge", "Nodes waiting for a boot slot");
  AppendSample(out, "labvirt_admission_queue_length", "",
               static_cast<double>(admission_.Queue().size()));
  AppendHeader(out, "labvirt_admission_in_use", "gauge", "Boot budget weight in use");
  AppendSample(out, "labvirt_admission_in_use", "", admission_.in_use());
  AppendHeader(out, "labvirt_admission_budget", "gauge", "Boot budget (sum of kind weights)");
  AppendSample(out, "labvirt_admission_budget", "", admission_.budget());
  boot_seconds_.Render(out, "labvirt_boot_seconds",
                       "Start requested to ready, per kind (admission queue included)");
  readiness_seconds_.Render(out, "labvirt_readiness_seconds",
                            "VM running to readiness text seen, per kind");
}

}  // namespace labvirt::engine
