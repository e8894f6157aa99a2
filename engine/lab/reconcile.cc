// Reconciler (engine/lab/reconciler.h): rebuilding labs from libvirt. One pass over every domain
// and its labvirt metadata (no per-domain XML polling): adopt what matches, report foreign domains,
// and attach consoles and ports of the running ones again.
#include <map>
#include <memory>

#include "engine/catalog/catalog_overrides.h"
#include "engine/lab/reconciler.h"
#include "providers/node_naming.h"
#include "providers/state_paths.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {

void Reconciler::Reconcile(std::function<void(Status)> user_done) {
  reconciling_ = true;
  ++store_.foreign_changes;  // after a reconnect anything may have been defined meanwhile
  // Deploys that arrived meanwhile run once the labs are rebuilt (success or not), so that a
  // deploy never redefines a node the pass has not adopted yet.
  auto done = [this, user_done](Status st) {
    reconciling_ = false;
    reconciled_once_ = reconciled_once_ || st.ok();
    std::vector<std::function<void()>> waiting;
    waiting.swap(after_reconcile_);
    for (auto& f : waiting) f();
    user_done(st);
  };
  hv_.ListDomains([this, done](Result<std::vector<providers::DomainInfo>> domains) {
    if (!domains.ok()) return done(domains.status());
    std::map<Seen, int> seen;
    store_.other_instance_labs.clear();
    for (const auto& d : *domains) ++seen[ReconcileDomain(d)];
    LogInfo("reconciled", {{"adopted", std::to_string(seen[Seen::kAdopted])},
                           {"foreign", std::to_string(seen[Seen::kForeign])},
                           {"other_instances", std::to_string(seen[Seen::kOtherInstance])},
                           {"instance", options_.instance},
                           {"labs", std::to_string(labs_.size())}});
    JsonWriter w;
    w.BeginObject().Key("adopted").Int(seen[Seen::kAdopted]);
    w.Key("foreign").Int(seen[Seen::kForeign]);
    w.Key("other_instances").Int(seen[Seen::kOtherInstance]).EndObject();
    Emit("reconciled", nullptr, w.Take());
    done(Status::Ok());
  });
}

Reconciler::Seen Reconciler::ReconcileDomain(const providers::DomainInfo& d) {
  if (d.metadata.empty()) return Seen::kForeign;
  auto md =
      providers::ParseNodeMetadata("<domain><metadata>" + d.metadata + "</metadata></domain>");
  if (!md.ok()) {
    LogWarn("domain metadata unreadable; left alone",
            {{"domain", d.name}, {"error", md.status().ToString()}});
    return Seen::kSkipped;
  }
  if (md->instance != options_.instance) {
    // Another labvirtd's node (a second daemon with its own state dir): never adopted, started
    // or rewired here; its lab's name stays its own.
    store_.other_instance_labs[md->lab] = md->instance;
    return Seen::kOtherInstance;
  }
  if (Node* known = FindNode(md->lab, md->node)) {
    // Already tracked: only a state we missed while disconnected matters.
    if (!d.active && IsActive(known->state)) {
      lifecycle_.OnStopped(*known, "found stopped at reconcile");
    }
    if (known->start_after_reconnect) lifecycle_.StartAfterReconnect(*known, d.active);
    return Seen::kKnown;
  }
  auto kind = KindOf(*md, d.name);
  if (!kind.ok()) return Seen::kSkipped;
  if (!labs_.count(md->lab)) {
    auto lab = std::make_unique<Lab>();
    lab->name = md->lab;
    labs_[md->lab] = std::move(lab);
  }
  Lab& lab = *labs_[md->lab];
  RebuildLinks(lab, *md, d.name);
  Node* n = (lab.nodes[md->node] = NodeFrom(d, *md, *std::move(kind))).get();
  store_.IndexDomain(*n);
  if (d.active) {
    // Running: take the console back and put its ports on the bridge again.
    lifecycle_.AdoptRunning(*n, "adopted at reconcile");
  } else {
    n->state = n->desired_running ? NodeState::kStopped : NodeState::kDefined;
    n->reason = "adopted at reconcile";
    if (n->desired_running) lifecycle_.RequestStart(*n);
  }
  return Seen::kAdopted;
}

