// LabEngine: the node verbs beyond start and stop — restart, wipe, reconcile, NIC hot-plug.
// Like the rest of the engine, each step runs on the loop and looks its node up again by key
// after every asynchronous call, because the node may be gone by then.
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "engine/lab/lab_engine.h"
#include "engine/lab/lab_engine_internal.h"
#include "providers/overlay.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {
namespace {

Status NoNode(const std::string& lab, const std::string& node) {
  return NotFound("no node named '" + node + "' in lab '" + lab + "'").WithField("node");
}

// True while a step of the node's life is in flight and a NIC change would race with it.
bool Busy(NodeState s) {
  return s == NodeState::kQueued || s == NodeState::kStarting || s == NodeState::kStopping;
}

}  // namespace

int DataNics(const providers::NodeMetadata& md) {
  int n = 0;
  for (const auto& nic : md.nics) n += nic.role == providers::NicRole::kData;
  return n;
}

providers::DomainSpec LabEngine::DomainSpecFor(const Node& n, int nics) const {
  providers::DomainSpec ds;
  ds.instance = options_.instance;
  ds.lab = n.lab;
  ds.node = n.name;
  ds.kind_name = n.kind_name;
  ds.kind = n.kind;
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
  }
  ds.desired_state = n.desired_running ? "running" : "stopped";
  ds.cpu = n.cpu;
  ds.emulator = options_.emulator;
  ds.overrides_json = n.metadata.overrides_json;
  return ds;
}

std::set<std::string> LabEngine::MacsInUse() const {
  std::set<std::string> macs = host_macs_;
  for (const auto& [ln, lab] : labs_) {
    for (const auto& [nn, node] : lab->nodes) {
      for (const auto& nic : node->metadata.nics) macs.insert(nic.mac);
    }
  }
  return macs;
}

void LabEngine::RestartNode(const std::string& lab, const std::string& node, bool wait,
                            Reply reply) {
  Node* n = FindNode(lab, node);
  if (n == nullptr) return reply(NoNode(lab, node));
  if (n->state == NodeState::kStopping) {
    return reply(FailedPrecondition("wait until it stopped")
                     .WithField("node")
                     .WithSummary("node is stopping"));
  }
  if (!IsActive(n->state)) return StartNode(lab, node, wait, std::move(reply));
  n->desired_running = true;
  n->crash_restarts = 0;
  n->restart_pending = true;  // OnStopped starts it again
  if (wait) n->restart_waiters.push_back(std::move(reply));
  BeginStop(*n, /*force=*/false, n->kind.shutdown_timeout);
  if (!wait) reply(NodeJson(*n));
}

void LabEngine::WipeNode(const std::string& lab, const std::string& node, Reply reply) {
  Node* n = FindNode(lab, node);
  if (n == nullptr) return reply(NoNode(lab, node));
  if (IsActive(n->state) || n->state == NodeState::kQueued) {
    return reply(InvalidField("node", node + " is " + std::string(NodeStateName(n->state)) +
                                          "; stop it before wiping its disk"));
  }
  if (n->overlay.empty())
    return reply(InvalidField("node", node + " has no disk (it was never defined)"));
  providers::ImageConfig config{options_.image_root, {}};
  std::string image = n->image, overlay = n->overlay, key = n->key;
  std::string nvram = providers::NvramPath(options_.state_dir, n->lab, n->name);
  Status st = OnWorker<Status>(
      [config, image, overlay, nvram] {
        // The base is checked again: it must still be a disk image under the image root.
        auto base = providers::ResolveImage(config, image);
        if (!base.ok()) return base.status().WithContext("base image");
        // A stateful-UEFI node's variables go too: libvirt copies the template at next start.
        std::error_code ec;
        std::filesystem::remove(nvram, ec);
        if (ec) return Internal("remove " + nvram + ": " + ec.message());
        return providers::RecreateOverlay(*base, overlay);
      },
      [this, key, reply](Status st) {
        Node* n = FindNodeByKey(key);
        if (n == nullptr) return reply(InvalidField("node", key + " was removed during the wipe"));
        if (!st.ok())
          return reply(Internal(st.message()).WithField("node").WithSummary("wipe failed"));
        n->readiness = {};
        PersistMetadata(*n);
        JsonWriter w;
        w.BeginObject().Key("overlay").String(n->overlay).EndObject();
        Emit("node.wiped", n, w.Take());
        reply(NodeJson(*n));
      });
  if (!st.ok()) reply(Internal(st.message()).WithField("pool").WithSummary("busy"));
}

