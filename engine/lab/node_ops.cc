// NodeOps (engine/lab/node_ops.h): the node verbs beyond start and stop — restart, wipe, NIC
// hot-plug. Like the rest of the engine, each step runs on the loop and looks its node up again by
// key after every asynchronous call, because the node may be gone by then.
#include "engine/lab/node_ops.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "providers/config_medium.h"
#include "providers/overlay.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {
int DataNics(const providers::NodeMetadata& md) {
  int n = 0;
  for (const auto& nic : md.nics) n += nic.role == providers::NicRole::kData;
  return n;
}

void NodeOps::RestartNode(const std::string& lab, const std::string& node, bool wait, Reply reply) {
  Node* n = FindNode(lab, node);
  if (n == nullptr) return reply(NoNode(lab, node));
  if (n->state == NodeState::kStopping) {
    return reply(FailedPrecondition("wait until it stopped")
                     .WithField("node")
                     .WithSummary("node is stopping"));
  }
  if (!IsActive(n->state)) return lifecycle_.StartNode(lab, node, wait, std::move(reply));
  n->desired_running = true;
  n->crash_restarts = 0;
  n->restart_pending = true;  // OnStopped starts it again
  if (wait) n->restart_waiters.push_back(std::move(reply));
  // A starting node's guest has not run: off at once rather than ACPI until the timeout (unless
  // it is being adopted: that guest runs).
  lifecycle_.BeginStop(*n, /*force=*/n->state == NodeState::kStarting && !n->adopting,
                       n->kind->shutdown_timeout);
  if (!wait) reply(NodeJson(*n));
}

namespace {

struct Wiped {
  Status disk;  // the overlay (and NVRAM)
  Status day0;  // the config medium, made again from the saved text
};

// A wipe's file work (worker pool): a fresh overlay from the base (checked again under the image
// root), the NVRAM gone (libvirt copies the template at the next start), and the day-0 medium
// made again from its text, as the guest may have written to a FAT config disk.
Wiped WipeFiles(const providers::ImageConfig& config, const std::string& image,
                const std::string& overlay, const std::string& nvram, const std::string& medium,
                const std::string& text, const providers::Day0Spec& day0) {
  auto base = providers::ResolveImage(config, image);
  if (!base.ok()) return {base.status().WithContext("base image"), Status::Ok()};
  std::error_code ec;
  std::filesystem::remove(nvram, ec);
  if (ec) return {Internal("remove " + nvram + ": " + ec.message()), Status::Ok()};
  Status disk = providers::RecreateOverlay(*base, overlay);
  if (!disk.ok() || medium.empty()) return {disk, Status::Ok()};
  return {disk, providers::RebuildDay0Medium(day0, text, medium).WithContext("startup config")};
}

}  // namespace

void NodeOps::WipeNode(const std::string& lab, const std::string& node, Reply reply) {
  Node* n = FindNode(lab, node);
  if (n == nullptr) return reply(NoNode(lab, node));
  if (IsActive(n->state) || n->state == NodeState::kQueued) {
    return reply(InvalidField("node", node + " is " + std::string(NodeStateName(n->state)) +
                                          "; stop it before wiping its disk"));
  }
  if (providers::IsContainerKind(*n->kind)) return WipeContainer(*n, std::move(reply));
  if (n->overlay.empty())
    return reply(InvalidField("node", node + " has no disk (it was never defined)"));
  providers::ImageConfig config{options_.image_root, {}};
  std::string image = n->image, overlay = n->overlay, key = n->key;
  std::string nvram = providers::NvramPath(options_.state_dir, n->lab, n->name);
  std::string medium = n->config_medium;
  std::string text = providers::Day0TextPath(options_.state_dir, n->lab, n->name);
  providers::Day0Spec day0 = n->kind->day0;
  Status st = OnWorker<Wiped>(
      [config, image, overlay, nvram, medium, text, day0] {
        return WipeFiles(config, image, overlay, nvram, medium, text, day0);
      },
      [this, key, reply](Wiped wiped) {
        Node* n = FindNodeByKey(key);
        if (n == nullptr) return reply(InvalidField("node", key + " was removed during the wipe"));
        if (!wiped.disk.ok())
          return reply(Internal(wiped.disk.message()).WithField("node").WithSummary("wipe failed"));
        n->readiness = {};
        // A factory-fresh disk has forgotten a pasted config: typed again at the next boot.
        n->metadata.config_applied = false;
        // A medium that could not be made again shows in the node's config until a wipe works.
        n->config_error = wiped.day0.ok() ? "" : wiped.day0.message();
        writer_.PersistMetadata(*n);
        if (!wiped.day0.ok()) {
          return reply(Internal(wiped.day0.message()).WithField("node").WithSummary("wipe failed"));
        }
        JsonWriter w;
        w.BeginObject().Key("overlay").String(n->overlay).EndObject();
        Emit("node.wiped", n, w.Take());
        reply(NodeJson(*n));
      });
  if (!st.ok()) reply(Internal(st.message()).WithField("pool").WithSummary("busy"));
}

void NodeOps::WipeContainer(Node& n, Reply reply) {
  std::string key = n.key;
  auto wiped = [this, key, reply](Status st) {
    Node* n = FindNodeByKey(key);
    if (n == nullptr) return reply(InvalidField("node", key + " was removed during the wipe"));
    if (!st.ok()) return reply(Internal(st.message()).WithField("node").WithSummary("wipe failed"));
    n->readiness = {};
    n->metadata.config_applied = false;
    writer_.PersistMetadata(*n);
    Emit("node.wiped", n, "{\"container\":\"recreated\"}");
    reply(NodeJson(*n));
  };
  hv_.GetXml(n.domain, /*live=*/false, [this, wiped](Result<std::string> xml) {
    if (!xml.ok()) return wiped(xml.status());
    hv_.Define(std::move(xml).value(), wiped);
  });
}

Node* NodeOps::NodeForNicChange(const std::string& lab, const std::string& node,
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

void NodeOps::AddNic(const std::string& lab, const std::string& node, Reply reply) {
  Node* n = NodeForNicChange(lab, node, "add NICs", reply);
  if (n == nullptr) return;
  int data = DataNics(n->metadata);
  if (data >= n->kind->max_nics) {
    return reply(InvalidField("node", node + " already has the " +
                                          std::to_string(n->kind->max_nics) +
                                          " data NICs its kind allows"));
  }
  providers::DomainSpec ds = lifecycle_.DomainSpecFor(*n, data + 1);
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
        writer_.PersistMetadata(*n);
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

void NodeOps::RemoveNic(const std::string& lab, const std::string& node, Reply reply) {
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
  std::string device = providers::RenderNicXml(lifecycle_.DomainSpecFor(*n, data), last);
  hv_.DetachDevice(n->domain, device, [this, key, last, reply](Status st) {
    Node* n = FindNodeByKey(key);
    if (n == nullptr) return reply(InvalidField("node", key + " was removed meanwhile"));
    if (!st.ok())
      return reply(Internal(st.message()).WithField("node").WithSummary("NIC not removed"));
    auto& nics = n->metadata.nics;
    nics.erase(std::remove_if(nics.begin(), nics.end(),
                              [&](const providers::NicMetadata& x) { return x.tap == last.tap; }),
               nics.end());
    writer_.PersistMetadata(*n);
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
