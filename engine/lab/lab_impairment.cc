// LinkBook's impairments (engine/lab/link_book.h): netem per direction of a link, on the tap of
// the end that receives it. With OVS's userspace datapath a frame from a to b leaves the host
// through b's tap, and a qdisc shapes what leaves through a device: so a_to_b sits on b's tap.
// tests/integration/netem_test.cc measures that on the wire.
#include <utility>

#include "engine/lab/link_book.h"
#include "reactor/base/join.h"
#include "reactor/base/log.h"

namespace labvirt::engine {

void LinkBook::RecordImpairment(const std::string& lab, const std::string& node,
                                const std::string& interface, const Impairment& imp) {
  Node* n = FindNode(lab, node);
  if (n == nullptr) return;
  for (auto& nic : n->metadata.nics) {
    if (nic.role == providers::NicRole::kData && nic.interface == interface) {
      nic.impairment = ImpairmentText(imp);
    }
  }
}

void LinkBook::SetImpairment(const std::string& lab, const std::string& link,
                             const Impairment& a_to_b, const Impairment& b_to_a, Reply reply) {
  if (!labs_.count(lab)) return reply(InvalidField("lab", "no lab named '" + lab + "'"));
  LinkRecord* rec = FindLink(lab, link);
  if (rec == nullptr) return reply(InvalidField("link", "no link '" + link + "' in " + lab));
  std::vector<ShapeStep> steps;
  // Ends not on the bridge (node stopped) get theirs when they start (ApplyLinkStates).
  std::string tap_b = TapOf(lab, rec->b_node, rec->b_interface);
  std::string tap_a = TapOf(lab, rec->a_node, rec->a_interface);
  if (OnBridge(tap_b)) steps.push_back({tap_b, a_to_b, rec->a_to_b, "a_to_b"});
  if (OnBridge(tap_a)) steps.push_back({tap_a, b_to_a, rec->b_to_a, "b_to_a"});
  auto record = [this, lab, link, a_to_b, b_to_a, reply] {
    LinkRecord* r = FindLink(lab, link);
    if (r == nullptr)
      return reply(InvalidField("link", "link '" + link + "' was deleted meanwhile"));
    r->a_to_b = a_to_b;
    r->b_to_a = b_to_a;
    RecordImpairment(lab, r->b_node, r->b_interface, a_to_b);
    RecordImpairment(lab, r->a_node, r->a_interface, b_to_a);
    const std::string json = LinkJson(*r);
    // Replied once both ends' metadata is written: the answer holds across a labvirtd crash.
    auto join = Join::Create([this, lab, json, reply](Status) {
      EmitFor("link.impairment", lab, "", json);
      reply(json);
    });
    for (const std::string& node : {r->a_node, r->b_node}) {
      if (Node* n = FindNode(lab, node)) writer_.PersistMetadata(*n, join->Step());
    }
    join->Seal();
  };
  Shape(std::move(steps), 0, std::move(record), std::move(reply));
}

void LinkBook::Shape(std::vector<ShapeStep> steps, size_t i, std::function<void()> then,
                     Reply reply) {
  if (i == steps.size()) return then();
  const std::string tap = steps[i].tap;
  const Impairment imp = steps[i].imp;
  plumber_.SetImpairment(
      tap, imp,
      [this, steps = std::move(steps), i, then = std::move(then),
       reply = std::move(reply)](Status st) mutable {
        if (st.ok()) return Shape(std::move(steps), i + 1, std::move(then), std::move(reply));
        // Put back what the earlier steps changed, so the link is as it was.
        for (size_t j = 0; j < i; ++j)
          plumber_.SetImpairment(steps[j].tap, steps[j].old, [](Status) {});
        reply(
            Internal(st.message()).WithField(steps[i].field).WithSummary("impairment not applied"));
      });
}

}  // namespace labvirt::engine