void LabEngine::AdoptRunning(Node& n, const std::string& reason) {
  // Not through SetState: an adopted node skips the queue (it is already running).
  NodeState old = n.state;
  n.state = NodeState::kStarting;
  n.reason = reason;
  JsonWriter w;
  w.BeginObject().Key("state").String(NodeStateName(n.state));
  w.Key("previous").String(NodeStateName(old)).Key("reason").String(reason).EndObject();
  Emit("node.state", &n, w.Take());
  n.adopted_ready = n.readiness.state == ReadinessState::kReady;
  FetchConsole(n.key, 0);
}

void LabEngine::ReconcileNode(const std::string& lab, const std::string& node, Reply reply) {
  if (FindNode(lab, node) == nullptr) return reply(NoNode(lab, node));
  std::string key = NodeKey(lab, node);
  hv_.ListDomains([this, key, reply](Result<std::vector<providers::DomainInfo>> domains) {
    Node* n = FindNodeByKey(key);
    if (n == nullptr) return reply(InvalidField("node", key + " was removed meanwhile"));
    if (!domains.ok()) {
      return reply(Internal(domains.status().message()).WithField("node").WithSummary("libvirt"));
    }
    const providers::DomainInfo* d = nullptr;
    for (const auto& x : *domains) {
      if (x.name == n->domain) d = &x;
    }
    std::vector<std::string> actions;
    if (d == nullptr) {
      actions.push_back("domain " + n->domain + " is gone from libvirt: node failed");
      SetState(*n, NodeState::kFailed, "domain undefined outside labvirt; deploy the lab again");
    } else if (Busy(n->state)) {
      actions.push_back(std::string("node is ") + std::string(NodeStateName(n->state)) +
                        "; left to finish");
    } else if (d->active && !IsActive(n->state)) {
      actions.push_back("domain found running: adopted (console and ports attached again)");
      AdoptRunning(*n, "adopted by node.reconcile");
    } else if (!d->active && IsActive(n->state)) {
      actions.push_back("domain found off: handled as a stop");
      OnStopped(*n, "found off by node.reconcile");
    } else if (d->active && n->desired_running && n->hub && !n->hub->attached()) {
      actions.push_back("console reattached");
      AdoptRunning(*n, "console reattached by node.reconcile");
    }
    if (!Busy(n->state) && d != nullptr) {
      bool running = IsActive(n->state);
      if (n->desired_running && !running &&
          (n->state == NodeState::kDefined || n->state == NodeState::kStopped)) {
        actions.push_back("desired running: started");
        RequestStart(*n);
      } else if (!n->desired_running && running) {
        actions.push_back("desired stopped: stopping");
        BeginStop(*n, false, n->kind.shutdown_timeout);
      }
    }
    JsonWriter w;
    w.BeginObject().Key("node").Raw(NodeJson(*n)).Key("actions").BeginArray();
    for (const auto& a : actions) w.String(a);
    w.EndArray().EndObject();
    reply(w.Take());
  });
}

LabEngine::Node* LabEngine::NodeForNicChange(const std::string& lab, const std::string& node,
                                             const std::string& change, const Reply& reply) {
  Node* n = FindNode(lab, node);
  if (n == nullptr) {
    reply(NoNode(lab, node));
  } else if (Busy(n->state)) {
    reply(InvalidField("node", node + " is " + std::string(NodeStateName(n->state)) + "; " +
                                   change + " when it is running or stopped"));
    n = nullptr;
  }
  return n;
}

