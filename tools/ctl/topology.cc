#include "tools/ctl/topology.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/catalog/startup_config.h"
#include "reactor/base/json_writer.h"

namespace labvirt::ctl {
namespace {

Status At(const std::string& file, const YAML::Node& node, const std::string& msg) {
  return InvalidArgument(file + ":" + std::to_string(node.Mark().line + 1) + ": " + msg);
}

// Node fields and their JSON types: 's' string, 'i' integer, 'b' boolean, 'l' list of strings,
// 'c' a startup config (a file path or inline text, sent as lab.deploy's startup_config).
const std::map<std::string, char>& NodeFields() {
  static const std::map<std::string, char> kFields = {
      {"kind", 's'},           {"image", 's'},          {"nics", 'i'},           {"memory_mb", 'i'},
      {"vcpus", 'i'},          {"machine", 's'},        {"disk_bus", 's'},       {"nic_model", 's'},
      {"boot_timeout_s", 'i'}, {"idle_timeout_s", 'i'}, {"ready_patterns", 'l'}, {"start", 'b'},
      {"cpu_mode", 's'},       {"cpu_model", 's'},      {"username", 's'},       {"password", 's'},
      {"startup-config", 'c'}, {"startup_config", 's'}, {"save_on_stop", 'b'},   {"binds", 'l'}};
  return kFields;
}

// `startup-config:` as containerlab has it: a value with a line break is the config itself (a
// YAML block scalar); a one-line value is a file, relative to the topology file's directory.
// labvirtctl reads it: labvirtd never opens a path a client names.
Result<std::string> StartupConfig(const std::string& file, const std::string& name,
                                  const YAML::Node& v) {
  if (!v.IsScalar()) return At(file, v, "node '" + name + "': startup-config must be a string");
  std::string value = v.as<std::string>();
  if (value.find('\n') != std::string::npos) return value;
  std::filesystem::path path(value);
  if (path.is_relative()) path = std::filesystem::path(file).parent_path() / path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return At(file, v,
              "node '" + name + "': startup-config file '" + path.string() +
                  "' cannot be read: " + std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string config = text.str();
  // JSON would turn bad bytes into U+FFFD, and labvirtd could no longer tell.
  if (size_t at = engine::FirstInvalidUtf8(config); at != std::string::npos) {
    return At(file, v,
              "node '" + name + "': startup-config file '" + path.string() +
                  "' is not UTF-8 text (invalid byte at offset " + std::to_string(at) + ")");
  }
  return config;
}

Status WriteNode(const std::string& file, const std::string& name, const YAML::Node& n,
                 JsonWriter& w) {
  if (!n.IsMap()) return At(file, n, "node '" + name + "' must be a mapping");
  w.BeginObject().Key("name").String(name);
  for (const auto& kv : n) {
    std::string key = kv.first.as<std::string>();
    auto f = NodeFields().find(key);
    if (f == NodeFields().end()) {
      return At(file, kv.first, "node '" + name + "': unknown field '" + key + "'");
    }
    const YAML::Node& v = kv.second;
    try {
      switch (f->second) {
        case 's':
          if (!v.IsScalar()) return At(file, v, key + ": must be a string");
          w.Key(key).String(v.as<std::string>());
          break;
        case 'i':
          w.Key(key).Int(v.as<int64_t>());
          break;
        case 'b':
          w.Key(key).Bool(v.as<bool>());
          break;
        case 'c': {
          auto config = StartupConfig(file, name, v);
          if (!config.ok()) return config.status();
          w.Key("startup_config").String(*config);
          break;
        }
        case 'l':
          if (!v.IsSequence()) return At(file, v, key + ": must be a list of strings");
          w.Key(key).BeginArray();
          for (const auto& p : v) w.String(p.as<std::string>());
          w.EndArray();
          break;
      }
    } catch (const YAML::Exception&) {
      const char* what = f->second == 'i'   ? "an integer"
                         : f->second == 'b' ? "true or false"
                                            : "a string";
      return At(file, v, "node '" + name + "': " + key + " must be " + what);
    }
  }
  w.EndObject();
  return Status::Ok();
}

// A YAML value as JSON, for settings labvirtd checks itself (`mgmt:`): a plain scalar that reads
// as a boolean or an integer is one, any other scalar a string; keys are written with '_' for
// '-' (YAML's host-port is lab.deploy's host_port).
Status WriteYamlAsJson(const std::string& file, const YAML::Node& v, JsonWriter& w) {
  if (v.IsMap()) {
    w.BeginObject();
    for (const auto& kv : v) {
      std::string key = kv.first.as<std::string>();
      for (char& c : key) c = c == '-' ? '_' : c;
      w.Key(key);
      LABVIRT_RETURN_IF_ERROR(WriteYamlAsJson(file, kv.second, w));
    }
    w.EndObject();
  } else if (v.IsSequence()) {
    w.BeginArray();
    for (const auto& item : v) LABVIRT_RETURN_IF_ERROR(WriteYamlAsJson(file, item, w));
    w.EndArray();
  } else if (v.IsScalar()) {
    bool b = false;
    int64_t i = 0;
    if (v.Tag() != "!" && YAML::convert<bool>::decode(v, b)) {
      w.Bool(b);
    } else if (v.Tag() != "!" && YAML::convert<int64_t>::decode(v, i)) {
      w.Int(i);
    } else {
      w.String(v.as<std::string>());
    }
  } else {
    return At(file, v, "an empty value here");
  }
  return Status::Ok();
}

// ParseTopology's body; yaml-cpp throws where a value has the wrong shape (a mapping where a
// name should be), which ParseTopology turns into an error.
Result<Topology> ParseOrThrow(const std::string& text, const std::string& file) {
  YAML::Node root = YAML::Load(text);
  if (!root.IsMap()) return InvalidArgument(file + ":1: a topology must be a mapping");
  Topology topo;
  // containerlab names the lab `name`; lab.deploy's own shape says `lab` (or `name`, its alias).
  YAML::Node lab_name = root["lab"] ? root["lab"] : root["name"];
  if (!lab_name || !lab_name.IsScalar()) {
    return InvalidArgument(file + ":1: 'name' (the lab name) is required");
  }
  topo.name = lab_name.as<std::string>();
  // containerlab shape: topology.nodes (a map) and topology.links; lab.deploy's: nodes (a list).
  YAML::Node body = root["topology"] ? root["topology"] : root;
  YAML::Node nodes = body["nodes"];
  if (!nodes || (!nodes.IsMap() && !nodes.IsSequence())) {
    return At(file, body, "'topology.nodes' is required: a mapping of node name to settings");
  }
  JsonWriter w;
  w.BeginObject().Key("lab").String(topo.name);
  // labvirt's own: nodes without a startup-config start from their last saved config.
  for (auto [yaml, json] : {std::pair{"use-saved-configs", "use_saved_configs"},
                            std::pair{"save-on-stop", "save_on_stop"}}) {
    YAML::Node v = root[yaml];
    if (!v) continue;
    if (!v.IsScalar()) return At(file, v, std::string("'") + yaml + "' must be true or false");
    w.Key(json).Bool(v.as<bool>());
  }
  // The management segment (docs/mgmt.md): `mgmt: false`, or a mapping labvirtd checks.
  if (YAML::Node mgmt = root["mgmt"]) {
    w.Key("mgmt");
    LABVIRT_RETURN_IF_ERROR(WriteYamlAsJson(file, mgmt, w));
  }
  w.Key("nodes").BeginArray();
  std::set<std::string> names;
  auto add = [&](const std::string& name, const YAML::Node& n, const YAML::Node& mark) -> Status {
    if (!names.insert(name).second) return At(file, mark, "duplicate node '" + name + "'");
    topo.nodes.push_back(name);
    return WriteNode(file, name, n, w);
  };
  if (nodes.IsMap()) {
    for (const auto& kv : nodes) {
      LABVIRT_RETURN_IF_ERROR(add(kv.first.as<std::string>(), kv.second, kv.first));
    }
  } else {
    for (const auto& n : nodes) {
      if (!n.IsMap() || !n["name"]) return At(file, n, "each node needs a 'name'");
      YAML::Node copy = YAML::Clone(n);
      copy.remove("name");
      LABVIRT_RETURN_IF_ERROR(add(n["name"].as<std::string>(), copy, n));
    }
  }
  w.EndArray().Key("links").BeginArray();
  if (YAML::Node links = body["links"]) {
    if (!links.IsSequence()) return At(file, links, "'links' must be a list");
    for (const auto& l : links) {
      YAML::Node ends = l.IsMap() ? l["endpoints"] : YAML::Node();
      if (!ends || !ends.IsSequence() || ends.size() != 2) {
        return At(file, l, "a link needs 'endpoints: [\"node:interface\", \"node:interface\"]'");
      }
      w.BeginObject().Key("endpoints").BeginArray();
      for (const auto& e : ends) {
        std::string ep = e.as<std::string>();
        auto colon = ep.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == ep.size()) {
          return At(file, e, "endpoint '" + ep + "' must be \"node:interface\"");
        }
        if (!names.count(ep.substr(0, colon))) {
          return At(file, e, "endpoint '" + ep + "' names no node of this topology");
        }
        w.String(ep);
      }
      w.EndArray().EndObject();
    }
  }
  w.EndArray().EndObject();
  topo.params_json = w.Take();
  return topo;
}

}  // namespace

Result<Topology> ParseTopology(const std::string& text, const std::string& file) {
  try {
    return ParseOrThrow(text, file);
  } catch (const YAML::ParserException& e) {
    return InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) +
                           ": a value of the wrong type here (" + e.msg + ")");
  }
}

Result<Topology> LoadTopology(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound(path + ":0: cannot read the topology file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseTopology(ss.str(), path);
}

}  // namespace labvirt::ctl
