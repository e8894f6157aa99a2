// Deployer::DeployFromSaved (engine/lab/deployer.h): lab.deploy's use_saved_configs.
#include "engine/lab/deployer.h"
#include "providers/node_naming.h"
#include "providers/saved_configs.h"

namespace labvirt::engine {

void Deployer::DeployFromSaved(LabSpec spec, bool wait, Reply reply) {
  spec.use_saved_configs = false;
  auto resolved = ResolveKinds(spec);
  if (!resolved.ok()) return reply(resolved.status());
  // The nodes that may take one: no config given, a kind that takes a startup config.
  std::vector<size_t> wanted;
  for (size_t i = 0; i < spec.nodes.size(); ++i) {
    const NodeSpec& ns = spec.nodes[i];
    if (!ns.startup_config && !resolved->at(ns.name).day0.method.empty()) wanted.push_back(i);
  }
  auto held = std::make_shared<LabSpec>(std::move(spec));
  Status st = OnWorker<int>(
      [held, wanted, dir = options_.state_dir] {
        for (size_t i : wanted) {
          NodeSpec& ns = held->nodes[i];
          if (!providers::ValidateName("node", ns.name).ok()) continue;  // refused later
          auto saved = providers::LoadSavedConfig(dir, held->name, ns.name, "latest");
          if (saved.ok()) ns.startup_config = std::move(saved->text);
        }
        return 0;
      },
      [this, held, wait, reply](int) { Deploy(std::move(*held), wait, reply); });
  if (!st.ok()) reply(Internal(st.message()).WithField("pool").WithSummary("busy"));
}

}  // namespace labvirt::engine
