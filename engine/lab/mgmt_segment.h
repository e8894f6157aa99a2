// MgmtSegment: a lab's management segment as the engine records it (engine/lab/mgmt_network.h
// makes and supervises it), and the pure functions over it that other parts share: the node's
// `mgmt` object, the lab's, the DHCP leases, the Ansible inventory, and the host-side names.
//
// Loop thread only (the record); the functions are pure, any thread.
#ifndef LABVIRT_ENGINE_LAB_MGMT_SEGMENT_H_
#define LABVIRT_ENGINE_LAB_MGMT_SEGMENT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/mgmt/dhcp_server.h"
#include "providers/device_kind.h"
#include "providers/domain_xml.h"
#include "reactor/base/ip_prefix.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

struct Node;
struct Lab;

// The segment's name on the bridge (OVS external_ids segment=…): one per lab.
inline constexpr const char* kMgmtSegment = "mgmt";
// A node's first host address on the segment: .1 is the gateway, .2-.9 are kept for the host.
inline constexpr uint64_t kFirstNodeHost = 10;

struct MgmtSegment {
  IpPrefix ipv4;
  std::string gateway_ipv4;
  std::optional<IpPrefix> ipv6;
  std::string gateway_ipv6;
  std::string interface;  // the host side: an OVS internal port holding the gateway addresses
  bool nat = false;
  // "starting", "up", "failed" (then `error` says why); a failed segment is tried again at the
  // next deploy or reconcile.
  std::string state = "starting";
  std::string error;
  std::unique_ptr<mgmt::DhcpServer> dhcp;
};

// "lvgw" + 8 hex digits of the (instance, lab) pair: 12 bytes, a valid interface name, never a
// node's tap ("lv" + hex tag + "-…": 'g' is not a hex digit).
std::string GatewayPortName(const std::string& instance, const std::string& lab);
// The lab's nftables table (port forwards, NAT): "labvirt_" + the same 8 hex digits.
std::string NatTableName(const std::string& instance, const std::string& lab);
// The common prefix of every gateway port, for the host-route scan to skip labvirt's own.
inline constexpr const char* kGatewayPortPrefix = "lvgw";

// The address part of "10.250.3.10/24".
std::string AddressOf(const std::string& cidr);

// The node's `mgmt` object: {"interface","mac","ipv4","ipv6","gateway_ipv4","gateway_ipv6",
// "forwards":[{"protocol","host_port","port"}]}, addresses without their length, "" when the node
// has none; null when the kind has no management interface.
std::string NodeMgmtJson(const Node& n);
// The lab's `mgmt` object: {"state","error","interface","subnet_ipv4","gateway_ipv4",
// "subnet_ipv6","gateway_ipv6","nat","dhcp":{"running","pid","restarts"}}; null without one.
std::string LabMgmtJson(const Lab& lab);

// The MAC of the node's management NIC ("" when it has none).
std::string MgmtMac(const Node& n);
// One static lease per node of the lab on the segment (MAC, addresses, a host name made of the
// node's name with characters a host name may not hold turned into '-').
std::vector<mgmt::DhcpLease> LeasesOf(const Lab& lab);

// A startup config with the node's management placeholders filled in, for kinds that read their
// management address from config rather than DHCP: {{mgmt_ipv4}}, {{mgmt_prefix_length}},
// {{mgmt_netmask}}, {{mgmt_gateway_ipv4}}, {{mgmt_ipv6}}, {{mgmt_ipv6_prefix_length}},
// {{mgmt_gateway_ipv6}}. Other text, other braces included, is left as it is. InvalidArgument
// naming the placeholder when the node has no such address (no management interface, mgmt off,
// or no IPv6).
Result<std::string> ExpandMgmtPlaceholders(const std::string& config, const std::string& node,
                                           const providers::MgmtMetadata& mgmt);

// Appends the segments' Prometheus metrics: labvirt_mgmt_segment_up{lab} (1 up, 0 starting or
// failed), labvirt_mgmt_dhcp_restarts_total{lab} (the supervisor's restarts of its dnsmasq) and
// labvirt_mgmt_addresses{lab} (nodes with an address).
void RenderMgmtMetrics(const std::map<std::string, std::unique_ptr<Lab>>& labs, std::string& out);

// The lab's Ansible inventory: hosts grouped by kind, ansible_host the management address,
// ansible_network_os (and ansible_connection network_cli) where the kind names one. `yaml`: YAML
// text; else the same inventory as a JSON object. Nodes without an address are left out.
std::string InventoryOf(const Lab& lab, bool yaml);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_MGMT_SEGMENT_H_
