// Deployer (engine/lab/deployer.h): deploying labs. A deploy validates the whole lab first, then
// resolves images and creates overlays on the worker pool (lab_deploy_files.cc), then defines
// every domain; if any step fails, everything this deploy made is removed again, so no partial lab
// is left behind.
#include <sys/stat.h>
#include <unistd.h>

#include "engine/catalog/catalog_overrides.h"
#include "engine/catalog/startup_config.h"
#include "engine/lab/deployer.h"
#include "providers/config_medium.h"
#include "providers/image_check.h"
#include "providers/interface_naming.h"
#include "providers/node_naming.h"
#include "providers/state_paths.h"
#include "reactor/base/fault_point.h"
#include "reactor/base/join.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {
namespace {

// A node in one of these states has its memory in use, or will once admission lets it start.
bool HoldsMemory(NodeState s) {
  return s == NodeState::kQueued || s == NodeState::kStarting || s == NodeState::kBooting ||
         s == NodeState::kReady || s == NodeState::kStopping;
}

}  // namespace

std::string Deployer::OtherInstanceOf(const std::string& lab) const {
  if (labs_.count(lab)) return "";  // ours: we adopted or deployed it
  auto seen = store_.other_instance_labs.find(lab);
  if (seen != store_.other_instance_labs.end()) return seen->second;
  for (const auto& p : plumber_.OwnedPorts()) {
    if (p.lab == lab && p.instance != options_.instance) return p.instance;
  }
  return "";
}

void Deployer::Deploy(LabSpec spec, bool wait, Reply reply) {
  if (reconciler_.busy()) {
    // A deploy never redefines a node the pass has not adopted yet.
    auto held = std::make_shared<LabSpec>(std::move(spec));
    reconciler_.RunAfterPass([this, held, wait, reply = std::move(reply)]() mutable {
      Deploy(std::move(*held), wait, std::move(reply));
    });
    return;
  }
  if (Status st = providers::ValidateName("lab name", spec.name); !st.ok()) {
    return reply(InvalidField(spec.name_field, st.message()));
  }
  if (spec.use_saved_configs) return DeployFromSaved(std::move(spec), wait, std::move(reply));
  if (std::string other = OtherInstanceOf(spec.name); !other.empty()) {
    // Two instances' labs of one name would share link tags and port ownership on the bridge.
    return reply(
        InvalidField(spec.name_field, "lab '" + spec.name + "' belongs to labvirt instance '" +
                                          other + "' on this host (this daemon is instance '" +
                                          options_.instance + "'); choose another lab name"));
  }
  auto resolved = ResolveKinds(spec);
  if (!resolved.ok()) return reply(resolved.status());
  auto links = ResolveLinks(spec, *resolved);
  if (!links.ok()) return reply(links.status());
  if (auto it = store_.deploys_in_flight.find(spec.name); it != store_.deploys_in_flight.end()) {
    // One deploy of a lab at a time: nodes being made are not in the lab yet, so a second deploy
    // (a controller retrying, say) would make them again — same domains, same overlay files.
    // It runs once the first is over and converges on what that one made.
    auto held = std::make_shared<LabSpec>(std::move(spec));
    it->second.push_back([this, held, wait, reply = std::move(reply)]() mutable {
      Deploy(std::move(*held), wait, std::move(reply));
    });
    return;
  }
  Lab* existing = labs_.count(spec.name) ? labs_[spec.name].get() : nullptr;
  if (!spec.force) {
    // Refused before anything is made: nodes that can never all be in RAM at once would sit in
    // admission's memory gate (or swap the host to a halt) rather than fail fast.
    int64_t need_mib = 0;
    for (const NodeSpec& ns : spec.nodes) {
      if (ns.start && !(existing && existing->nodes.count(ns.name))) {
        need_mib += resolved->at(ns.name).memory_mb;
      }
    }
    // What this daemon's other nodes already hold counts too: a second lab that cannot fit beside
    // the first would otherwise start half its nodes and leave the rest queued for memory.
    int64_t held_mib = 0;
    for (const auto& [ln, lab] : labs_) {
      for (const auto& [nn, n] : lab->nodes) {
        if (HoldsMemory(n->state)) held_mib += n->kind->memory_mb;
      }
    }
    if (Status st = store_.admission.FitsHost(need_mib, held_mib); !st.ok()) return reply(st);
  }
  store_.deploys_in_flight[spec.name];
  for (NodeSpec& ns : spec.nodes) {
    if (!ns.save_on_stop) ns.save_on_stop = spec.save_on_stop;
  }
  auto job = std::make_unique<DeployJob>();
  job->id = store_.next_job_id++;
  job->wait = wait;
  job->reply = std::move(reply);
  for (const NodeSpec& ns : spec.nodes) {
    if (existing && existing->nodes.count(ns.name)) continue;  // converge: keep what exists
    job->nodes.push_back(NewNode(spec.name, ns, resolved->at(ns.name), *links));
    job->node_specs.push_back(ns);
  }
  if (!existing) {
    auto lab = std::make_unique<Lab>();
    lab->name = spec.name;
    labs_[spec.name] = std::move(lab);
  }
  job->links = std::move(links).value();  // the lab's links change only when the deploy succeeds
  job->spec = std::move(spec);
  uint64_t id = job->id;
  jobs_[id] = std::move(job);
  DeployBinds(id);
}

