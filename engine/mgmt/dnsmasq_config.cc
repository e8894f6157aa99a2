#include "engine/mgmt/dnsmasq_config.h"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

namespace labvirt::engine::mgmt {
namespace {

// Lease time for both families. Short enough that a node picks up a changed lease within the
// hour (dnsmasq NAKs the old address at renewal, T1 = 30 min), long enough to be quiet.
constexpr const char* kLeaseTime = "1h";

bool AllOf(const std::string& s, const char* extra) {
  return std::all_of(s.begin(), s.end(), [extra](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr(extra, c) != nullptr;
  });
}

std::string Address(const IpPrefix& p) {
  std::string s = FormatPrefix(p);
  return s.substr(0, s.find('/'));
}

std::string Netmask(const IpPrefix& p) {
  IpPrefix mask{.family = AF_INET, .bytes = {}, .length = 32};
  for (int i = 0; i < p.length; ++i) mask.bytes[i / 8] |= static_cast<uint8_t>(1u << (7 - i % 8));
  return Address(mask);
}

// The gateway or a lease address: inside `p`, and (IPv4) neither its network nor its broadcast
// address; IPv6 only excludes the subnet-router anycast address (index 0).
Status CheckHostAddress(const IpPrefix& p, const std::string& address, const std::string& what) {
  Result<uint64_t> index = AddressIndex(p, address);
  if (!index.ok()) return InvalidArgument(what + ": " + index.status().message());
  const int host_bits = FamilyBits(p.family) - p.length;
  const bool broadcast =
      p.family == AF_INET && host_bits < 64 && *index == (uint64_t{1} << host_bits) - 1;
  if (*index == 0 || broadcast) {
    return InvalidArgument(what + ": " + address + " is the " +
                           (*index == 0 ? "network" : "broadcast") + " address of " +
                           FormatPrefix(p));
  }
  return Status::Ok();
}

Status CheckFamily(const std::string& address, int family, const std::string& what) {
  Result<IpPrefix> a = ParseAddress(address);
  if (!a.ok()) return InvalidArgument(what + ": " + a.status().message());
  if (a->family != family) {
    return InvalidArgument(what + ": " + address + " is not an " +
                           (family == AF_INET ? "IPv4" : "IPv6") + " address");
  }
  return Status::Ok();
}

// dnsmasq reads a bare number with an optional s/m/h/d/w unit in a dhcp-host line as a lease
// time, and "infinite"/"ignore" as keywords; such a hostname would silently change the lease.
bool DnsmasqKeyword(const std::string& name) {
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "infinite" || lower == "ignore") return true;
  size_t digits = 0;
  while (digits < lower.size() && std::isdigit(static_cast<unsigned char>(lower[digits]))) ++digits;
  return digits > 0 && (digits == lower.size() ||
                        (digits + 1 == lower.size() && std::strchr("smhdw", lower.back())));
}

}  // namespace

std::string ConfPath(const DhcpSegment& s) { return s.dir + "/dnsmasq.conf"; }
std::string HostsPath(const DhcpSegment& s) { return s.dir + "/dnsmasq.hosts"; }
std::string LeasePath(const DhcpSegment& s) { return s.dir + "/dnsmasq.leases"; }
std::string PidPath(const DhcpSegment& s) { return s.dir + "/dnsmasq.pid"; }
std::string LogPath(const DhcpSegment& s) { return s.dir + "/dnsmasq.log"; }

