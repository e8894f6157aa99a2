// ReadinessResult: what a node's boot readiness came to — small, copyable, and serialisable as
// one JSON object so the engine can keep it in the domain's <metadata> and a labvirtd restart
// does not forget that a node was ready (or why it failed).
#ifndef LABVIRT_ENGINE_READINESS_READINESS_RESULT_H_
#define LABVIRT_ENGINE_READINESS_READINESS_RESULT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "reactor/base/status.h"

namespace labvirt::engine {

enum class ReadinessState { kIdle, kBooting, kRestarting, kReady, kFailed };

// "idle", "booting", "restarting", "ready", "failed".
std::string_view ReadinessStateName(ReadinessState state);

struct ReadinessResult {
  ReadinessState state = ReadinessState::kIdle;
  int attempt = 0;           // 1 for the first boot, +1 per restart
  int percent = 0;           // last progress (100 once ready)
  std::string label;         // last progress label
  std::string pattern;       // the success or failure pattern that decided, if any
  std::string reason;        // why it failed / was restarted ("idle timeout after 30s", …)
  uint64_t text_offset = 0;  // where in the stripped console text of this boot the pattern matched
  uint64_t raw_offset = 0;   // raw console bytes of this boot read when it matched
  int64_t elapsed_ms = 0;    // from the start of this boot attempt to ready/failed

  bool operator==(const ReadinessResult&) const = default;

  // Compact JSON object with every field.
  std::string ToJson() const;
  // Parses ToJson() output; unknown keys are ignored, a wrong type or state is an error.
  static Result<ReadinessResult> FromJson(std::string_view json);
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_READINESS_READINESS_RESULT_H_