void Deployer::DeployMgmt(uint64_t id) {
  // The management segment is planned and made before any node: a subnet that clashes or a DHCP
  // server that cannot start fails the deploy with nothing else made.
  Lab& lab = *labs_.at(jobs_[id]->spec.name);
  if (Status st = mgmt_.Plan(*jobs_[id], lab); !st.ok()) {
    return DeployFinish(id, st, st.field().empty() ? "mgmt" : st.field());
  }
  mgmt_.BringUp(lab.name, [this, id](Status st) {
    if (!jobs_.count(id)) return;
    if (!st.ok()) return DeployFinish(id, st, "mgmt");
    DeployResolve(id);
  });
}

void Deployer::DeployResolve(uint64_t id) {
  DeployJob& job = *jobs_.at(id);
  providers::ImageConfig config{options_.image_root, {}};
  std::vector<std::string> refs;
  for (const auto& n : job.nodes) refs.push_back(n->image);
  struct Resolved {
    std::vector<Result<providers::ResolvedImage>> images;
    std::vector<bool> container;
  };
  Status st = OnWorker<std::shared_ptr<Resolved>>(
      [config, refs] {
        auto r = std::make_shared<Resolved>();
        for (const auto& ref : refs) {
          auto route = providers::RouteImage(config, ref);
          r->container.push_back(route.ok() && *route == providers::ProviderKind::kDocker);
          r->images.push_back(route.ok() && *route == providers::ProviderKind::kDocker
                                  ? Result<providers::ResolvedImage>(NotFound("container"))
                                  : providers::ResolveImage(config, ref));
        }
        return r;
      },
      [this, id](std::shared_ptr<Resolved> r) {
        if (!jobs_.count(id)) return;
        DeployJob& job = *jobs_.at(id);
        for (size_t i = 0; i < job.nodes.size(); ++i) {
          Node& n = *job.nodes[i];
          if (r->container[i] != providers::IsContainerKind(*n.kind)) {
            // A VM kind with a container image, or the other way round: the node's own error;
            // the rest of the lab deploys.
            n.state = NodeState::kFailed;
            n.reason = r->container[i]
                           ? "image '" + n.image + "' is a container image, but kind " +
                                 n.kind->name + " runs VMs from disk images"
                           : "kind " + n.kind->name + " runs containers, but image '" + n.image +
                                 "' is not a container image reference (name:tag)";
            continue;
          }
          if (r->container[i]) {
            // The image stays a reference: dockerd has it (checked at define), no overlay.
            n.metadata.image = n.image;
            n.overlay.clear();
            n.readiness = {};
            continue;
          }
          if (!r->images[i].ok()) {
            return DeployFinish(id, r->images[i].status(),
                                job.NodeField(job.nodes[i]->name, "image"));
          }
          job.nodes[i]->image = r->images[i]->path;
          job.nodes[i]->metadata.image = r->images[i]->path;
          job.nodes[i]->overlay =
              providers::OverlayPath(options_.state_dir, job.nodes[i]->lab, job.nodes[i]->name);
          job.nodes[i]->readiness = {};
          job.nodes[i]->base = *r->images[i];
        }
        WithHostMacs(id, [this, id] { DeployDefine(id, MacsInUse()); });
      });
  if (!st.ok()) DeployFinish(id, st);
}

