// ParseMgmtSpec (engine/control/lab_spec.h): lab.deploy's `mgmt` member, shape only.
#include <string_view>

#include "engine/control/lab_spec.h"

namespace labvirt::engine {
namespace {

constexpr std::string_view kMgmtKeys[] = {"enabled", "subnet", "ipv6", "nat", "forwards"};
constexpr std::string_view kForwardKeys[] = {"node", "port", "host_port", "protocol"};

template <size_t N>
Status OnlyKnown(simdjson::dom::object obj, const std::string_view (&keys)[N],
                 const std::string& path) {
  for (auto [key, value] : obj) {
    bool known = false;
    for (auto k : keys) known |= key == k;
    if (!known) return InvalidField(path + "." + std::string(key), "unknown field");
  }
  return Status::Ok();
}

Status ReadBool(simdjson::dom::object obj, const char* key, const std::string& path, bool* out) {
  simdjson::dom::element el;
  if (obj[key].get(el) != simdjson::SUCCESS) return Status::Ok();
  if (el.get_bool().get(*out)) return InvalidField(path + "." + key, "must be a boolean");
  return Status::Ok();
}

Result<int> ReadPort(simdjson::dom::object obj, const char* key, const std::string& path,
                     bool required, int fallback) {
  simdjson::dom::element el;
  if (obj[key].get(el) != simdjson::SUCCESS) {
    if (required) return InvalidField(path + "." + key, "required: a port number 1..65535");
    return fallback;
  }
  int64_t v = 0;
  if (el.get_int64().get(v) || v < 1 || v > 65535) {
    return InvalidField(path + "." + key, "must be a port number 1..65535");
  }
  return static_cast<int>(v);
}

Result<ForwardSpec> ParseForward(simdjson::dom::element el, const std::string& path,
                                 const std::set<std::string>& nodes) {
  simdjson::dom::object obj;
  if (el.get_object().get(obj)) return InvalidField(path, "must be an object");
  LABVIRT_RETURN_IF_ERROR(OnlyKnown(obj, kForwardKeys, path));
  ForwardSpec f;
  std::string_view node;
  if (obj["node"].get_string().get(node)) return InvalidField(path + ".node", "required string");
  if (!nodes.count(std::string(node))) {
    return InvalidField(path + ".node", "no node named \"" + std::string(node) + "\" in this lab");
  }
  f.node = std::string(node);
  auto port = ReadPort(obj, "port", path, false, 22);
  if (!port.ok()) return port.status();
  auto host_port = ReadPort(obj, "host_port", path, true, 0);
  if (!host_port.ok()) return host_port.status();
  f.port = *port;
  f.host_port = *host_port;
  simdjson::dom::element proto;
  if (obj["protocol"].get(proto) == simdjson::SUCCESS) {
    std::string_view p;
    if (proto.get_string().get(p) || (p != "tcp" && p != "udp")) {
      return InvalidField(path + ".protocol", "must be \"tcp\" or \"udp\"");
    }
    f.protocol = std::string(p);
  }
  return f;
}

}  // namespace

Result<MgmtSpec> ParseMgmtSpec(simdjson::dom::element el, const std::set<std::string>& nodes) {
  MgmtSpec m;
  if (el.get_bool().get(m.enabled) == simdjson::SUCCESS) return m;  // mgmt: true | false
  simdjson::dom::object obj;
  if (el.get_object().get(obj)) return InvalidField("mgmt", "must be a boolean or an object");
  LABVIRT_RETURN_IF_ERROR(OnlyKnown(obj, kMgmtKeys, "mgmt"));
  LABVIRT_RETURN_IF_ERROR(ReadBool(obj, "enabled", "mgmt", &m.enabled));
  LABVIRT_RETURN_IF_ERROR(ReadBool(obj, "nat", "mgmt", &m.nat));
  simdjson::dom::element subnet;
  if (obj["subnet"].get(subnet) == simdjson::SUCCESS) {
    std::string_view s;
    if (subnet.get_string().get(s)) {
      return InvalidField("mgmt.subnet", "must be a string: an IPv4 prefix such as 10.1.2.0/24");
    }
    m.subnet = std::string(s);
  }
  simdjson::dom::element ipv6;
  if (obj["ipv6"].get(ipv6) == simdjson::SUCCESS) {
    std::string_view s;
    if (ipv6.get_string().get(s) == simdjson::SUCCESS) {
      m.subnet_ipv6 = std::string(s);
    } else if (ipv6.get_bool().get(m.ipv6)) {
      return InvalidField("mgmt.ipv6", "must be a boolean or an IPv6 /64 such as fd00:1:2:3::/64");
    }
  }
  simdjson::dom::element forwards;
  if (obj["forwards"].get(forwards) == simdjson::SUCCESS) {
    simdjson::dom::array arr;
    if (forwards.get_array().get(arr)) return InvalidField("mgmt.forwards", "must be an array");
    size_t i = 0;
    for (auto f : arr) {
      auto parsed = ParseForward(f, "mgmt.forwards[" + std::to_string(i++) + "]", nodes);
      if (!parsed.ok()) return parsed.status();
      m.forwards.push_back(std::move(parsed).value());
    }
  }
  if (!m.enabled && (m.subnet || m.subnet_ipv6 || m.nat || !m.forwards.empty())) {
    return InvalidField("mgmt.enabled", "is false, yet the segment is given settings");
  }
  return m;
}

}  // namespace labvirt::engine
