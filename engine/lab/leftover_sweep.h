// LeftoverSweep: lab.cleanup. Finds what labvirt owns but no node claims: OVS ports, overlay
// disks, console logs, and labvirt domains it could not adopt. Removes the first three unless
// `dry_run`; domains are only reported (their metadata is unreadable, so their ownership is not
// certain). Another instance's ports and domains are never touched.
#ifndef LABVIRT_ENGINE_LAB_LEFTOVER_SWEEP_H_
#define LABVIRT_ENGINE_LAB_LEFTOVER_SWEEP_H_

#include "engine/lab/engine_part.h"

namespace labvirt::engine {

class LeftoverSweep : public EnginePart {
 public:
  LeftoverSweep(const EngineSeams& seams, LabStore& store) : EnginePart(seams, store) {}

  void Cleanup(bool dry_run, Reply reply);
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_LEFTOVER_SWEEP_H_