Status ValidateSegment(const DhcpSegment& s) {
  if (s.name.empty() || s.name.size() > 64 || !AllOf(s.name, "_.-")) {
    return InvalidField("name", "segment name '" + s.name + "' is not 1..64 of [A-Za-z0-9_.-]");
  }
  const std::string seg = "segment '" + s.name + "': ";
  if (s.interface.empty() || s.interface.size() > 15 || !AllOf(s.interface, "_.-") ||
      s.interface == "lo") {
    return InvalidField("interface", seg + "interface '" + s.interface +
                                         "' is not 1..15 of [A-Za-z0-9_.-] (and not lo)");
  }
  if (s.ipv4.family != AF_INET || s.ipv4.length < 8 || s.ipv4.length > 30) {
    return InvalidField("ipv4", seg + "the IPv4 subnet must be an IPv4 prefix /8../30");
  }
  LABVIRT_RETURN_IF_ERROR(
      CheckHostAddress(s.ipv4, s.gateway_ipv4, seg + "gateway_ipv4").WithField("gateway_ipv4"));
  if (s.ipv6) {
    if (s.ipv6->family != AF_INET6 || s.ipv6->length != 64) {
      return InvalidField("ipv6", seg + "the IPv6 subnet must be an IPv6 /64");
    }
    LABVIRT_RETURN_IF_ERROR(
        CheckHostAddress(*s.ipv6, s.gateway_ipv6, seg + "gateway_ipv6").WithField("gateway_ipv6"));
  } else if (!s.gateway_ipv6.empty()) {
    return InvalidField("gateway_ipv6", seg + "gateway_ipv6 given without an IPv6 subnet");
  }
  if (s.dir.size() < 2 || s.dir[0] != '/' || s.dir.size() > 200 ||
      std::any_of(s.dir.begin(), s.dir.end(), [](char c) {
        return std::iscntrl(static_cast<unsigned char>(c)) || c == ' ' || c == '#' || c == ',' ||
               c == '"' || c == '\\';
      })) {
    return InvalidField("dir", seg + "dir '" + s.dir +
                                   "' must be an absolute path without spaces, controls or #,\"\\");
  }
  return Status::Ok();
}

std::string DnsmasqConfig(const DhcpSegment& s) {
  std::string c;
  c += "# dnsmasq for the management network of lab '" + s.name + "', written by labvirtd.\n";
  // DHCP only: no DNS (which also keeps the DNS-server option out of replies), and nothing read
  // from the host's /etc/hosts or resolv.conf.
  c += "port=0\nno-resolv\nno-hosts\n";
  // Only the gateway port. bind-interfaces binds the DHCP socket to that one device, so one
  // dnsmasq per lab can run side by side (and beside the host's own, if any).
  c += "interface=" + s.interface + "\nexcept-interface=lo\nbind-interfaces\n";
  // Stay root: the hosts file is re-read on SIGHUP after start, and labvirt's state directory
  // need not be readable by nobody; root also owns every file so Stop can remove them.
  c += "user=root\n";
  c += "dhcp-range=" + Address(s.ipv4) + ",static," + Netmask(s.ipv4) + "," + kLeaseTime + "\n";
  // No router option unless asked: dnsmasq would otherwise send its own address as router.
  c += s.default_route ? "dhcp-option=option:router," + s.gateway_ipv4 + "\n"
                       : "dhcp-option=option:router\n";
  if (s.ipv6) {
    // Static DHCPv6 needs router advertisements with the M flag for clients to ask at all;
    // dnsmasq 2.90 sends them for a `static` range with enable-ra (prefix on-link, no SLAAC).
    // dnsmasq matches a Solicit to dhcp-host by the MAC it came from (from the neighbour table on
    // a directly attached link), not by the client's DUID, so the MAC key works for DHCPv6 too
    // (dhcp_server_test: Ipv6RouterAdvertisementsAndStaticDhcpv6). A router lifetime of 0
    // advertises the prefix without a default route via the gateway.
    c += "dhcp-range=" + Address(*s.ipv6) + ",static,64," + kLeaseTime + "\nenable-ra\n";
    if (!s.default_route) c += "ra-param=" + s.interface + ",0,0\n";
  }
  c += "dhcp-hostsfile=" + HostsPath(s) + "\n";
  c += "dhcp-leasefile=" + LeasePath(s) + "\n";
  c += "pid-file=" + PidPath(s) + "\n";
  c += "dhcp-authoritative\n";
  c += "log-dhcp\nlog-facility=" + LogPath(s) + "\n";
  return c;
}

