// ReadinessPatternCache: one compiled ReadinessPatterns per distinct readiness spec, shared by
// every node that boots with it (readiness_patterns.h: "compile once per kind").
//
// Why: a Hyperscan streaming database of a kind's patterns is tens of KiB and takes milliseconds
// to compile. Compiled per node, 300 nodes of four kinds held 300 databases (labvirtd's RSS grew
// ~200 KiB a VM) and each boot compiled on the loop thread while other nodes' readiness text
// waited. Nodes share a database when their whole spec is equal — kind defaults, or the same
// per-node overrides — since the tracker also reads its timeouts and retries from it.
//
// Entries are weak: a database lives while a node's tracker holds it and is compiled again by
// the next node after the last one let go (a catalog reload's new patterns never meet an old
// database). Not thread-safe: the engine's loop thread only.
#ifndef LABVIRT_ENGINE_READINESS_READINESS_PATTERN_CACHE_H_
#define LABVIRT_ENGINE_READINESS_READINESS_PATTERN_CACHE_H_

#include <memory>
#include <string>
#include <unordered_map>

#include "engine/readiness/readiness_patterns.h"
#include "providers/device_kind.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

class ReadinessPatternCache {
 public:
  // The compiled patterns of `spec`: the ones already held by some node when their spec is
  // equal, else ReadinessPatterns::Compile(spec, kind) (its errors as they are; a failed
  // compile is not kept, so it is tried again).
  Result<std::shared_ptr<const ReadinessPatterns>> Get(const providers::ReadinessSpec& spec,
                                                       const std::string& kind);
  // Databases some node still holds (for tests and metrics).
  size_t live() const;

 private:
  std::unordered_map<std::string, std::weak_ptr<const ReadinessPatterns>> entries_;
};

// A string equal for two specs exactly when every field is equal (lengths before texts, so no
// pattern's text can imitate a separator).
std::string ReadinessSpecKey(const providers::ReadinessSpec& spec);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_READINESS_READINESS_PATTERN_CACHE_H_
