// MetadataWriter: writes a node's labvirt metadata into its domain (live and persistent), one
// write at a time per node: two in flight on the worker pool may land in either order, and an
// older snapshot landing last would undo the newer (seen: a link's carrier state lost).
#ifndef LABVIRT_ENGINE_LAB_METADATA_WRITER_H_
#define LABVIRT_ENGINE_LAB_METADATA_WRITER_H_

#include <functional>

#include "engine/lab/engine_part.h"

namespace labvirt::engine {

class MetadataWriter : public EnginePart {
 public:
  MetadataWriter(const EngineSeams& seams, LabStore& store) : EnginePart(seams, store) {}

  // Writes n's metadata; `then` (optional) runs after the write, whether it worked or not (a
  // failure is logged: the running VM is unaffected).
  void PersistMetadata(Node& n, std::function<void()> then = {});
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_METADATA_WRITER_H_
