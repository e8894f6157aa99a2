// NodeOverrides as JSON, for labvirt's domain metadata (<labvirt:overrides>): a labvirtd restart
// re-applies a node's overrides (memory, NIC model, readiness patterns, …) instead of falling
// back to its kind's defaults.
#include <simdjson.h>

#include "engine/catalog_overrides.h"
#include "reactor/json_writer.h"

namespace labvirt::engine {

std::string OverridesToJson(const NodeOverrides& o) {
  JsonWriter w;
  w.BeginObject();
  for (const auto& [key, v] :
       {std::pair{"memory_mb", &o.memory_mb}, std::pair{"vcpus", &o.vcpus},
        std::pair{"nics", &o.nics}, std::pair{"idle_timeout_s", &o.idle_timeout_s},
        std::pair{"overall_timeout_s", &o.overall_timeout_s}, std::pair{"retries", &o.retries}}) {
    if (*v) w.Key(key).Int(**v);
  }
  for (const auto& [key, v] : {std::pair{"machine", &o.machine}, std::pair{"disk_bus", &o.disk_bus},
                               std::pair{"nic_model", &o.nic_model}}) {
    if (*v) w.Key(key).String(**v);
  }
  if (o.readiness_success) {
    w.Key("readiness_success").BeginArray();
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
    int64_t n = 0;
    std::string_view s;
    auto int_field = [&](std::optional<int>& out) -> Status {
      if (value.get_int64().get(n) || n < 0 || n > (1 << 30)) {
        return InvalidArgument("overrides: " + std::string(key) + " is not a small integer");
      }
      out = static_cast<int>(n);
      return Status::Ok();
    };
    auto str_field = [&](std::optional<std::string>& out) -> Status {
      if (value.get_string().get(s)) {
        return InvalidArgument("overrides: " + std::string(key) + " is not a string");
      }
      out = std::string(s);
      return Status::Ok();
    };
    Status st = Status::Ok();
    if (key == "memory_mb")
      st = int_field(o.memory_mb);
    else if (key == "vcpus")
      st = int_field(o.vcpus);
    else if (key == "nics")
      st = int_field(o.nics);
    else if (key == "idle_timeout_s")
      st = int_field(o.idle_timeout_s);
    else if (key == "overall_timeout_s")
      st = int_field(o.overall_timeout_s);
    else if (key == "retries")
      st = int_field(o.retries);
    else if (key == "machine")
      st = str_field(o.machine);
    else if (key == "disk_bus")
      st = str_field(o.disk_bus);
    else if (key == "nic_model")
      st = str_field(o.nic_model);
    else if (key == "readiness_success") {
      simdjson::dom::array arr;
      if (value.get_array().get(arr)) return InvalidArgument("overrides: readiness_success");
      o.readiness_success.emplace();
      for (auto p : arr) {
        if (p.get_string().get(s)) return InvalidArgument("overrides: readiness_success");
        o.readiness_success->emplace_back(s);
      }
    } else {
      st = InvalidArgument("overrides: unknown field " + std::string(key));
    }
    if (!st.ok()) return st;
  }
  return o;
}

}  // namespace labvirt::engine
