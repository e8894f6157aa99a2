#include "engine/control/lab_spec.h"

#include <set>

namespace labvirt::engine {
namespace {

// "nodes[0]" + "image" -> "nodes[0].image"; a top-level member is named alone ("lab").
std::string Member(const std::string& path, const char* key) {
  return path.empty() ? key : path + "." + key;
}

// Reads an optional integer member; sets *err on a wrong type or range.
std::optional<int> OptInt(simdjson::dom::object obj, const char* key, const std::string& path,
                          int lo, int hi, Status* err) {
  simdjson::dom::element el;
  if (obj[key].get(el) != simdjson::SUCCESS) return std::nullopt;
  int64_t v;
  if (el.get_int64().get(v)) {
    *err = InvalidField(Member(path, key), "must be an integer");
    return std::nullopt;
  }
  if (v < lo || v > hi) {
    *err = InvalidField(Member(path, key), "must be " + std::to_string(lo) + ".." +
                                               std::to_string(hi) + ", got " + std::to_string(v));
    return std::nullopt;
  }
  return static_cast<int>(v);
}

std::optional<std::string> OptString(simdjson::dom::object obj, const char* key,
                                     const std::string& path, Status* err) {
  simdjson::dom::element el;
  if (obj[key].get(el) != simdjson::SUCCESS) return std::nullopt;
  std::string_view s;
  if (el.get_string().get(s)) {
    *err = InvalidField(Member(path, key), "must be a string");
    return std::nullopt;
  }
  return std::string(s);
}

constexpr std::string_view kNodeKeys[] = {
    "name",           "kind",           "image",    "nics",         "memory_mb",
    "vcpus",          "machine",        "disk_bus", "nic_model",    "boot_timeout_s",
    "idle_timeout_s", "ready_patterns", "start",    "cpu_mode",     "cpu_model",
    "startup_config", "username",       "password", "save_on_stop", "binds"};

Result<NodeSpec> ParseNode(simdjson::dom::element el, const std::string& path) {
  simdjson::dom::object obj;
  if (el.get_object().get(obj)) return InvalidField(path, "must be an object");
  for (auto [key, value] : obj) {
    bool known = false;
    for (auto k : kNodeKeys) known |= key == k;
    if (!known) return InvalidField(path + "." + std::string(key), "unknown field");
  }
  Status err;
  NodeSpec n;
  auto name = OptString(obj, "name", path, &err);
  auto kind = OptString(obj, "kind", path, &err);
  auto image = OptString(obj, "image", path, &err);
  if (!err.ok()) return err;
  if (!name) return InvalidField(path + ".name", "required");
  if (!kind) return InvalidField(path + ".kind", "required");
  if (!image) return InvalidField(path + ".image", "required");
  n.name = *name;
  n.kind = *kind;
  n.image = *image;
  n.nics = OptInt(obj, "nics", path, 0, 64, &err);
  n.memory_mb = OptInt(obj, "memory_mb", path, 16, 1 << 20, &err);
  n.vcpus = OptInt(obj, "vcpus", path, 1, 128, &err);
  n.boot_timeout_s = OptInt(obj, "boot_timeout_s", path, 1, 24 * 3600, &err);
  n.idle_timeout_s = OptInt(obj, "idle_timeout_s", path, 0, 24 * 3600, &err);
  n.machine = OptString(obj, "machine", path, &err);
  n.disk_bus = OptString(obj, "disk_bus", path, &err);
  n.nic_model = OptString(obj, "nic_model", path, &err);
  n.cpu_mode = OptString(obj, "cpu_mode", path, &err);
  n.cpu_model = OptString(obj, "cpu_model", path, &err);
  n.startup_config = OptString(obj, "startup_config", path, &err);
  n.username = OptString(obj, "username", path, &err);
  n.password = OptString(obj, "password", path, &err);
  if (!err.ok()) return err;
  simdjson::dom::element pats;
  if (obj["ready_patterns"].get(pats) == simdjson::SUCCESS) {
    simdjson::dom::array arr;
    if (pats.get_array().get(arr))
      return InvalidField(path + ".ready_patterns", "must be an array");
    for (auto p : arr) {
      std::string_view s;
      if (p.get_string().get(s) || s.empty()) {
        return InvalidField(path + ".ready_patterns", "must hold non-empty strings");
      }
      n.ready_patterns.emplace_back(s);
    }
  }
  simdjson::dom::element start;
  if (obj["start"].get(start) == simdjson::SUCCESS && start.get_bool().get(n.start)) {
    return InvalidField(path + ".start", "must be a boolean");
  }
  simdjson::dom::element binds;
  if (obj["binds"].get(binds) == simdjson::SUCCESS) {
    simdjson::dom::array arr;
    if (binds.get_array().get(arr)) {
      return InvalidField(path + ".binds", "must be an array of \"SRC:DST[:ro]\" strings");
    }
    if (arr.size() > 64) return InvalidField(path + ".binds", "has more than 64 binds");
    size_t j = 0;
    for (auto b : arr) {
      std::string field = path + ".binds[" + std::to_string(j++) + "]";
      std::string_view s;
      if (b.get_string().get(s)) return InvalidField(field, "must be a string");
      auto bind = providers::ParseBind(s);
      if (!bind.ok()) return InvalidField(field, bind.status().message());
      n.binds.push_back(std::move(bind).value());
    }
  }
  simdjson::dom::element save;
  if (obj["save_on_stop"].get(save) == simdjson::SUCCESS) {
    bool b = false;
    if (save.get_bool().get(b)) return InvalidField(path + ".save_on_stop", "must be a boolean");
    n.save_on_stop = b;
  }
  return n;
}

}  // namespace

Result<Endpoint> ParseEndpoint(std::string_view text, const std::string& field) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return InvalidField(field, "expected \"node:interface\", got \"" + std::string(text) + "\"");
  }
  return Endpoint{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
}

