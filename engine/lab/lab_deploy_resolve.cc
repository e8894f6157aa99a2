// Deployer (engine/lab/deployer.h), the first step of a deploy: the spec resolved against the
// catalog (kinds with the node's overrides, startup configs checked), links resolved to vendor
// interface names, and the new nodes' records. Pure look-ups: nothing is made here.
#include "engine/catalog/catalog_overrides.h"
#include "engine/catalog/startup_config.h"
#include "engine/lab/deployer.h"
#include "providers/config_medium.h"
#include "providers/interface_naming.h"
#include "providers/node_naming.h"
#include "providers/state_paths.h"

namespace labvirt::engine {
namespace {

NodeOverrides OverridesOf(const NodeSpec& s) {
  NodeOverrides o;
  o.memory_mb = s.memory_mb;
  o.vcpus = s.vcpus;
  o.nics = s.nics;
  o.machine = s.machine;
  o.disk_bus = s.disk_bus;
  o.nic_model = s.nic_model;
  o.cpu_mode = s.cpu_mode;
  o.cpu_model = s.cpu_model;
  o.idle_timeout_s = s.idle_timeout_s;
  o.overall_timeout_s = s.boot_timeout_s;
  if (!s.ready_patterns.empty()) o.readiness_success = s.ready_patterns;
  o.username = s.username;
  o.password = s.password;
  return o;
}

}  // namespace

Result<std::string> VendorInterface(const providers::DeviceKind& kind, const std::string& name) {
  auto index = providers::ResolveInterface(kind, name);
  if (!index.ok()) return index.status();
  return providers::InterfaceName(kind, *index);
}

std::string DeployJob::NodeField(const std::string& node, const std::string& member) const {
  size_t i = 0;
  while (i < spec.nodes.size() && spec.nodes[i].name != node) ++i;
  std::string path = "nodes[" + std::to_string(i) + "]";
  return member.empty() ? path : path + "." + member;
}

Result<std::map<std::string, providers::DeviceKind>> Deployer::ResolveKinds(
    const LabSpec& spec) const {
  std::map<std::string, providers::DeviceKind> resolved;
  for (size_t i = 0; i < spec.nodes.size(); ++i) {
    const NodeSpec& ns = spec.nodes[i];
    std::string path = "nodes[" + std::to_string(i) + "]";
    if (Status st = providers::ValidateName("node name", ns.name); !st.ok()) {
      return InvalidField(path + ".name", st.message());
    }
    auto kind = catalog_.Resolve(ns.kind);
    if (!kind.ok()) return InvalidField(path + ".kind", kind.status().message());
    auto applied = ApplyOverrides(*kind, OverridesOf(ns));
    if (!applied.ok()) return InvalidField(path, applied.status().message());
    if (!ns.binds.empty() && !providers::IsContainerKind(*applied)) {
      return InvalidField(path + ".binds", "kind " + applied->name +
                                               " runs VMs; only a container node mounts host "
                                               "directories");
    }
    if (ns.startup_config) {
      // Checked before anything is made: a bad config leaves every node and file as it was.
      Status st = CheckStartupConfig(*applied, ns.name, *ns.startup_config);
      if (!st.ok()) return InvalidField(path + ".startup_config", st.message());
    }
    resolved[ns.name] = std::move(applied).value();
  }
  return resolved;
}

Result<std::vector<LinkRecord>> Deployer::ResolveLinks(
    const LabSpec& spec, const std::map<std::string, providers::DeviceKind>& resolved) {
  // Both ends resolved to vendor interface names; one link per interface.
  std::set<std::string> used;
  std::vector<LinkRecord> links;
  for (size_t i = 0; i < spec.links.size(); ++i) {
    const LinkSpec& ls = spec.links[i];
    LinkRecord rec;
    for (int side = 0; side < 2; ++side) {
      const Endpoint& ep = side == 0 ? ls.a : ls.b;
      std::string field =
          "links[" + std::to_string(i) + "].endpoints[" + std::to_string(side) + "]";
      auto name = VendorInterface(resolved.at(ep.node), ep.interface);
      if (!name.ok()) return InvalidField(field, name.status().message());
      if (!used.insert(ep.node + ":" + *name).second) {
        return InvalidField(field, ep.node + ":" + *name + " is already in another link");
      }
      (side == 0 ? rec.a_node : rec.b_node) = ep.node;
      (side == 0 ? rec.a_interface : rec.b_interface) = *name;
    }
    rec.id = MakeLinkId({rec.a_node, rec.a_interface, rec.b_node, rec.b_interface});
    links.push_back(rec);
  }
  return links;
}

std::unique_ptr<Node> Deployer::NewNode(const std::string& lab, const NodeSpec& ns,
                                        const providers::DeviceKind& kind,
                                        const std::vector<LinkRecord>& links) const {
  auto n = std::make_unique<Node>();
  n->lab = lab;
  n->name = ns.name;
  n->key = NodeKey(lab, ns.name);
  n->kind_name = ns.kind;
  n->metadata.overrides_json = OverridesToJson(OverridesOf(ns));  // re-applied at reconcile
  n->kind = store_.kinds.Share(ns.kind, n->metadata.overrides_json, kind);
  n->cpu = lifecycle_.cpu_choices().Initial(*n->kind);
  n->image = ns.image;
  n->desired_running = ns.start;
  if (ns.startup_config) {
    n->config_bytes = static_cast<int64_t>(ns.startup_config->size());
    // A pasted config has no medium: its text is typed once the device is ready.
    if (kind.day0.method != "console") {
      n->config_medium =
          providers::Day0MediumPath(options_.state_dir, lab, ns.name, kind.day0.method);
    }
  }
  n->metadata.save_on_stop = ns.save_on_stop.value_or(false);
  // Placeholder NICs naming the node's links: the real plan comes from BuildDomain.
  for (const auto& l : links) {
    for (const auto& [node, interface] :
         {std::pair{l.a_node, l.a_interface}, std::pair{l.b_node, l.b_interface}}) {
      if (node != ns.name) continue;
      providers::NicMetadata nic;
      nic.interface = interface;
      nic.link = l.id;
      n->metadata.nics.push_back(nic);
    }
  }
  return n;
}

void Deployer::DeployBinds(uint64_t id) {
  DeployJob& job = *jobs_.at(id);
  std::vector<std::vector<providers::BindMount>> wanted;
  bool any = false;
  for (const NodeSpec& ns : job.node_specs) {
    wanted.push_back(ns.binds);
    any |= !ns.binds.empty();
  }
  if (!any) return DeployMgmt(id);
  using Resolved = std::vector<std::vector<Result<providers::BindMount>>>;
  Status st = OnWorker<std::shared_ptr<Resolved>>(
      [root = options_.bind_root, wanted] {
        auto r = std::make_shared<Resolved>();
        for (const auto& binds : wanted) {
          r->emplace_back();
          for (const auto& b : binds) r->back().push_back(providers::ResolveBindSource(root, b));
        }
        return r;
      },
      [this, id](std::shared_ptr<Resolved> r) {
        if (!jobs_.count(id)) return;
        DeployJob& job = *jobs_.at(id);
        for (size_t i = 0; i < r->size(); ++i) {
          for (size_t j = 0; j < (*r)[i].size(); ++j) {
            const auto& b = (*r)[i][j];
            if (!b.ok()) {
              return DeployFinish(
                  id, b.status(),
                  job.NodeField(job.nodes[i]->name, "binds[" + std::to_string(j) + "]"));
            }
          }
        }
        for (size_t i = 0; i < r->size(); ++i) {
          job.nodes[i]->metadata.binds.clear();
          for (auto& b : (*r)[i]) job.nodes[i]->metadata.binds.push_back(std::move(b).value());
        }
        DeployMgmt(id);
      });
  if (!st.ok()) DeployFinish(id, st);
}

}  // namespace labvirt::engine
