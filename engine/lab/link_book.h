// LinkBook: a lab's links, all live (no VM restarts): created between two unlinked data
// interfaces, deleted, carrier up or down; wired on the bridge when both ends are plugged, and
// re-applied when one end is plugged again. Each link's id and carrier are kept in both ends'
// metadata (MetadataWriter), so they survive a labvirtd restart.
#ifndef LABVIRT_ENGINE_LAB_LINK_BOOK_H_
#define LABVIRT_ENGINE_LAB_LINK_BOOK_H_

#include <functional>
#include <string>
#include <vector>

#include "engine/lab/engine_part.h"
#include "engine/lab/metadata_writer.h"

namespace labvirt::engine {

class LinkBook : public EnginePart {
 public:
  LinkBook(const EngineSeams& seams, LabStore& store, MetadataWriter& writer)
      : EnginePart(seams, store), writer_(writer) {}

  // Links two unlinked data interfaces ("node:interface"; "ethN" means data NIC N-1) of a lab.
  // Interfaces beyond a node's NICs are refused (add NICs first with node.nic.add).
  void CreateLink(const std::string& lab, const std::string& a, const std::string& b, Reply reply);
  // Removes a link; both ends go back to isolated tags.
  void DeleteLink(const std::string& lab, const std::string& link, Reply reply);
  // Carrier up (both ends share the link's tag) or down (each end isolated).
  void SetLinkState(const std::string& lab, const std::string& link, bool up, Reply reply);

  // Records `rec`'s id on both NICs and, when both ends are on the bridge, joins them.
  void WireLink(const std::string& lab, const LinkRecord& rec, NetworkPlumber::Done done);
  // Clears the link id from both NICs and puts the ends on isolated tags.
  void UnwireLink(const std::string& lab, const LinkRecord& rec, NetworkPlumber::Done done);
  // Rejoins a link after one end was re-plugged, and reapplies a down carrier and the
  // impairments of the node's NICs.
  void ApplyLinkStates(Node& n, NetworkPlumber::Done done);
  // Sets link `link`'s impairment per direction ({} in both clears it): applied now on the ends
  // that are on the bridge (a_to_b on b's tap, b_to_a on a's), recorded on both NICs and persisted
  // in both nodes' metadata, so a restart of either end or of labvirtd applies it again. When the
  // kernel refuses, nothing is recorded and what was applied is put back.
  void SetImpairment(const std::string& lab, const std::string& link, const Impairment& a_to_b,
                     const Impairment& b_to_a, Reply reply);

 private:
  // Records `link` (empty: none) and whether its carrier is down on both ends' NICs and persists
  // both nodes' metadata; `then` runs once both writes are done, so a reply sent from it holds
  // across a labvirtd crash.
  void RecordLinkOnEnds(const std::string& lab, const LinkRecord& rec, const std::string& link,
                        bool down, std::function<void()> then);
  std::string TapOf(const std::string& lab, const std::string& node,
                    const std::string& interface) const;
  // One tap to shape now, what it gets, and what it had (put back if a later step fails).
  struct ShapeStep {
    std::string tap;
    Impairment imp;
    Impairment old;
    const char* field;  // the direction, for the client's error
  };
  // Applies steps[i..] one after the other, then runs `then`; on a refusal puts back steps[..i)
  // and answers `reply` with the error naming the direction.
  void Shape(std::vector<ShapeStep> steps, size_t i, std::function<void()> then, Reply reply);
  // Applies the impairment recorded on each of `n`'s linked NICs to its tap (failures logged).
  void ApplyImpairments(Node& n, NetworkPlumber::Done done);
  // Records `imp` (text form) on data NIC `interface` of `node`.
  void RecordImpairment(const std::string& lab, const std::string& node,
                        const std::string& interface, const Impairment& imp);

  MetadataWriter& writer_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_LINK_BOOK_H_