Result<LabSpec> ParseLabSpec(simdjson::dom::element params) {
  simdjson::dom::object obj;
  if (params.get_object().get(obj)) return InvalidField("params", "must be an object");
  LabSpec lab;
  Status err;
  // "name" was the first spelling; "lab" is what every other method takes.
  auto by_lab = OptString(obj, "lab", "", &err);
  auto by_name = OptString(obj, "name", "", &err);
  if (!err.ok()) return err;
  if (by_lab && by_name)
    return InvalidField("name", "is the old alias of \"lab\"; give only \"lab\"");
  if (!by_lab && !by_name) return InvalidField("lab", "required string");
  lab.name = by_lab ? *by_lab : *by_name;
  lab.name_field = by_lab ? "lab" : "name";
  for (auto [key, out] :
       {std::pair{"use_saved_configs", &lab.use_saved_configs},
        std::pair{"save_on_stop", &lab.save_on_stop}, std::pair{"force", &lab.force}}) {
    simdjson::dom::element el;
    if (obj[key].get(el) == simdjson::SUCCESS && el.get_bool().get(*out)) {
      return InvalidField(key, "must be a boolean");
    }
  }
  simdjson::dom::element nodes_el;
  simdjson::dom::array nodes;
  if (obj["nodes"].get(nodes_el) || nodes_el.get_array().get(nodes)) {
    return InvalidField("nodes", "required: an array of nodes");
  }
  std::set<std::string> names;
  size_t i = 0;
  for (auto n : nodes) {
    std::string path = "nodes[" + std::to_string(i++) + "]";
    auto parsed = ParseNode(n, path);
    if (!parsed.ok()) return parsed.status();
    auto& node = *parsed;
    if (!names.insert(node.name).second) {
      return InvalidField(path + ".name", "duplicate node name \"" + node.name + "\"");
    }
    lab.nodes.push_back(std::move(node));
  }
  simdjson::dom::element links_el;
  if (obj["links"].get(links_el) == simdjson::SUCCESS) {
    simdjson::dom::array links;
    if (links_el.get_array().get(links)) return InvalidField("links", "must be an array");
    size_t j = 0;
    for (auto l : links) {
      std::string path = "links[" + std::to_string(j++) + "]";
      simdjson::dom::object link_obj;
      if (l.get_object().get(link_obj)) return InvalidField(path, "must be an object");
      for (auto [key, value] : link_obj) {
        if (key != "endpoints") return InvalidField(path + "." + std::string(key), "unknown field");
      }
      simdjson::dom::array ends;
      if (link_obj["endpoints"].get_array().get(ends) || ends.size() != 2) {
        return InvalidField(path + ".endpoints",
                            "must be an array of two \"node:interface\" strings");
      }
      LinkSpec link;
      for (size_t k = 0; k < 2; ++k) {
        std::string_view s;
        std::string field = path + ".endpoints[" + std::to_string(k) + "]";
        if (ends.at(k).get_string().get(s)) return InvalidField(field, "must be a string");
        auto ep = ParseEndpoint(s, field);
        if (!ep.ok()) return ep.status();
        (k == 0 ? link.a : link.b) = *ep;
        if (!names.count((k == 0 ? link.a : link.b).node)) {
          return InvalidField(
              field, "no node named \"" + (k == 0 ? link.a : link.b).node + "\" in this lab");
        }
      }
      lab.links.push_back(std::move(link));
    }
  }
  simdjson::dom::element mgmt;
  if (obj["mgmt"].get(mgmt) == simdjson::SUCCESS) {
    auto parsed = ParseMgmtSpec(mgmt, names);
    if (!parsed.ok()) return parsed.status();
    lab.mgmt = std::move(parsed).value();
  }
  return lab;
}

}  // namespace labvirt::engine
