// NAT for a lab's management segment (issue 17): the plan (optional masquerade to the outside and
// host port forwards to nodes) and the nftables script that installs it as one table per lab.
//
// Pure functions, no I/O, callable from any thread. Applying the script is in nft.h.
//
// What the ruleset does, all inside the one table `ip <table>` (nothing else on the host is
// touched; deleting the table removes every rule of the lab):
//  - prerouting: dnat of each forward for traffic arriving from outside to any host address
//    (`fib daddr type local`);
//  - output: the same dnat for connections the host opens to its own non-loopback addresses.
//    127.0.0.1:PORT does not work: a packet with a loopback source routed out of another interface
//    is dropped unless route_localnet is set, which labvirt does not do. The host reaches nodes
//    directly at their management address anyway;
//  - postrouting: connections forwarded into the segment are masqueraded to the gateway address,
//    so a node answers them without a route to the outside (a router's default route is often in
//    its data plane); with `masquerade`, the nodes' traffic leaving by any other interface is
//    masqueraded to that interface's address;
//  - forward: accepts for the subnet in both directions. In nftables an accept ends only its own
//    base chain: a drop policy in another table's forward chain (iptables-nft's FORWARD under
//    Docker) still drops; those accepts document intent and cover an empty ruleset only.
// Every rule and the table carry a comment naming the lab or node.
//
// IPv4 only: the segment's IPv6 /64 is neither translated nor forwarded here.
#ifndef LABVIRT_ENGINE_MGMT_NAT_NAT_RULES_H_
#define LABVIRT_ENGINE_MGMT_NAT_NAT_RULES_H_

#include <string>
#include <string_view>
#include <vector>

#include "reactor/base/status.h"

namespace labvirt::engine::mgmt {

// Host `protocol` port `host_port` on every host address goes to `address`:`port`, the
// management IPv4 address of node `node`.
struct PortForward {
  std::string protocol = "tcp";  // "tcp" or "udp"
  int host_port = 0;
  std::string node;
  std::string address;
  int port = 0;
};

struct NatPlan {
  std::string lab;          // for comments
  std::string table;        // nft table name: "labvirt_" then [a-z0-9_], at most 32 bytes
  std::string interface;    // the gateway interface, the segment's host side (<= 15 bytes)
  std::string subnet_ipv4;  // "10.250.3.0/24": network address, no host bits
  bool masquerade = false;  // nodes' traffic leaving by any other interface is masqueraded
  std::vector<PortForward> forwards;
};

// OK, or InvalidArgument naming the field and why: lab or node names not 1-63 bytes of
// [A-Za-z0-9][A-Za-z0-9_.-]*, a bad table or interface name, a subnet that is not a network
// address/prefix, a port out of 1..65535, a protocol other than tcp/udp, an address that is not
// an IPv4 address inside the subnet (or is its network or broadcast address), the same host
// port and protocol twice. The field is "table", "interface", "subnet_ipv4", "forwards[i].port"…
Status ValidateNatPlan(const NatPlan& plan);

// The nft script (for `nft -f -`) that creates or replaces the table of `plan` in one atomic
// transaction: "add table", "delete table", then the whole table. A plan with no forwards and no
// masquerade still gets its table (forward accepts only). Precondition: ValidateNatPlan(plan)
// is OK (a broken invariant aborts: names reach the script only once validated).
std::string NatRuleset(const NatPlan& plan);

// The nft script that removes table `table` whether or not it exists. Precondition: `table` is
// a valid table name (IsValidTableName).
std::string RemoveNatScript(std::string_view table);

// True when `table` is "labvirt_" followed by [a-z0-9_], at most 32 bytes in all.
bool IsValidTableName(std::string_view table);

}  // namespace labvirt::engine::mgmt

#endif  // LABVIRT_ENGINE_MGMT_NAT_NAT_RULES_H_