void Deployer::WithHostMacs(uint64_t id, std::function<void()> then) {
  if (store_.host_macs_at == store_.foreign_changes) return then();
  uint64_t at = store_.foreign_changes;
  hv_.ListMacs([this, id, at, then](Result<std::vector<std::string>> macs) {
    if (!jobs_.count(id)) return;
    if (!macs.ok()) return DeployFinish(id, macs.status());
    store_.host_macs.clear();
    for (const auto& m : *macs) store_.host_macs.insert(providers::NormalizeMac(m));
    store_.host_macs_at = at;  // a domain defined meanwhile makes the next deploy walk again
    then();
  });
}

void Deployer::DeployDefine(uint64_t id, std::set<std::string> macs_in_use) {
  DeployJob& job = *jobs_.at(id);
  std::set<std::string> tags;
  for (const auto& [ln, lab] : labs_) {
    for (const auto& [nn, node] : lab->nodes) tags.insert(node->metadata.tag);
  }
  for (size_t i = 0; i < job.nodes.size(); ++i) {
    Node& n = *job.nodes[i];
    if (n.state == NodeState::kFailed) continue;
    // The default instance keeps the tags (so domain and tap names) it always had; any other
    // hashes its name in, so its domains never take another instance's names.
    std::string tag_lab =
        options_.instance == providers::kDefaultInstance ? n.lab : options_.instance + "/" + n.lab;
    auto tag = providers::AllocateNodeTag(tag_lab, n.name, tags);
    if (!tag.ok()) return DeployFinish(id, tag.status(), job.NodeField(n.name, ""));
    tags.insert(*tag);
    n.metadata.tag = *tag;
    // The config as the device reads it: its management placeholders filled in (Plan gave the
    // node its address).
    auto config = ExpandMgmtPlaceholders(job.node_specs[i].startup_config.value_or(""), n.name,
                                         n.metadata.mgmt);
    if (!config.ok()) {
      return DeployFinish(id, config.status(), job.NodeField(n.name, "startup_config"));
    }
    if (!config->empty()) n.config_bytes = static_cast<int64_t>(config->size());
    providers::DomainSpec ds = lifecycle_.DomainSpecFor(n, job.node_specs[i].nics.value_or(-1));
    ds.macs_in_use = macs_in_use;
    auto built = providers::BuildDomain(ds);
    if (!built.ok()) {
      return DeployFinish(id, built.status().WithContext(n.name), job.NodeField(n.name, ""));
    }
    for (const auto& nic : built->metadata.nics) macs_in_use.insert(nic.mac);
    n.domain = built->name;
    n.metadata = built->metadata;
    job.builds.push_back({n.name, built->name, built->xml, n.overlay, n.base,
                          providers::LogDir(options_.state_dir, n.lab),
                          providers::NvramDir(options_.state_dir, n.lab), n.kind->day0, *config,
                          providers::Day0TextPath(options_.state_dir, n.lab, n.name),
                          n.config_medium});
  }
  DeployFiles(id);
}

bool Deployer::ContainerFailed(DeployJob& job, const std::string& node, const Status& st) {
  for (auto& n : job.nodes) {
    if (n->name != node || !providers::IsContainerKind(*n->kind)) continue;
    // dockerd's refusal (image not here, a name taken, dockerd down) is this node's: it stays
    // in the lab as failed, saying why, and the rest of the lab deploys.
    n->state = NodeState::kFailed;
    n->reason = "container: " + st.message();
    n->domain.clear();
    return true;
  }
  return false;
}

// Defines in flight at once. libvirtd serves calls on several threads, and a define spends most
// of its time in libvirtd writing the domain's config file; one after another, 300 defines were
// a few seconds of a deploy's lead-in before the first node could start.
constexpr size_t kDefinesInFlight = 4;

