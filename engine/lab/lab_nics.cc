// LabEngine's look-ups of a running data NIC for live captures (engine/lab/lab_engine.h): what
// the control socket checks before it answers link.capture or node.nic.capture.
#include "engine/lab/lab_engine.h"

namespace labvirt::engine {

Result<NicTarget> LabEngine::RunningNic(const std::string& lab, const std::string& node,
                                        const std::string& interface) const {
  if (!store_.labs.count(lab)) return InvalidField("lab", "no lab named '" + lab + "'");
  const Node* n = store_.FindNode(lab, node);
  if (n == nullptr) return NoNode(lab, node);
  auto name = VendorInterface(*n->kind, interface);
  if (!name.ok()) return InvalidField("interface", name.status().message());
  const providers::NicMetadata* nic = nullptr;
  for (const auto& x : n->metadata.nics) {
    if (x.role == providers::NicRole::kData && x.interface == *name) nic = &x;
  }
  if (nic == nullptr) {
    return InvalidField("interface", node + " has no data interface " + *name + " (it has " +
                                         std::to_string(DataNics(n->metadata)) + ")");
  }
  // The tap exists, and is on the bridge, only while the VM runs past its start.
  if (n->state != NodeState::kBooting && n->state != NodeState::kReady) {
    return FailedPrecondition(node + " is " + std::string(NodeStateName(n->state)) +
                              ": its NICs exist only while it runs; start it, then capture")
        .WithField("node")
        .WithSummary("node not running");
  }
  return NicTarget{node, *name, nic->tap, nic->link};
}

Result<NicTarget> LabEngine::RunningLinkEnd(const std::string& lab, const std::string& link,
                                            const std::string& end) const {
  if (!store_.labs.count(lab)) return InvalidField("lab", "no lab named '" + lab + "'");
  const LinkRecord* rec = store_.FindLink(lab, link);
  if (rec == nullptr) return InvalidField("link", "no link '" + link + "' in " + lab);
  if (end == "a") return RunningNic(lab, rec->a_node, rec->a_interface);
  if (end == "b") return RunningNic(lab, rec->b_node, rec->b_interface);
  // Either end sees every frame of the link (only its two ports share the link's VLAN).
  auto a = RunningNic(lab, rec->a_node, rec->a_interface);
  if (a.ok()) return a;
  auto b = RunningNic(lab, rec->b_node, rec->b_interface);
  if (b.ok()) return b;
  return FailedPrecondition("neither end of " + link + " runs: " + a.status().message())
      .WithField("link")
      .WithSummary("node not running");
}

}  // namespace labvirt::engine