void LabEngine::AddNic(const std::string& lab, const std::string& node, Reply reply) {
  Node* n = NodeForNicChange(lab, node, "add NICs", reply);
  if (n == nullptr) return;
  int data = DataNics(n->metadata);
  if (data >= n->kind.max_nics) {
    return reply(InvalidField("node", node + " already has the " +
                                          std::to_string(n->kind.max_nics) +
                                          " data NICs its kind allows"));
  }
  providers::DomainSpec ds = DomainSpecFor(*n, data + 1);
  ds.macs_in_use = MacsInUse();
  auto built = providers::BuildDomain(ds);
  if (!built.ok())
    return reply(Internal(built.status().message()).WithField("node").WithSummary("NIC plan"));
  providers::NicMetadata added;
  for (const auto& nic : built->metadata.nics) {
    if (nic.role == providers::NicRole::kData && nic.index == data) added = nic;
  }
  if (n->unplug_pending.count(data)) {
    return reply(
        InvalidField("node", node + "'s NIC " + std::to_string(data) +
                                 " is still being released by the guest; restart the node first"));
  }
  std::string key = n->key;
  // Live when the VM runs: a failed boot leaves it up, so look at the bridge too.
  bool live = IsActive(n->state);
  for (const auto& nic : n->metadata.nics) live = live || OnBridge(nic.tap);
  hv_.AttachDevice(
      n->domain, providers::RenderNicXml(ds, added), [this, key, added, live, reply](Status st) {
        Node* n = FindNodeByKey(key);
        if (n == nullptr) return reply(InvalidField("node", key + " was removed meanwhile"));
        if (!st.ok()) {
          return reply(Internal(st.message()).WithField("node").WithSummary("NIC not added"));
        }
        n->metadata.nics.push_back(added);
        PersistMetadata(*n);
        JsonWriter w;
        w.BeginObject().Key("interface").String(added.interface);
        w.Key("tap").String(added.tap).Key("mac").String(added.mac).EndObject();
        Emit("node.nic.added", n, w.Take());
        if (!live) return reply(NodeJson(*n));
        plumber_.Plug(n->lab, n->name, {{added.tap, NicKey(added), "", ""}},
                      [this, key, reply](Status st) {
                        Node* n = FindNodeByKey(key);
                        if (n == nullptr) return reply(InvalidField("node", key + " gone"));
                        if (!st.ok()) {
                          return reply(Internal(st.message())
                                           .WithField("network")
                                           .WithSummary("NIC added but not on the bridge"));
                        }
                        reply(NodeJson(*n));
                      });
      });
}

void LabEngine::RemoveNic(const std::string& lab, const std::string& node, Reply reply) {
  Node* n = NodeForNicChange(lab, node, "remove NICs", reply);
  if (n == nullptr) return;
  int data = DataNics(n->metadata);
  if (data == 0) return reply(InvalidField("node", node + " has no data NIC to remove"));
  providers::NicMetadata last;
  for (const auto& nic : n->metadata.nics) {
    if (nic.role == providers::NicRole::kData && nic.index == data - 1) last = nic;
  }
  if (!last.link.empty()) {
    return reply(InvalidField("node", node + ":" + last.interface + " is in link " + last.link +
                                          "; delete the link first"));
  }
  std::string key = n->key;
  std::string device = providers::RenderNicXml(DomainSpecFor(*n, data), last);
  hv_.DetachDevice(n->domain, device, [this, key, last, reply](Status st) {
    Node* n = FindNodeByKey(key);
    if (n == nullptr) return reply(InvalidField("node", key + " was removed meanwhile"));
    if (!st.ok())
      return reply(Internal(st.message()).WithField("node").WithSummary("NIC not removed"));
    auto& nics = n->metadata.nics;
    nics.erase(std::remove_if(nics.begin(), nics.end(),
                              [&](const providers::NicMetadata& x) { return x.tap == last.tap; }),
               nics.end());
    PersistMetadata(*n);
    JsonWriter w;
    w.BeginObject().Key("interface").String(last.interface).Key("tap").String(last.tap);
    w.EndObject();
    Emit("node.nic.removed", n, w.Take());
    auto answer = [this, key, last, reply] {
      // A live PCI unplug completes only when the guest releases the device, which many network
      // OSes never do: the NIC is gone from the definition and off the bridge, and leaves the
      // VM at its next restart.
      hv_.GetXml(FindNodeByKey(key)->domain, true,
                 [this, key, last, reply](Result<std::string> xml) {
                   Node* n = FindNodeByKey(key);
                   if (n == nullptr) return reply(InvalidField("node", key + " gone"));
                   bool pending = xml.ok() && IsActive(n->state) &&
                                  xml->find("<target dev='" + last.tap + "'") != std::string::npos;
                   if (pending) n->unplug_pending.insert(last.index);
                   JsonWriter w;
                   w.BeginObject().Key("node").Raw(NodeJson(*n));
                   w.Key("removed").String(last.interface);
                   w.Key("pending_in_guest").Bool(pending).EndObject();
                   reply(w.Take());
                 });
    };
    if (!OnBridge(last.tap)) return answer();
    plumber_.RemovePorts({last.tap}, [this, key, answer, reply](Status st) {
      if (FindNodeByKey(key) == nullptr) return reply(InvalidField("node", key + " gone"));
      if (!st.ok()) {
        return reply(Internal(st.message())
                         .WithField("network")
                         .WithSummary("NIC removed but its port remains"));
      }
      answer();
    });
  });
}

}  // namespace labvirt::engine