void Deployer::DefineMore(uint64_t id) {
  // hv_.Define may answer before it returns (DefineDone runs DefineMore again inside it), so the
  // job is looked up afresh after each call: a nested pass may have finished the deploy.
  for (;;) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    DeployJob& job = *it->second;
    if (job.define_failed == SIZE_MAX && job.define_next < job.builds.size() &&
        job.defines_open < kDefinesInFlight) {
      size_t i = job.define_next++;
      ++job.defines_open;
      hv_.Define(job.builds[i].xml, [this, id, i](Status st) { DefineDone(id, i, std::move(st)); });
      continue;
    }
    // Nothing more to ask for: the last define to answer finishes the deploy.
    if (job.defines_open > 0) return;
    if (job.define_failed == SIZE_MAX) return DeployFinish(id, Status::Ok());
    return DeployFinish(id, job.define_error,
                        job.NodeField(job.builds[job.define_failed].node, ""));
  }
}

void Deployer::DefineDone(uint64_t id, size_t i, Status st) {
  if (!jobs_.count(id)) return;
  DeployJob& job = *jobs_.at(id);
  --job.defines_open;
  if (st.ok()) {
    job.defined.insert(job.builds[i].domain);
    FaultPoint("define");
  } else if (!ContainerFailed(job, job.builds[i].node, st) && i < job.define_failed) {
    // A container dockerd refused fails alone (ContainerFailed); anything else fails the deploy.
    job.define_failed = i;
    job.define_error = std::move(st);
  }
  DefineMore(id);
}

void Deployer::DeployFinish(uint64_t id, Status st, std::string field) {
  auto node = jobs_.extract(id);
  std::unique_ptr<DeployJob> job = std::move(node.mapped());
  if (!labs_.count(job->spec.name)) {
    // lab.destroy ran while this deploy was in flight: what the deploy made goes too (the
    // rollback below removes the lab again once it is empty).
    if (st.ok()) st = FailedPrecondition("the lab was destroyed while it was being deployed");
    labs_[job->spec.name] = std::make_unique<Lab>();
    labs_[job->spec.name]->name = job->spec.name;
  }
  Lab& lab = *labs_.at(job->spec.name);
  if (!st.ok()) return DeployFailed(std::move(job), lab, std::move(st), std::move(field));
  std::set<std::string> new_nodes;
  for (const auto& n : job->nodes) new_nodes.insert(n->name);
  std::vector<Node*> to_start = AddDeployedNodes(lab, *job);
  mgmt_.Refresh(lab.name);  // before any new node asks for its address
  // The answer waits for both: the links and node removals converged, and (with `wait`) every
  // node on its way up ready or failed. A reply means the lab is as asked.
  std::string lab_name = lab.name;
  auto answer = Join::Create([this, lab_name, reply = std::move(job->reply)](Status) {
    mgmt_.Refresh(lab_name);  // nodes the re-deploy removed lose their leases and forwards
    reply(GetLab(lab_name));
  });
  ConvergeExisting(lab, *job, new_nodes, [this, lab_name, converged = answer->Step()] {
    ReleaseDeploy(lab_name);  // the lab is as this deploy asked: the next may look at it
    converged();
  });
  EmitFor("lab.deployed", lab.name, "", "{\"lab\":\"" + lab.name + "\"}");
  if (job->wait) {
    // The answer comes once every node on its way up — started now, or already queued, starting
    // or booting (adopted at reconcile, say) — is ready or failed.
    std::vector<Node*> to_wait = to_start;
    for (auto& [name, n] : lab.nodes) {
      if (n->desired_running &&
          (n->state == NodeState::kQueued || n->state == NodeState::kStarting ||
           n->state == NodeState::kBooting)) {
        to_wait.push_back(n.get());
      }
    }
    for (Node* n : to_wait)
      n->waiters.push_back([end = answer->Step()](Result<std::string>) { end(); });
  }
  for (Node* n : to_start) lifecycle_.RequestStart(*n);
  answer->Seal();
}

void Deployer::DeployFailed(std::unique_ptr<DeployJob> job, Lab& lab, Status st,
                            std::string field) {
  LogWarn("deploy failed; rolling back", {{"lab", lab.name}, {"error", st.ToString()}});
  Reply reply = std::move(job->reply);
  std::string lab_name = lab.name;
  RollBack(std::move(job->nodes), std::move(job->defined), [this, reply, st, lab_name, field] {
    auto answer = [reply, st, field] {
      // Whatever failed (a name, an image, libvirt), the client hears -32602 naming the field.
      reply(InvalidArgument(st.message()).WithField(field).WithSummary("deploy failed"));
    };
    if (!labs_.count(lab_name) || !labs_[lab_name]->nodes.empty()) {
      ReleaseDeploy(lab_name);
      return answer();
    }
    // A lab this deploy made goes again, its management segment first.
    mgmt_.TearDown(lab_name, [this, lab_name, answer] {
      if (labs_.count(lab_name) && labs_[lab_name]->nodes.empty()) labs_.erase(lab_name);
      ReleaseDeploy(lab_name);
      answer();
    });
  });
}

