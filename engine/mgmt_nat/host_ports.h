// Whether the host ports of a lab's forwards are free: not forwarded by another lab, and not
// taken by a socket on the host (a forward would shadow it: the dnat happens before the socket
// could see the packet).
//
// A socket counts when it listens (TCP state LISTEN) or is an unconnected UDP socket, on any
// address but a loopback one (forwards apply to non-loopback addresses only, nat_rules.h). An
// IPv6 socket counts too: a dual-stack one receives IPv4 as well, and /proc does not say which.
#ifndef LABVIRT_ENGINE_MGMT_NAT_HOST_PORTS_H_
#define LABVIRT_ENGINE_MGMT_NAT_HOST_PORTS_H_

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/mgmt_nat/nat_rules.h"
#include "reactor/base/status.h"

namespace labvirt::engine::mgmt {

// The text of /proc/net/{tcp,tcp6,udp,udp6}; a missing file (no IPv6) is empty.
struct HostSockets {
  std::string tcp;
  std::string tcp6;
  std::string udp;
  std::string udp6;
};

// Blocking (reads /proc): the host's sockets now. Internal when /proc/net/tcp cannot be read.
Result<HostSockets> ReadHostSockets();

// The local ports of the sockets in one /proc/net/{tcp,udp}[6] text that take a port (see above):
// state 0A (LISTEN) when `udp` is false, 07 (unconnected) when true; loopback addresses skipped.
// Lines that do not parse are ignored. Pure.
std::set<int> TakenPorts(std::string_view proc_net_text, bool udp);

// OK, or AlreadyExists naming the first host port of `forwards` that is forwarded in
// `other_labs` (the forwards of every other lab on the host) or taken in `sockets`. Pure.
Status CheckHostPortsFree(const std::vector<PortForward>& forwards,
                          const std::vector<PortForward>& other_labs, const HostSockets& sockets);

// The same against the host's sockets now (ReadHostSockets). Blocking.
Status CheckHostPortsFree(const std::vector<PortForward>& forwards,
                          const std::vector<PortForward>& other_labs);

}  // namespace labvirt::engine::mgmt

#endif  // LABVIRT_ENGINE_MGMT_NAT_HOST_PORTS_H_
