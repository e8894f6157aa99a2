// NodeOps: the verbs that change one node outside its normal life: restart, wipe (a factory
// reset of its disk), and NIC hot-plug (add the next data NIC, remove the last).
#ifndef LABVIRT_ENGINE_LAB_NODE_OPS_H_
#define LABVIRT_ENGINE_LAB_NODE_OPS_H_

#include <string>

#include "engine/lab/engine_part.h"
#include "engine/lab/metadata_writer.h"
#include "engine/lab/node_life.h"

namespace labvirt::engine {

class NodeOps : public EnginePart {
 public:
  NodeOps(const EngineSeams& seams, LabStore& store, NodeLife& lifecycle, MetadataWriter& writer)
      : EnginePart(seams, store), lifecycle_(lifecycle), writer_(writer) {}

  // Stops the node (ACPI, forced after its timeout) and starts it again; its disk is kept.
  // A node that is not running is simply started. `wait`: reply once it is ready or failed.
  void RestartNode(const std::string& lab, const std::string& node, bool wait, Reply reply);
  // Recreates the node's overlay disk from its base image (a container node: the container from
  // its image). Refused while the node runs or is queued: stop it first.
  void WipeNode(const std::string& lab, const std::string& node, Reply reply);
  // Adds the node's next data NIC (live when it runs, and in its definition), up to the kind's
  // maximum. The new NIC is unlinked, on an isolated tag.
  void AddNic(const std::string& lab, const std::string& node, Reply reply);
  // Removes the node's last data NIC (so the guest's other interfaces keep their names).
  // Refused while that NIC is in a link.
  void RemoveNic(const std::string& lab, const std::string& node, Reply reply);

 private:
  // A container's wipe: defined again from its definition, so a fresh one from the image.
  void WipeContainer(Node& n, Reply reply);
  // The node whose NICs `change` ("add NICs") alters, or nullptr after replying why not (unknown
  // node, or one starting or stopping).
  Node* NodeForNicChange(const std::string& lab, const std::string& node, const std::string& change,
                         const Reply& reply);

  NodeLife& lifecycle_;
  MetadataWriter& writer_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_NODE_OPS_H_