void Deployer::ReleaseDeploy(const std::string& lab) {
  auto it = store_.deploys_in_flight.find(lab);
  if (it == store_.deploys_in_flight.end()) return;
  std::deque<std::function<void()>> waiting = std::move(it->second);
  store_.deploys_in_flight.erase(it);
  // In order, each on a clean stack: the first takes the lab again and the rest queue behind it.
  for (auto& deploy : waiting) Defer(std::move(deploy));
}

std::vector<Node*> Deployer::AddDeployedNodes(Lab& lab, DeployJob& job) {
  std::vector<Node*> to_start;
  for (auto& n : job.nodes) {
    Node* raw = n.get();
    lab.nodes[n->name] = std::move(n);
    store_.IndexDomain(*raw);
    JsonWriter w;
    w.BeginObject().Key("state").String(NodeStateName(raw->state)).Key("previous").String("");
    w.Key("reason").String(raw->reason).EndObject();
    Emit("node.state", raw, w.Take());
    if (raw->state != NodeState::kFailed && raw->desired_running) to_start.push_back(raw);
  }
  // Nodes the lab had already that should run but do not (stopped or only defined) start too.
  for (auto& [name, n] : lab.nodes) {
    if (n->desired_running &&
        (n->state == NodeState::kDefined || n->state == NodeState::kStopped) &&
        std::find(to_start.begin(), to_start.end(), n.get()) == to_start.end()) {
      to_start.push_back(n.get());
    }
  }
  return to_start;
}

void Deployer::ConvergeExisting(Lab& lab, const DeployJob& job,
                                const std::set<std::string>& new_nodes,
                                std::function<void()> done) {
  auto join = Join::Create([done](Status) { done(); });
  // One branch of the join that logs a link change that failed.
  auto logged = [lab = lab.name, join] {
    return [lab, end = join->Step()](Status st) {
      if (!st.ok())
        LogWarn("re-deploy: link not converged", {{"lab", lab}, {"error", st.ToString()}});
      end();
    };
  };
  auto has = [](const std::vector<LinkRecord>& links, const std::string& id) {
    for (const auto& l : links) {
      if (l.id == id) return true;
    }
    return false;
  };
  std::vector<LinkRecord> old_links = std::move(lab.links);
  lab.links = job.links;
  for (const auto& l : old_links) {
    if (has(job.links, l.id)) continue;
    links_.UnwireLink(lab.name, l, logged());
  }
  // New nodes were defined with their links; an existing node learns of a new link here.
  for (const auto& l : job.links) {
    if (!has(old_links, l.id) && (!new_nodes.count(l.a_node) || !new_nodes.count(l.b_node))) {
      links_.WireLink(lab.name, l, logged());
    }
  }
  // Nodes the lab no longer lists are destroyed.
  std::set<std::string> wanted;
  for (const auto& ns : job.spec.nodes) wanted.insert(ns.name);
  std::vector<std::string> unwanted;  // collected first: DestroyNode may finish synchronously
  for (const auto& [name, n] : lab.nodes) {
    if (!wanted.count(name)) unwanted.push_back(name);
  }
  for (const auto& node : unwanted) {
    std::string lab_name = lab.name;
    DestroyNode(
        NodeKey(lab_name, node), [this, lab_name, node, one_done = join->Step()](Status st) {
          if (!st.ok()) {
            // Kept (failed) while its domain exists, so that a later destroy can try again.
            LogWarn("re-deploy: node not removed", {{"node", node}, {"error", st.message()}});
            if (Node* n = FindNode(lab_name, node))
              SetState(*n, NodeState::kFailed, "not removed: " + st.message());
            return one_done();
          }
          if (Node* n = FindNode(lab_name, node)) {
            store_.ForgetDomain(*n);
            labs_.at(lab_name)->nodes.erase(node);
          }
          EmitFor("node.removed", lab_name, node, "{}");
          one_done();
        });
  }
  join->Seal();
}

}  // namespace labvirt::engine
