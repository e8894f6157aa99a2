// veth pairs for container nodes, through rtnetlink: the host end plays the role a VM's tap plays
// (a port of labvirt's OVS bridge), the guest end lives in the container's network namespace
// under the name the kind wants ("eth1").
//
// Blocking (see rtnetlink.h): worker threads only.
#ifndef LABVIRT_PROVIDERS_NETLINK_VETH_H_
#define LABVIRT_PROVIDERS_NETLINK_VETH_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reactor/base/status.h"

namespace labvirt::providers {

struct VethSpec {
  std::string host_name;   // host end (≤ 15 chars), e.g. the tap name labvirt chose
  std::string guest_name;  // container end's name inside the namespace, e.g. "eth1"
  std::string guest_mac;   // "52:54:00:..." ("" = kernel's choice)
  int netns_pid = 0;       // the container's init pid: the guest end is created in its netns
  int mtu = 0;             // 0 = default
};

// "52:54:00:aa:bb:cc" as 6 bytes; nullopt if it is not one.
std::optional<std::array<uint8_t, 6>> ParseMac(const std::string& mac);

// OK if `spec` can be sent: names 1..15 chars without '/', ':' or blanks (IFNAMSIZ, as
// dev_valid_name), a parseable MAC or "", a positive pid, a non-negative MTU. InvalidArgument
// naming the field otherwise.
Status ValidateVethSpec(const VethSpec& spec);

// RTM_NEWLINK of a veth pair whose peer is created directly in the netns of `netns_pid` with its
// final name and MAC; the host end up. The peer stays down: veth_newlink does configure the peer
// with the peer's ifinfomsg, but before the two ends are linked, so IFF_UP there makes veth_open
// fail the whole request with ENOTCONN (kernel 6.18; `ip link add a type veth peer name b up`
// fails the same way). LinkUpRequest, sent inside the namespace, brings it up. One message:
// nothing to undo if it fails. Pure, tested byte by byte. Precondition: ValidateVethSpec(spec).
std::string VethCreateRequest(const VethSpec& spec, uint32_t seq);
// RTM_NEWLINK (no NLM_F_CREATE: changes an existing link) setting IFF_UP on link `name`.
std::string LinkUpRequest(const std::string& name, uint32_t seq);
// RTM_DELLINK of the host link `name`.
std::string LinkDeleteRequest(const std::string& name, uint32_t seq);

// Creates the pair (VethCreateRequest), then brings the guest end up through a netlink socket
// opened inside the namespace (RtNetlink::OpenInNetnsOf); if that fails the pair is deleted
// again. InvalidArgument (before any syscall) for a bad spec; AlreadyExists if
// host_name exists (or guest_name exists in the namespace); NotFound if `netns_pid` is gone; the
// kernel's error (with its extended-ack text) otherwise.
Status CreateVeth(const VethSpec& spec);
// Deletes a link by name in the host netns (a veth's peer goes with it). OK if it does not exist.
Status DeleteLink(const std::string& name);
// Names of host links starting with `prefix` (for leftover sweeps), in the kernel's order.
Result<std::vector<std::string>> ListLinks(const std::string& prefix);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_NETLINK_VETH_H_
