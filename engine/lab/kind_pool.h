// KindPool: one copy of each resolved device kind, shared by the nodes that resolve to it.
//
// A node keeps the kind it was defined with (its catalog entry with the node's overrides applied:
// memory, NIC model, readiness patterns, …). A copy per node cost ~2 KB inline plus its strings in
// every node record; in a lab of 50 nodes of three kinds, 47 of those copies were the same bytes,
// and a query that walks a lab read them all (issue 20: records read cold at 5000 nodes). Nodes
// that resolve to the same (kind name, overrides) now share one immutable copy.
//
// The catalog is immutable for the daemon's life, so a key names the same kind every time it
// is asked for. Entries are weak: a kind no node holds any more is freed, and its entry dropped at
// a later Share. Single-threaded (the reactor's).
#ifndef LABVIRT_ENGINE_LAB_KIND_POOL_H_
#define LABVIRT_ENGINE_LAB_KIND_POOL_H_

#include <map>
#include <memory>
#include <string>

#include "providers/device_kind.h"

namespace labvirt::engine {

using SharedKind = std::shared_ptr<const providers::DeviceKind>;

class KindPool {
 public:
  // The shared copy of the kind named `kind_name` with `overrides_json` applied (OverridesToJson;
  // "" for none). `resolved` is that kind, used when no node holds it yet.
  SharedKind Share(const std::string& kind_name, const std::string& overrides_json,
                   providers::DeviceKind resolved);
  // Kinds held by some node now.
  size_t size() const;

 private:
  std::map<std::string, std::weak_ptr<const providers::DeviceKind>> kinds_;
  size_t shares_ = 0;
};

// An empty kind, for a node record before its kind is resolved (never null, so a reader need
// not check).
const SharedKind& NoKind();

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_KIND_POOL_H_
