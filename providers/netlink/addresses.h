// Interface addresses through rtnetlink (no `ip` process): request builders and a parser for the
// kernel's address messages (pure, tested byte by byte), and blocking calls that wait for a link,
// bring it up and give it exactly a set of addresses. Used for the host-side gateway of a lab's
// management segment (an OVS internal port, whose kernel interface ovs-vswitchd creates).
//
// Blocking (see rtnetlink.h): worker threads only, never the reactor's loop.
#ifndef LABVIRT_PROVIDERS_NETLINK_ADDRESSES_H_
#define LABVIRT_PROVIDERS_NETLINK_ADDRESSES_H_

#include <linux/netlink.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reactor/base/clock.h"
#include "reactor/base/ip_prefix.h"
#include "reactor/base/status.h"

namespace labvirt::providers {

// RTM_NEWADDR (NLM_F_CREATE|NLM_F_REPLACE: adding an address it has is not an error) of `p` on
// link `ifindex`, global scope, IFA_LOCAL and IFA_ADDRESS both `p`'s address as `ip addr add`
// sends them. IPv6 addresses carry IFA_F_NODAD (see addresses.cc). Pure.
std::string AddAddressRequest(int ifindex, const IpPrefix& p, uint32_t seq);
// RTM_DELADDR of `p` on link `ifindex`. Pure.
std::string DeleteAddressRequest(int ifindex, const IpPrefix& p, uint32_t seq);
// RTM_GETADDR dump of every address of every link (AF_UNSPEC). Pure.
std::string DumpAddressesRequest(uint32_t seq);

struct InterfaceAddress {
  int ifindex = 0;
  IpPrefix prefix;
  uint8_t scope = 0;  // RT_SCOPE_UNIVERSE (global), RT_SCOPE_LINK (fe80::/10), RT_SCOPE_HOST …
};
// The address in an RTM_NEWADDR message (a dump answer) of `len` bytes from `h`, or nullopt if it
// is not one or is malformed (kernel input: never CHECKed). IFA_LOCAL wins over IFA_ADDRESS (for
// a point-to-point IPv4 address IFA_ADDRESS is the peer's).
std::optional<InterfaceAddress> ParseAddressMessage(const nlmsghdr& h, size_t len);

// Waits until link `ifname` exists in the calling thread's netns, polling every 2 ms; its
// ifindex. DeadlineExceeded after `timeout`, naming the link.
Result<int> WaitForLink(const std::string& ifname, reactor::Duration timeout);
// Sets IFF_UP on link `ifname`. NotFound if there is no such link.
Status SetLinkUp(const std::string& ifname);
// Gives link `ifname` exactly the global addresses `cidrs`: removes the global addresses it has
// that are not in the list (link-local and host-scope ones stay), then adds (or refreshes) each
// listed one. InvalidArgument (before any change) for a bad entry; NotFound if there is no link;
// the kernel's error otherwise (the link may then hold part of the change).
Status SetAddresses(const std::string& ifname, const std::vector<std::string>& cidrs);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_NETLINK_ADDRESSES_H_
