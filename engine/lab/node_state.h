// The node state machine. A node's state changes through LabEngine::SetState (adoption at
// reconcile aside), which refuses moves the machine does not allow: such a move is an engine bug,
// but one that outside events drive, so it fails that node (logged as an error) rather than
// aborting the daemon.
// docs/node-states.md draws the machine.
#ifndef LABVIRT_ENGINE_LAB_NODE_STATE_H_
#define LABVIRT_ENGINE_LAB_NODE_STATE_H_

#include <optional>
#include <string>
#include <string_view>

namespace labvirt::engine {

enum class NodeState {
  kDefined,   // the domain exists and is off; nothing is asked of it
  kQueued,    // a start was asked and waits for an admission slot
  kStarting,  // admitted: starting paused, attaching the console, plugging NICs, resuming
  kBooting,   // running; the console is watched for the readiness text
  kReady,     // the device said it is ready (or its kind has no readiness check)
  kStopping,  // a stop was asked: ACPI shutdown, forced off after the kind's timeout
  kStopped,   // off after a stop that labvirt asked for
  kCrashed,   // off without being asked (guest crash, QEMU died); the restart policy decides
  kFailed,    // gave up: boot failure after the retries, or an error starting it
};

std::string_view NodeStateName(NodeState state);
std::optional<NodeState> ParseNodeState(std::string_view name);

// True when the machine allows `from` -> `to`.
bool TransitionAllowed(NodeState from, NodeState to);

// True for states in which the VM is running (or being started).
bool IsActive(NodeState state);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_NODE_STATE_H_
