#include "engine/lab/node_state.h"

#include <array>

namespace labvirt::engine {
namespace {

constexpr std::array<std::pair<NodeState, std::string_view>, 9> kNames = {{
    {NodeState::kDefined, "defined"},
    {NodeState::kQueued, "queued"},
    {NodeState::kStarting, "starting"},
    {NodeState::kBooting, "booting"},
    {NodeState::kReady, "ready"},
    {NodeState::kStopping, "stopping"},
    {NodeState::kStopped, "stopped"},
    {NodeState::kCrashed, "crashed"},
    {NodeState::kFailed, "failed"},
}};

}  // namespace

std::string_view NodeStateName(NodeState state) {
  for (const auto& [s, name] : kNames) {
    if (s == state) return name;
  }
  return "unknown";
}

std::optional<NodeState> ParseNodeState(std::string_view name) {
  for (const auto& [s, n] : kNames) {
    if (n == name) return s;
  }
  return std::nullopt;
}

bool IsActive(NodeState s) {
  return s == NodeState::kStarting || s == NodeState::kBooting || s == NodeState::kReady ||
         s == NodeState::kStopping;
}

bool TransitionAllowed(NodeState from, NodeState to) {
  using S = NodeState;
  // Any state may fail (an error can strike anywhere) and any active state may crash.
  if (to == S::kFailed) return true;
  if (to == S::kCrashed) return IsActive(from);
  switch (from) {
    case S::kDefined:
    case S::kStopped:
    case S::kCrashed:
    case S::kFailed:
      // A start (queued), or adopting a domain found running at reconcile.
      return to == S::kQueued || to == S::kBooting || to == S::kReady || to == S::kDefined ||
             to == S::kStopped;
    case S::kQueued:
      return to == S::kStarting || to == S::kStopped || to == S::kDefined;
    case S::kStarting:
      return to == S::kBooting || to == S::kStopping || to == S::kStopped;
    case S::kBooting:
      // A boot retry (failure pattern with action restart, idle or overall timeout, retries
      // left) starts the VM again: booting -> starting. Not through the queue: the node keeps
      // its admission slot until ready, failed or stopped, so a retry never waits behind other
      // nodes' first boots nor lets one in while it restarts.
      return to == S::kReady || to == S::kStopping || to == S::kStopped || to == S::kStarting;
    case S::kReady:
      return to == S::kStopping || to == S::kStopped || to == S::kBooting || to == S::kQueued;
    case S::kStopping:
      return to == S::kStopped;
  }
  return false;
}

}  // namespace labvirt::engine
