// Choosing a lab's management subnets from a pool without colliding with the host's routes or
// other labs, and reading the host's routes. Pure apart from ReadHostRoutes; any thread.
#ifndef LABVIRT_ENGINE_MGMT_SUBNET_POOL_H_
#define LABVIRT_ENGINE_MGMT_SUBNET_POOL_H_

#include <string>
#include <string_view>
#include <vector>

#include "reactor/base/ip_prefix.h"
#include "reactor/base/status.h"

namespace labvirt::engine::mgmt {

// A prefix in use, and by what ("host route on eth0", "lab 'core'"), for error messages.
struct TakenPrefix {
  IpPrefix prefix;
  std::string by;
};

// The first subnet of `length` inside `pool` (in address order) that overlaps nothing in
// `taken`; prefixes of the other family are ignored. InvalidArgument when `length` is shorter than
// the pool or longer than the family allows, or the pool holds more than 2^63 such subnets;
// ResourceExhausted naming the pool and how many subnets it has when all are taken. Runs in
// O(|taken|^2), never in the number of subnets.
Result<IpPrefix> ChooseSubnet(const IpPrefix& pool, int length,
                              const std::vector<TakenPrefix>& taken);

// OK, or FailedPrecondition naming the first overlap:
// "subnet 10.1.0.0/24 overlaps 10.1.0.0/16 (host route on eth0)".
Status CheckSubnet(const IpPrefix& wanted, const std::vector<TakenPrefix>& taken);

// The host's routes from the text of /proc/net/route (IPv4: little-endian hex words, as the
// kernel prints a __be32 with %08X on x86; only the main table is listed there) and
// /proc/net/ipv6_route (32 hex digits and a hex length; all tables). Skips default routes (/0),
// IPv6 link-local fe80::/10 and multicast ff00::/8, routes on a device whose name starts with
// `skip_device_prefix` (labvirt's own gateway ports, whose subnets the caller knows by lab; ""
// skips none), and lines it cannot read (headers, truncation). `by` is "host route on DEV".
std::vector<TakenPrefix> ParseHostRoutes(std::string_view proc_net_route,
                                         std::string_view proc_net_ipv6_route,
                                         std::string_view skip_device_prefix);

// ParseHostRoutes over this host's /proc files; a missing file (no IPv6) contributes nothing.
// Blocking file reads of a few KB.
std::vector<TakenPrefix> ReadHostRoutes(std::string_view skip_device_prefix);

}  // namespace labvirt::engine::mgmt

#endif  // LABVIRT_ENGINE_MGMT_SUBNET_POOL_H_