Status ValidateLease(const DhcpLease& l) {
  const std::string who = "lease '" + l.hostname + "': ";
  bool mac_ok = l.mac.size() == 17;
  for (size_t i = 0; mac_ok && i < 17; ++i) {
    mac_ok = i % 3 == 2 ? l.mac[i] == ':' : std::isxdigit(static_cast<unsigned char>(l.mac[i]));
  }
  if (!mac_ok) {
    return InvalidField("mac",
                        who + "MAC '" + l.mac + "' is not six hex pairs like 52:54:00:12:34:56");
  }
  if (std::stoi(l.mac.substr(0, 2), nullptr, 16) & 1) {
    return InvalidField("mac", who + "MAC " + l.mac + " is a multicast address");
  }
  if (l.mac == "00:00:00:00:00:00") return InvalidField("mac", who + "MAC is all zeros");
  LABVIRT_RETURN_IF_ERROR(CheckFamily(l.ipv4, AF_INET, who + "ipv4").WithField("ipv4"));
  if (!l.ipv6.empty()) {
    LABVIRT_RETURN_IF_ERROR(CheckFamily(l.ipv6, AF_INET6, who + "ipv6").WithField("ipv6"));
  }
  if (l.hostname.empty() || l.hostname.size() > 63 || !AllOf(l.hostname, "-") ||
      l.hostname.front() == '-' || l.hostname.back() == '-') {
    return InvalidField(
        "hostname",
        "hostname '" + l.hostname + "' is not 1..63 of [A-Za-z0-9-] without a '-' at either end");
  }
  if (DnsmasqKeyword(l.hostname)) {
    return InvalidField("hostname", "hostname '" + l.hostname +
                                        "' would be read by dnsmasq as a lease time or keyword");
  }
  return Status::Ok();
}

Status ValidateLeases(const std::vector<DhcpLease>& leases, const DhcpSegment& segment) {
  LABVIRT_RETURN_IF_ERROR(ValidateSegment(segment));
  std::set<std::string> macs, v4s, v6s, names;
  for (const DhcpLease& l : leases) {
    LABVIRT_RETURN_IF_ERROR(ValidateLease(l));
    const std::string who = "lease '" + l.hostname + "': ";
    LABVIRT_RETURN_IF_ERROR(CheckHostAddress(segment.ipv4, l.ipv4, who + "ipv4"));
    if (l.ipv4 == segment.gateway_ipv4) {
      return InvalidArgument(who + l.ipv4 + " is the gateway's address");
    }
    if (!l.ipv6.empty()) {
      if (!segment.ipv6) return InvalidArgument(who + "ipv6 given but the segment has no IPv6");
      LABVIRT_RETURN_IF_ERROR(CheckHostAddress(*segment.ipv6, l.ipv6, who + "ipv6"));
      if (*AddressIndex(*segment.ipv6, l.ipv6) ==
          *AddressIndex(*segment.ipv6, segment.gateway_ipv6)) {
        return InvalidArgument(who + l.ipv6 + " is the gateway's address");
      }
    }
    std::string mac = l.mac;
    for (char& c : mac) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // Addresses compared by value so "10.0.0.5" and a differently written IPv6 both collide.
    const std::string v4 = std::to_string(*AddressIndex(segment.ipv4, l.ipv4));
    const std::string v6 =
        l.ipv6.empty() ? "" : std::to_string(*AddressIndex(*segment.ipv6, l.ipv6));
    std::string name = l.hostname;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!macs.insert(mac).second) return InvalidArgument(who + "MAC " + l.mac + " is used twice");
    if (!v4s.insert(v4).second) return InvalidArgument(who + l.ipv4 + " is used twice");
    if (!v6.empty() && !v6s.insert(v6).second) {
      return InvalidArgument(who + l.ipv6 + " is used twice");
    }
    if (!names.insert(name).second) return InvalidArgument(who + "hostname is used twice");
  }
  return Status::Ok();
}

std::string DnsmasqHosts(const std::vector<DhcpLease>& leases) {
  std::string out;
  for (const DhcpLease& l : leases) {
    std::string mac = l.mac;
    for (char& c : mac) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // id:* keys the lease on the MAC alone: a device that sends a client-id in one boot stage and
    // not in another (or a different one) still gets its address rather than "address in use".
    out += mac + ",id:*,";
    if (!l.ipv6.empty()) out += "[" + l.ipv6 + "],";
    out += l.ipv4 + "," + l.hostname + "\n";
  }
  return out;
}

std::string DnsmasqFailure(std::string_view output) {
  std::string_view last, reason;
  while (!output.empty()) {
    size_t nl = output.find('\n');
    std::string_view line = output.substr(0, nl);
    output.remove_prefix(nl == std::string_view::npos ? output.size() : nl + 1);
    if (line.empty()) continue;
    last = line;
    if (line.substr(0, 9) == "dnsmasq: ") reason = line.substr(9);
  }
  return std::string(!reason.empty() ? reason : last);
}

}  // namespace labvirt::engine::mgmt
