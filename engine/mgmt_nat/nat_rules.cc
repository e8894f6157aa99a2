#include "engine/mgmt_nat/nat_rules.h"

#include <arpa/inet.h>

#include <cstdint>
#include <set>
#include <utility>

#include "reactor/base/log.h"

namespace labvirt::engine::mgmt {
namespace {

constexpr size_t kMaxName = 63;
constexpr size_t kMaxTable = 32;
constexpr size_t kMaxInterface = 15;  // IFNAMSIZ - 1
constexpr std::string_view kTablePrefix = "labvirt_";

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The rule of providers::ValidateName (labvirt's lab and node names), repeated here so this
// library needs only reactor/base. Names go into nft comments between double quotes.
Status CheckName(const std::string& field, std::string_view what, const std::string& name) {
  bool ok = !name.empty() && name.size() <= kMaxName && IsAlnum(name[0]);
  for (char c : name) ok = ok && (IsAlnum(c) || c == '_' || c == '.' || c == '-');
  if (ok) return Status::Ok();
  return InvalidField(field, std::string(what) + " \"" + name +
                                 "\" is not 1-63 bytes of [A-Za-z0-9][A-Za-z0-9_.-]*");
}

// Interface names go into the script between double quotes; the kernel allows more than this
// (anything but '/', ':' and whitespace), labvirt's gateway names use less ("lvmgXXXXXXXX").
bool IsValidInterfaceName(std::string_view name) {
  if (name.empty() || name.size() > kMaxInterface || name == "." || name == "..") return false;
  for (char c : name) {
    if (!IsAlnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

// A dotted-quad IPv4 address in host byte order; false on anything else.
bool ParseIpv4(const std::string& text, uint32_t* out) {
  in_addr a{};
  if (::inet_pton(AF_INET, text.c_str(), &a) != 1) return false;
  *out = ntohl(a.s_addr);
  return true;
}

struct Subnet {
  uint32_t network = 0;
  uint32_t mask = 0;
};

bool ParseSubnet(const std::string& text, Subnet* out) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos || slash + 1 == text.size() || text.size() - slash > 3) {
    return false;
  }
  int len = 0;
  for (size_t i = slash + 1; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    len = len * 10 + (text[i] - '0');
  }
  if (len < 1 || len > 30) return false;  // room for a gateway and at least one node
  uint32_t addr = 0;
  if (!ParseIpv4(text.substr(0, slash), &addr)) return false;
  out->mask = ~uint32_t{0} << (32 - len);
  out->network = addr;
  return (addr & ~out->mask) == 0;
}

Status CheckForward(const PortForward& f, const std::string& field, const Subnet& subnet) {
  if (f.protocol != "tcp" && f.protocol != "udp") {
    return InvalidField(field + ".protocol", "protocol \"" + f.protocol + "\" is not tcp or udp");
  }
  if (f.host_port < 1 || f.host_port > 65535) {
    return InvalidField(field + ".host_port",
                        "host port " + std::to_string(f.host_port) + " is not in 1..65535");
  }
  if (f.port < 1 || f.port > 65535) {
    return InvalidField(field + ".port", "port " + std::to_string(f.port) + " is not in 1..65535");
  }
  LABVIRT_RETURN_IF_ERROR(CheckName(field + ".node", "node name", f.node));
  uint32_t addr = 0;
  if (!ParseIpv4(f.address, &addr)) {
    return InvalidField(field + ".address", "address \"" + f.address + "\" is not an IPv4 address");
  }
  if ((addr & subnet.mask) != subnet.network || addr == subnet.network ||
      addr == (subnet.network | ~subnet.mask)) {
    return InvalidField(field + ".address",
                        "address " + f.address + " is not a host address of the management subnet");
  }
  return Status::Ok();
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// "node r1: host tcp 2201 -> 10.250.3.10:22"; at most 6 + 63 + 37 bytes, under nft's 128.
std::string ForwardComment(const PortForward& f) {
  return Quoted("node " + f.node + ": host " + f.protocol + " " + std::to_string(f.host_port) +
                " -> " + f.address + ":" + std::to_string(f.port));
}

std::string Dnat(const PortForward& f) {
  return f.protocol + " dport " + std::to_string(f.host_port) + " dnat to " + f.address + ":" +
         std::to_string(f.port) + " comment " + ForwardComment(f);
}

}  // namespace

bool IsValidTableName(std::string_view table) {
  if (table.size() <= kTablePrefix.size() || table.size() > kMaxTable) return false;
  if (table.substr(0, kTablePrefix.size()) != kTablePrefix) return false;
  for (char c : table) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

Status ValidateNatPlan(const NatPlan& plan) {
  LABVIRT_RETURN_IF_ERROR(CheckName("lab", "lab name", plan.lab));
  if (!IsValidTableName(plan.table)) {
    return InvalidField("table", "table name \"" + plan.table +
                                     "\" is not \"labvirt_\" then [a-z0-9_], at most 32 bytes");
  }
  if (!IsValidInterfaceName(plan.interface)) {
    return InvalidField("interface", "interface name \"" + plan.interface +
                                         "\" is not 1-15 bytes of [A-Za-z0-9_.-]");
  }
  Subnet subnet;
  if (!ParseSubnet(plan.subnet_ipv4, &subnet)) {
    return InvalidField("subnet_ipv4", "subnet \"" + plan.subnet_ipv4 +
                                           "\" is not an IPv4 network address/prefix (1-30)");
  }
  std::set<std::pair<std::string, int>> host_ports;
  for (size_t i = 0; i < plan.forwards.size(); ++i) {
    const PortForward& f = plan.forwards[i];
    const std::string field = "forwards[" + std::to_string(i) + "]";
    LABVIRT_RETURN_IF_ERROR(CheckForward(f, field, subnet));
    if (!host_ports.insert({f.protocol, f.host_port}).second) {
      return InvalidField(field + ".host_port", "host " + f.protocol + " port " +
                                                    std::to_string(f.host_port) +
                                                    " is forwarded twice in this lab");
    }
  }
  return Status::Ok();
}

std::string NatRuleset(const NatPlan& plan) {
  LABVIRT_CHECK(ValidateNatPlan(plan).ok());
  const std::string t = "table ip " + plan.table;
  const std::string iface = Quoted(plan.interface);
  const std::string& net = plan.subnet_ipv4;
  std::string s = "add " + t + "\ndelete " + t + "\n" + t + " {\n";
  s += "\tcomment " + Quoted("labvirt lab " + plan.lab + ": management NAT on " + plan.interface) +
       "\n";
  if (!plan.forwards.empty()) {
    s += "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n";
    for (const PortForward& f : plan.forwards) s += "\t\tfib daddr type local " + Dnat(f) + "\n";
    // nft 1.0.6 refuses the name "dstnat" for the output hook; it is -100 all the same.
    s += "\t}\n\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n";
    for (const PortForward& f : plan.forwards) {
      s += "\t\tip daddr != 127.0.0.0/8 fib daddr type local " + Dnat(f) + "\n";
    }
    s += "\t}\n";
  }
  if (!plan.forwards.empty() || plan.masquerade) {
    s += "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n";
    if (!plan.forwards.empty()) {
      s += "\t\toifname " + iface + " ip daddr " + net +
           " ct status dnat masquerade comment \"forwarded connections come from the gateway\"\n";
    }
    if (plan.masquerade) {
      s += "\t\tip saddr " + net + " oifname != " + iface + " masquerade comment " +
           Quoted("lab " + plan.lab + ": nodes to the outside") + "\n";
    }
    s += "\t}\n";
  }
  s += "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n";
  s += "\t\tiifname " + iface + " ip saddr " + net + " accept comment " +
       Quoted("lab " + plan.lab + ": from the management segment") + "\n";
  s += "\t\toifname " + iface + " ip daddr " + net + " accept comment " +
       Quoted("lab " + plan.lab + ": to the management segment") + "\n";
  s += "\t}\n}\n";
  return s;
}

std::string RemoveNatScript(std::string_view table) {
  LABVIRT_CHECK(IsValidTableName(table));
  const std::string t = "table ip " + std::string(table);
  return "add " + t + "\ndelete " + t + "\n";
}

}  // namespace labvirt::engine::mgmt