Result<SharedKind> Reconciler::KindOf(const providers::NodeMetadata& md,
                                      const std::string& domain) const {
  auto kind = catalog_.Resolve(md.kind);
  if (!kind.ok()) {
    LogWarn("domain of an unknown kind; left alone", {{"domain", domain}, {"kind", md.kind}});
    return kind.status();
  }
  // The node's own overrides (memory, NIC model, readiness patterns, …) apply again.
  auto overrides = OverridesFromJson(md.overrides_json);
  auto applied = overrides.ok() ? ApplyOverrides(*kind, *overrides)
                                : Result<providers::DeviceKind>(overrides.status());
  if (applied.ok()) return store_.kinds.Share(md.kind, md.overrides_json, *std::move(applied));
  LogWarn("node overrides not re-applied; using the kind's defaults",
          {{"domain", domain}, {"error", applied.status().ToString()}});
  return store_.kinds.Share(md.kind, "", *std::move(kind));
}

std::unique_ptr<Node> Reconciler::NodeFrom(const providers::DomainInfo& d,
                                           const providers::NodeMetadata& md,
                                           SharedKind kind) const {
  auto n = std::make_unique<Node>();
  n->lab = md.lab;
  n->name = md.node;
  n->key = NodeKey(md.lab, md.node);
  n->domain = d.name;
  n->kind_name = md.kind;
  n->kind = std::move(kind);
  n->cpu = md.cpu ? *md.cpu : lifecycle_.cpu_choices().Initial(*n->kind);
  n->image = md.image;
  // A container's image is its disk: no overlay.
  if (!providers::IsContainerKind(*n->kind)) {
    n->overlay = providers::OverlayPath(options_.state_dir, md.lab, md.node);
  }
  if (md.config_bytes > 0) {
    n->config_bytes = md.config_bytes;
    if (md.config_method != "console") {
      n->config_medium =
          providers::Day0MediumPath(options_.state_dir, md.lab, md.node, md.config_method);
    }
  }
  n->desired_running = md.desired_state != "stopped";
  auto readiness = ReadinessResult::FromJson(md.readiness_detail);
  if (readiness.ok()) n->readiness = *readiness;
  n->metadata = md;
  return n;
}

void Reconciler::RebuildLinks(Lab& lab, const providers::NodeMetadata& md,
                              const std::string& domain) {
  // Links are rebuilt from the NICs' link ids; the first end seen records the link.
  for (const auto& nic : md.nics) {
    if (nic.link.empty()) continue;
    LinkRecord* rec = nullptr;
    for (auto& l : lab.links) rec = l.id == nic.link ? &l : rec;
    if (rec == nullptr) {
      auto ends = ParseLinkId(nic.link);
      if (!ends) {
        LogWarn("link id in metadata unreadable; link not rebuilt",
                {{"domain", domain}, {"link", nic.link}});
        continue;
      }
      lab.links.push_back(LinkRecord{nic.link,
                                     ends->a_node,
                                     ends->a_interface,
                                     ends->b_node,
                                     ends->b_interface,
                                     !nic.link_down,
                                     {},
                                     {}});
      rec = &lab.links.back();
    }
    // Each NIC holds the direction it receives (lab_impairment.cc).
    auto imp = ParseImpairmentText(nic.impairment);
    if (!imp.ok()) {
      LogWarn("impairment in metadata unreadable", {{"domain", domain}, {"link", nic.link}});
      continue;
    }
    const bool b_end = rec->b_node == md.node && rec->b_interface == nic.interface;
    (b_end ? rec->a_to_b : rec->b_to_a) = *imp;
  }
}

void Reconciler::ReconcileNode(const std::string& lab, const std::string& node, Reply reply) {
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
      lifecycle_.AdoptRunning(*n, "adopted by node.reconcile");
    } else if (!d->active && IsActive(n->state)) {
      actions.push_back("domain found off: handled as a stop");
      lifecycle_.OnStopped(*n, "found off by node.reconcile");
    } else if (d->active && n->desired_running && n->hub && !n->hub->attached()) {
      actions.push_back("console reattached");
      lifecycle_.AdoptRunning(*n, "console reattached by node.reconcile");
    }
    if (!Busy(n->state) && d != nullptr) {
      bool running = IsActive(n->state);
      if (n->desired_running && !running &&
          (n->state == NodeState::kDefined || n->state == NodeState::kStopped)) {
        actions.push_back("desired running: started");
        lifecycle_.RequestStart(*n);
      } else if (!n->desired_running && running) {
        actions.push_back("desired stopped: stopping");
        lifecycle_.BeginStop(*n, false, n->kind->shutdown_timeout);
      }
    }
    JsonWriter w;
    w.BeginObject().Key("node").Raw(NodeJson(*n)).Key("actions").BeginArray();
    for (const auto& a : actions) w.String(a);
    w.EndArray().EndObject();
    reply(w.Take());
  });
}

void Reconciler::RunAfterPass(std::function<void()> f) { after_reconcile_.push_back(std::move(f)); }

}  // namespace labvirt::engine
