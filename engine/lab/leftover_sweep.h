// LeftoverSweep: lab.cleanup. Finds what labvirt owns but no node claims: OVS ports, overlay
// disks, console logs, and labvirt domains it could not adopt. Removes the first three unless
// `dry_run`; domains are only reported (their metadata is unreadable, so their ownership is not
// certain). Another instance's ports and domains are never touched.
#ifndef LABVIRT_ENGINE_LAB_LEFTOVER_SWEEP_H_
#define LABVIRT_ENGINE_LAB_LEFTOVER_SWEEP_H_

#include <set>
#include <string>
#include <vector>

#include "engine/lab/engine_part.h"

namespace labvirt::engine {

class LeftoverSweep : public EnginePart {
 public:
  LeftoverSweep(const EngineSeams& seams, LabStore& store) : EnginePart(seams, store) {}

  void Cleanup(bool dry_run, Reply reply);

  struct Leftovers;  // what a sweep found (lab_cleanup.cc)

 private:
  // Labvirt domains no node claims: another instance's (foreign) or not adoptable (with why).
  void SortDomains(const std::vector<providers::DomainInfo>& domains,
                   const std::set<std::string>& known, Leftovers* found) const;
  // Answers with what was found (and removed unless `dry_run`), or with the ports' removal error.
  void Answer(bool dry_run, const Leftovers& found, const Status& st, const Reply& reply);
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_LEFTOVER_SWEEP_H_
