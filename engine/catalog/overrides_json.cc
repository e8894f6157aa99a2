// NodeOverrides as JSON, for labvirt's domain metadata (<labvirt:overrides>): a labvirtd restart
// re-applies a node's overrides (memory, NIC model, readiness patterns, …) instead of falling
// back to its kind's defaults.
#include <simdjson.h>

#include <utility>

#include "engine/catalog/catalog_overrides.h"
#include "reactor/base/json_writer.h"

namespace labvirt::engine {
namespace {

// One table of field names for both directions.
using IntField = std::optional<int> NodeOverrides::*;
using StrField = std::optional<std::string> NodeOverrides::*;
constexpr std::pair<const char*, IntField> kIntFields[] = {
    {"memory_mb", &NodeOverrides::memory_mb},
    {"vcpus", &NodeOverrides::vcpus},
    {"nics", &NodeOverrides::nics},
    {"idle_timeout_s", &NodeOverrides::idle_timeout_s},
    {"overall_timeout_s", &NodeOverrides::overall_timeout_s},
    {"retries", &NodeOverrides::retries},
};
constexpr std::pair<const char*, StrField> kStrFields[] = {
    {"machine", &NodeOverrides::machine},     {"disk_bus", &NodeOverrides::disk_bus},
    {"nic_model", &NodeOverrides::nic_model}, {"cpu_mode", &NodeOverrides::cpu_mode},
    {"cpu_model", &NodeOverrides::cpu_model}, {"username", &NodeOverrides::username},
    {"password", &NodeOverrides::password},
};
constexpr const char* kPatterns = "readiness_success";

// Sets the field named `key` from `value`; false when `key` names no field.
Result<bool> ReadField(std::string_view key, simdjson::dom::element value, NodeOverrides* o) {
  auto bad = [key] {
    return InvalidArgument("overrides: " + std::string(key) + " has the wrong type");
  };
  for (const auto& [name, field] : kIntFields) {
    if (key != name) continue;
    int64_t n = 0;
    if (value.get_int64().get(n) || n < 0 || n > (1 << 30)) return bad();
    o->*field = static_cast<int>(n);
    return true;
  }
  for (const auto& [name, field] : kStrFields) {
    if (key != name) continue;
    std::string_view s;
    if (value.get_string().get(s)) return bad();
    o->*field = std::string(s);
    return true;
  }
  if (key != kPatterns) return false;
  simdjson::dom::array arr;
  if (value.get_array().get(arr)) return bad();
  o->readiness_success.emplace();
  for (auto p : arr) {
    std::string_view s;
    if (p.get_string().get(s)) return bad();
    o->readiness_success->emplace_back(s);
  }
  return true;
}

}  // namespace

std::string OverridesToJson(const NodeOverrides& o) {
  JsonWriter w;
  w.BeginObject();
  for (const auto& [name, field] : kIntFields) {
    if (o.*field) w.Key(name).Int(*(o.*field));
  }
  for (const auto& [name, field] : kStrFields) {
    if (o.*field) w.Key(name).String(*(o.*field));
  }
  if (o.readiness_success) {
    w.Key(kPatterns).BeginArray();
    for (const auto& p : *o.readiness_success) w.String(p);
    w.EndArray();
  }
  w.EndObject();
  return w.Take();
}

Result<NodeOverrides> OverridesFromJson(std::string_view json) {
  NodeOverrides o;
  if (json.empty()) return o;
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(json.data(), json.size()).get_object().get(obj)) {
    return InvalidArgument("overrides: not a JSON object");
  }
  for (auto [key, value] : obj) {
    auto known = ReadField(key, value, &o);
    if (!known.ok()) return known.status();
    if (!*known) return InvalidArgument("overrides: unknown field " + std::string(key));
  }
  return o;
}

}  // namespace labvirt::engine
