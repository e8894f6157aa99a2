// What one management segment's dnsmasq is told: its configuration file and its static-lease
// (dhcp-hostsfile) file, rendered from values, and the checks that make those values safe to
// render (nothing a caller passes can add a line to either file). Pure; any thread.
#ifndef LABVIRT_ENGINE_MGMT_DNSMASQ_CONFIG_H_
#define LABVIRT_ENGINE_MGMT_DNSMASQ_CONFIG_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reactor/base/ip_prefix.h"
#include "reactor/base/status.h"

namespace labvirt::engine::mgmt {

// One node's static lease, keyed on its MAC.
struct DhcpLease {
  std::string mac;       // "52:54:00:12:34:56" (either case)
  std::string ipv4;      // required, inside the segment's IPv4 subnet
  std::string ipv6;      // "" or inside the segment's IPv6 subnet
  std::string hostname;  // [A-Za-z0-9-]{1,63}, handed to the client (option 12)
};

struct DhcpSegment {
  std::string name;       // the lab name, for logs: [A-Za-z0-9_.-]{1,64}
  std::string interface;  // host-side interface dnsmasq binds to (the gateway port)
  IpPrefix ipv4;
  std::string gateway_ipv4;  // an address on `interface`, inside ipv4
  std::optional<IpPrefix> ipv6;
  std::string gateway_ipv6;  // inside ipv6 when ipv6 is set
  // Hand out the gateway as router (DHCPv4 option 3, a router lifetime in RAs). Only when the lab
  // has NAT: a management default route clashes with the device's own (vrnetlab issue #466).
  bool default_route = false;
  std::string dir;  // absolute; holds the conf, hosts, lease, pid and log files below
};

// The files of a segment, all inside segment.dir.
std::string ConfPath(const DhcpSegment& segment);   // dir/dnsmasq.conf
std::string HostsPath(const DhcpSegment& segment);  // dir/dnsmasq.hosts
std::string LeasePath(const DhcpSegment& segment);  // dir/dnsmasq.leases
std::string PidPath(const DhcpSegment& segment);    // dir/dnsmasq.pid
std::string LogPath(const DhcpSegment& segment);    // dir/dnsmasq.log

// OK, or InvalidArgument naming the field: name, interface (1..15 of [A-Za-z0-9_.-], not "lo"),
// an IPv4 subnet /8../30 with the gateway inside it (not its network or broadcast address), an
// optional IPv6 /64 with its gateway inside it, an absolute dir without spaces, controls or
// characters dnsmasq's parser treats specially (# , " \).
Status ValidateSegment(const DhcpSegment& segment);

// The --conf-file content. Precondition: ValidateSegment(segment) is OK.
std::string DnsmasqConfig(const DhcpSegment& segment);

// OK, or InvalidArgument: the MAC is six hex pairs separated by ':' (not multicast, not zero),
// ipv4 (required) and ipv6 (optional) parse as addresses of their family, and the hostname is
// [A-Za-z0-9-]{1,63}, neither starting nor ending with '-', and not a word dnsmasq would read as
// something else in a dhcp-host line (a lease time such as "45m", "infinite", "ignore").
Status ValidateLease(const DhcpLease& lease);

// Every lease valid, inside the segment's subnets, not the network, broadcast or gateway address,
// IPv6 only when the segment has IPv6, and no MAC, address or hostname twice. InvalidArgument
// naming the lease by hostname.
Status ValidateLeases(const std::vector<DhcpLease>& leases, const DhcpSegment& segment);

// The --dhcp-hostsfile content, one line per lease as the text right of '=' in --dhcp-host
// (dnsmasq(8)): "52:54:00:12:34:56,id:*,[fd00::5],10.0.0.5,r1". MACs lower-cased. Precondition:
// the leases are valid.
std::string DnsmasqHosts(const std::vector<DhcpLease>& leases);

// dnsmasq's reason for failing to start, from what it wrote to stderr and its log file: the last
// "dnsmasq: ..." line (stderr; its log then only says "FAILED to start up") without that prefix,
// else the last non-empty line, else "".
std::string DnsmasqFailure(std::string_view output);

}  // namespace labvirt::engine::mgmt

#endif  // LABVIRT_ENGINE_MGMT_DNSMASQ_CONFIG_H_
