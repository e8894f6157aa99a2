// Fault points: named places in labvirtd where a test makes the daemon die as a crash would
// (SIGKILL to itself), to prove that a labvirtd killed at any step of a node's life converges
// after a restart and leaks nothing (tests/integration/fault_test.cc, docs/reliability.md).
//
// Armed only by the environment: LABVIRT_FAULT_KILL_AT=<point>[,<point>…], read once at the first
// point reached. Unset (every real run), a point costs a test of one bool. The points:
//   define        a node's domain was defined by libvirt (deploy)
//   start_paused  a node's domain started paused (its QEMU runs, no console yet)
//   console_open  labvirt opened the node's console PTY
//   ports_plugged the node's NICs are on the OVS bridge, the VM still paused
//   resumed       the VM was resumed, the node not yet `booting`
//   ready         the node became `ready`
//   stopping      a node's ACPI shutdown was sent
//   destroy       a node's domain was destroyed, not yet undefined (lab.destroy)
#ifndef LABVIRT_REACTOR_BASE_FAULT_POINT_H_
#define LABVIRT_REACTOR_BASE_FAULT_POINT_H_

#include <string>
#include <string_view>
#include <vector>

namespace labvirt {

// Kills this process with SIGKILL when `name` is armed; otherwise returns at once.
void FaultPoint(std::string_view name);

// The armed points (empty in every real run): labvirtd logs them at start, loudly.
const std::vector<std::string>& ArmedFaultPoints();

}  // namespace labvirt

#endif  // LABVIRT_REACTOR_BASE_FAULT_POINT_H_
