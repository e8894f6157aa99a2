#include "engine/lab/mgmt_segment.h"

#include <arpa/inet.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "engine/lab/lab_store.h"
#include "engine/lab/metrics.h"
#include "providers/node_naming.h"
#include "reactor/base/json_writer.h"

namespace labvirt::engine {
namespace {

std::string Hex8(const std::string& instance, const std::string& lab) {
  char buf[9];
  std::snprintf(
      buf, sizeof buf, "%08x",
      static_cast<unsigned>(providers::StableHash({"mgmt", instance, lab}) & 0xffffffffu));
  return buf;
}

// A DHCP host name: letters, digits and '-' (RFC 952/1123), at most 63 bytes.
std::string HostName(const std::string& node) {
  std::string out;
  for (char c : node.substr(0, 63)) {
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  }
  return out;
}

void WriteForwards(JsonWriter& w, const std::vector<providers::MgmtForward>& forwards) {
  w.BeginArray();
  for (const auto& f : forwards) {
    w.BeginObject().Key("protocol").String(f.protocol).Key("host_port").Int(f.host_port);
    w.Key("port").Int(f.port).EndObject();
  }
  w.EndArray();
}

// YAML needs no quoting for what reaches it: node names are [A-Za-z0-9_.-] (ValidateName), kinds
// likewise, addresses and network_os checked by the catalog. Quoted anyway where a name could read
// as a number or a boolean ("1", "yes").
std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

std::string GatewayPortName(const std::string& instance, const std::string& lab) {
  return std::string(kGatewayPortPrefix) + Hex8(instance, lab);
}

std::string NatTableName(const std::string& instance, const std::string& lab) {
  return "labvirt_" + Hex8(instance, lab);
}

std::string AddressOf(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

std::string MgmtMac(const Node& n) {
  for (const auto& nic : n.metadata.nics) {
    if (nic.role == providers::NicRole::kManagement) return nic.mac;
  }
  return "";
}

std::string NodeMgmtJson(const Node& n) {
  if (!n.kind->management_nic) return "null";
  const providers::MgmtMetadata& m = n.metadata.mgmt;
  JsonWriter w;
  w.BeginObject().Key("interface").String(n.kind->management_interface);
  w.Key("mac").String(MgmtMac(n)).Key("ipv4").String(AddressOf(m.ipv4));
  w.Key("ipv6").String(AddressOf(m.ipv6)).Key("gateway_ipv4").String(m.gateway_ipv4);
  w.Key("gateway_ipv6").String(m.gateway_ipv6).Key("forwards");
  WriteForwards(w, m.forwards);
  w.EndObject();
  return w.Take();
}

std::string LabMgmtJson(const Lab& lab) {
  if (!lab.mgmt) return "null";
  const MgmtSegment& s = *lab.mgmt;
  JsonWriter w;
  w.BeginObject().Key("state").String(s.state).Key("reason").String(s.error);
  w.Key("interface").String(s.interface).Key("subnet_ipv4").String(FormatPrefix(s.ipv4));
  w.Key("gateway_ipv4").String(s.gateway_ipv4);
  w.Key("subnet_ipv6").String(s.ipv6 ? FormatPrefix(*s.ipv6) : "");
  w.Key("gateway_ipv6").String(s.gateway_ipv6).Key("nat").Bool(s.nat);
  w.Key("dhcp").BeginObject().Key("running").Bool(s.dhcp && s.dhcp->running());
  w.Key("pid").Int(s.dhcp ? s.dhcp->pid() : 0);
  w.Key("restarts").Int(s.dhcp ? s.dhcp->restarts() : 0).EndObject();
  w.EndObject();
  return w.Take();
}

std::vector<mgmt::DhcpLease> LeasesOf(const Lab& lab) {
  std::vector<mgmt::DhcpLease> out;
  for (const auto& [name, n] : lab.nodes) {
    const providers::MgmtMetadata& m = n->metadata.mgmt;
    std::string mac = MgmtMac(*n);
    if (m.ipv4.empty() || mac.empty()) continue;
    out.push_back({mac, AddressOf(m.ipv4), AddressOf(m.ipv6), HostName(name)});
  }
  return out;
}

Result<std::string> ExpandMgmtPlaceholders(const std::string& config, const std::string& node,
                                           const providers::MgmtMetadata& m) {
  auto length = [](const std::string& cidr) {
    size_t slash = cidr.find('/');
    return slash == std::string::npos ? std::string() : cidr.substr(slash + 1);
  };
  std::string netmask;
  if (!m.ipv4.empty()) {
    int bits = std::atoi(length(m.ipv4).c_str());
    uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    netmask = std::to_string(mask >> 24) + "." + std::to_string((mask >> 16) & 255) + "." +
              std::to_string((mask >> 8) & 255) + "." + std::to_string(mask & 255);
  }
  const std::pair<const char*, std::string> values[] = {
      {"mgmt_ipv4", AddressOf(m.ipv4)},
      {"mgmt_prefix_length", length(m.ipv4)},
      {"mgmt_netmask", netmask},
      {"mgmt_gateway_ipv4", m.gateway_ipv4},
      {"mgmt_ipv6", AddressOf(m.ipv6)},
      {"mgmt_ipv6_prefix_length", length(m.ipv6)},
      {"mgmt_gateway_ipv6", m.gateway_ipv6},
  };
  std::string out;
  size_t at = 0;
  while (true) {
    size_t open = config.find("{{mgmt_", at);
    if (open == std::string::npos) break;
    size_t close = config.find("}}", open);
    std::string name = close == std::string::npos ? "" : config.substr(open + 2, close - open - 2);
    const std::string* value = nullptr;
    for (const auto& [key, v] : values) {
      if (name == key) value = &v;
    }
    if (value == nullptr) {  // not one of ours: text
      out.append(config, at, open + 2 - at);
      at = open + 2;
      continue;
    }
    if (value->empty()) {
      return InvalidArgument("node " + node + ": the startup config uses {{" + name +
                             "}}, but the node has no such management address");
    }
    out.append(config, at, open - at).append(*value);
    at = close + 2;
  }
  out.append(config, at, std::string::npos);
  return out;
}

void RenderMgmtMetrics(const std::map<std::string, std::unique_ptr<Lab>>& labs, std::string& out) {
  struct Metric {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const Lab&);
  };
  const Metric metrics[] = {
      {"labvirt_mgmt_segment_up", "gauge", "Management segment up (1) or starting/failed (0)",
       [](const Lab& l) { return l.mgmt->state == "up" ? 1.0 : 0.0; }},
      {"labvirt_mgmt_dhcp_restarts_total", "counter",
       "Restarts of the segment's DHCP server after it died",
       [](const Lab& l) { return l.mgmt->dhcp ? double(l.mgmt->dhcp->restarts()) : 0.0; }},
      {"labvirt_mgmt_addresses", "gauge", "Nodes with a management address",
       [](const Lab& l) { return double(LeasesOf(l).size()); }},
  };
  for (const Metric& m : metrics) {
    AppendHeader(out, m.name, m.type, m.help);
    for (const auto& [name, lab] : labs) {
      if (lab->mgmt) AppendSample(out, m.name, Label("lab", name), m.value(*lab));
    }
  }
}

std::string InventoryOf(const Lab& lab, bool yaml) {
  struct Host {
    std::string name, address;
  };
  std::map<std::string, std::vector<Host>> by_kind;  // resolved kind -> hosts
  std::map<std::string, std::string> network_os;
  for (const auto& [name, n] : lab.nodes) {
    if (n->metadata.mgmt.ipv4.empty()) continue;
    by_kind[n->kind->name].push_back({name, AddressOf(n->metadata.mgmt.ipv4)});
    network_os[n->kind->name] = n->kind->network_os;
  }
  if (yaml) {
    std::string out = "# labvirt inventory of lab " + lab.name + "\nall:\n  children:\n";
    if (by_kind.empty()) out = "# labvirt inventory of lab " + lab.name + "\nall:\n  hosts: {}\n";
    for (const auto& [kind, hosts] : by_kind) {
      out += "    " + kind + ":\n";
      if (!network_os[kind].empty()) {
        out += "      vars:\n        ansible_network_os: " + network_os[kind] +
               "\n        ansible_connection: ansible.netcommon.network_cli\n";
      }
      out += "      hosts:\n";
      for (const Host& h : hosts) {
        out += "        " + Quoted(h.name) + ":\n          ansible_host: " + h.address + "\n";
      }
    }
    return out;
  }
  JsonWriter w;
  w.BeginObject().Key("all").BeginObject().Key("children").BeginObject();
  for (const auto& [kind, hosts] : by_kind) {
    w.Key(kind).BeginObject();
    if (!network_os[kind].empty()) {
      w.Key("vars").BeginObject().Key("ansible_network_os").String(network_os[kind]);
      w.Key("ansible_connection").String("ansible.netcommon.network_cli").EndObject();
    }
    w.Key("hosts").BeginObject();
    for (const Host& h : hosts) {
      w.Key(h.name).BeginObject().Key("ansible_host").String(h.address).EndObject();
    }
    w.EndObject().EndObject();
  }
  w.EndObject().EndObject().EndObject();
  return w.Take();
}

}  // namespace labvirt::engine
