// LoadCatalog: JSON text → validated Catalog. Strict on purpose: a misspelt field would otherwise
// silently fall back to a default and boot a device with the wrong hardware.
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/catalog/catalog.h"
#include "engine/catalog/catalog_cli.h"
#include "engine/catalog/catalog_container.h"
#include "engine/catalog/catalog_json.h"
#include "engine/catalog/catalog_validate.h"
#include "providers/node_naming.h"

namespace labvirt::engine {
namespace {

using providers::DeviceKind;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Status ParseReadiness(simdjson::dom::object obj, providers::ReadinessSpec* r) {
  ObjectReader in(obj, "readiness");
  LABVIRT_RETURN_IF_ERROR(in.CheckDuplicates());
  LABVIRT_RETURN_IF_ERROR(in.Bool("none", &r->none, false));
  LABVIRT_RETURN_IF_ERROR(in.StringList("success", &r->success, false));
  int idle = 0, overall = 0;
  LABVIRT_RETURN_IF_ERROR(in.Int("idle_timeout_s", &idle, false));
  LABVIRT_RETURN_IF_ERROR(in.Int("overall_timeout_s", &overall, true));
  r->idle_timeout = std::chrono::seconds(idle);
  r->overall_timeout = std::chrono::seconds(overall);
  LABVIRT_RETURN_IF_ERROR(in.Int("retries", &r->retries, false));
  for (const char* list : {"progress", "failure"}) {
    auto el = in.Element(list, false);
    if (!el.ok()) return el.status();
    if (!el.value()) continue;
    simdjson::dom::array arr;
    if (el.value()->get_array().get(arr) != simdjson::SUCCESS) {
      return InvalidArgument(in.FieldPath(list) + ": expected an array of objects");
    }
    size_t i = 0;
    for (auto item : arr) {
      std::string path = in.FieldPath(list) + "[" + std::to_string(i++) + "]";
      auto obj_or = AsObject(item, path);
      if (!obj_or.ok()) return obj_or.status();
      ObjectReader stage(*obj_or, path);
      LABVIRT_RETURN_IF_ERROR(stage.CheckDuplicates());
      std::string pattern, label;
      LABVIRT_RETURN_IF_ERROR(stage.String("pattern", &pattern, true));
      LABVIRT_RETURN_IF_ERROR(stage.String("label", &label, true));
      if (std::string_view(list) == "progress") {
        int percent = 0;
        LABVIRT_RETURN_IF_ERROR(stage.Int("percent", &percent, true));
        r->progress.push_back({pattern, percent, label});
      } else {
        std::string action;
        LABVIRT_RETURN_IF_ERROR(stage.String("action", &action, true));
        if (action != "fail" && action != "restart") {
          return InvalidArgument(stage.FieldPath("action") + ": '" + action +
                                 "' is not one of fail, restart");
        }
        r->failure.push_back({pattern,
                              action == "restart" ? providers::FailureAction::kRestart
                                                  : providers::FailureAction::kFail,
                              label});
      }
      LABVIRT_RETURN_IF_ERROR(stage.CheckNoUnknown());
    }
  }
  return in.CheckNoUnknown();
}

// cpu_mode (required), cpu_model, cpu_required_features, cpu_disabled_features,
// cpu_fallback_model: the same fields at the kind's top level and in each cpu_vendor entry.
Status ParseCpu(ObjectReader& in, providers::CpuSpec* cpu) {
  LABVIRT_RETURN_IF_ERROR(in.String("cpu_mode", &cpu->mode, true));
  LABVIRT_RETURN_IF_ERROR(in.String("cpu_model", &cpu->model, false));
  LABVIRT_RETURN_IF_ERROR(in.StringList("cpu_required_features", &cpu->required_features, false));
  LABVIRT_RETURN_IF_ERROR(in.StringList("cpu_disabled_features", &cpu->disabled_features, false));
  return in.String("cpu_fallback_model", &cpu->fallback_model, false);
}

Status ParseHardware(ObjectReader& in, DeviceKind* k) {
  LABVIRT_RETURN_IF_ERROR(in.Int("memory_mb", &k->memory_mb, true));
  LABVIRT_RETURN_IF_ERROR(in.Bool("memory_sharing", &k->memory_sharing, false));
  LABVIRT_RETURN_IF_ERROR(in.Int("vcpus", &k->vcpus, true));
  auto topo = in.Element("cpu_topology", false);
  if (!topo.ok()) return topo.status();
  if (topo.value()) {
    auto obj = AsObject(*topo.value(), "cpu_topology");
    if (!obj.ok()) return obj.status();
    ObjectReader t(*obj, "cpu_topology");
    LABVIRT_RETURN_IF_ERROR(t.CheckDuplicates());
    LABVIRT_RETURN_IF_ERROR(t.Int("sockets", &k->cpu_sockets, true));
    LABVIRT_RETURN_IF_ERROR(t.Int("cores", &k->cpu_cores, true));
    LABVIRT_RETURN_IF_ERROR(t.Int("threads", &k->cpu_threads, true));
    LABVIRT_RETURN_IF_ERROR(t.CheckNoUnknown());
  }
  LABVIRT_RETURN_IF_ERROR(in.String("machine", &k->machine, true));
  LABVIRT_RETURN_IF_ERROR(ParseCpu(in, &k->cpu));
  auto by_vendor = in.Element("cpu_vendor", false);
  if (!by_vendor.ok()) return by_vendor.status();
  if (by_vendor.value()) {
    auto vendors = AsObject(*by_vendor.value(), "cpu_vendor");
    if (!vendors.ok()) return vendors.status();
    for (auto [vendor, value] : *vendors) {
      std::string path = "cpu_vendor." + std::string(vendor);
      auto obj = AsObject(value, path);
      if (!obj.ok()) return obj.status();
      ObjectReader v(*obj, path);
      LABVIRT_RETURN_IF_ERROR(v.CheckDuplicates());
      providers::CpuSpec& spec = k->cpu_by_vendor[std::string(vendor)];
      spec.fallback_model = k->cpu.fallback_model;
      LABVIRT_RETURN_IF_ERROR(ParseCpu(v, &spec));
      LABVIRT_RETURN_IF_ERROR(v.CheckNoUnknown());
    }
  }
  std::string firmware;
  LABVIRT_RETURN_IF_ERROR(in.String("firmware", &firmware, true));
  if (firmware == "bios") {
    k->firmware = providers::Firmware::kBios;
  } else if (firmware == "uefi-stateless") {
    k->firmware = providers::Firmware::kUefiStateless;
  } else if (firmware == "uefi-stateful") {
    k->firmware = providers::Firmware::kUefiStateful;
  } else {
    return InvalidArgument("firmware: '" + firmware +
                           "' is not one of bios, uefi-stateless, uefi-stateful");
  }
  LABVIRT_RETURN_IF_ERROR(in.String("disk_bus", &k->disk_bus, true));
  LABVIRT_RETURN_IF_ERROR(in.String("disk_cache", &k->disk_cache, true));
  LABVIRT_RETURN_IF_ERROR(in.String("disk_io", &k->disk_io, true));
  return in.String("nic_model", &k->nic_model, true);
}

// "day0": {method, attach?, volume_label?, file?, wrapper?, max_bytes} and
// "credentials": {username, password}; both optional.
Status ParseDay0(ObjectReader& in, DeviceKind* k) {
  auto day0 = in.Element("day0", false);
  if (!day0.ok()) return day0.status();
  if (day0.value()) {
    auto obj = AsObject(**day0, "day0");
    if (!obj.ok()) return obj.status();
    ObjectReader d(*obj, "day0");
    LABVIRT_RETURN_IF_ERROR(d.CheckDuplicates());
    providers::Day0Spec& s = k->day0;
    LABVIRT_RETURN_IF_ERROR(d.String("method", &s.method, true));
    LABVIRT_RETURN_IF_ERROR(d.String("attach", &s.attach, false));
    LABVIRT_RETURN_IF_ERROR(d.String("volume_label", &s.volume_label, false));
    LABVIRT_RETURN_IF_ERROR(d.String("file", &s.file, false));
    LABVIRT_RETURN_IF_ERROR(d.String("wrapper", &s.wrapper, false));
    LABVIRT_RETURN_IF_ERROR(d.String("archive_path", &s.archive_path, false));
    LABVIRT_RETURN_IF_ERROR(d.Int("max_bytes", &s.max_bytes, true));
    LABVIRT_RETURN_IF_ERROR(d.CheckNoUnknown());
    if (s.attach.empty() && s.method == "iso") s.attach = "cdrom";
    if (s.attach.empty() && s.method == "fat") s.attach = "disk";
  }
  auto creds = in.Element("credentials", false);
  if (!creds.ok()) return creds.status();
  if (!creds.value()) return Status::Ok();
  auto obj = AsObject(**creds, "credentials");
  if (!obj.ok()) return obj.status();
  ObjectReader c(*obj, "credentials");
  LABVIRT_RETURN_IF_ERROR(c.CheckDuplicates());
  LABVIRT_RETURN_IF_ERROR(c.String("username", &k->credentials.username, true));
  LABVIRT_RETURN_IF_ERROR(c.String("password", &k->credentials.password, true));
  return c.CheckNoUnknown();
}

Status ParseKind(simdjson::dom::object obj, DeviceKind* k) {
  ObjectReader in(obj, "");
  LABVIRT_RETURN_IF_ERROR(in.CheckDuplicates());
  LABVIRT_RETURN_IF_ERROR(in.String("name", &k->name, true));
  LABVIRT_RETURN_IF_ERROR(in.StringList("aliases", &k->aliases, false));
  LABVIRT_RETURN_IF_ERROR(in.String("vendor", &k->vendor, true));
  LABVIRT_RETURN_IF_ERROR(in.String("description", &k->description, false));
  LABVIRT_RETURN_IF_ERROR(in.String("provider", &k->provider, false));
  if (providers::IsContainerKind(*k)) {
    LABVIRT_RETURN_IF_ERROR(ParseContainerKind(in, k));
  } else {
    LABVIRT_RETURN_IF_ERROR(ParseHardware(in, k));
  }
  LABVIRT_RETURN_IF_ERROR(in.Int("max_nics", &k->max_nics, true));
  LABVIRT_RETURN_IF_ERROR(in.Int("default_nics", &k->default_nics, true));
  LABVIRT_RETURN_IF_ERROR(in.Int("reserved_nics", &k->reserved_nics, false));
  LABVIRT_RETURN_IF_ERROR(in.String("management_interface", &k->management_interface, false));
  k->management_nic = !k->management_interface.empty();
  LABVIRT_RETURN_IF_ERROR(in.String("network_os", &k->network_os, false));
  std::vector<std::string> serials;
  LABVIRT_RETURN_IF_ERROR(in.StringList("serials", &serials, false));
  if (!serials.empty()) {
    k->serials.clear();
    for (auto& s : serials) k->serials.push_back(providers::SerialPort{s});
  }
  LABVIRT_RETURN_IF_ERROR(in.StringMap("smbios", &k->smbios, false));
  if (!providers::IsContainerKind(*k)) {
    LABVIRT_RETURN_IF_ERROR(in.String("interface_prefix", &k->interface_prefix, true));
    LABVIRT_RETURN_IF_ERROR(in.Int("interface_start", &k->interface_start, true));
  }
  auto readiness = in.Element("readiness", true);
  if (!readiness.ok()) return readiness.status();
  auto robj = AsObject(*readiness.value(), "readiness");
  if (!robj.ok()) return robj.status();
  LABVIRT_RETURN_IF_ERROR(ParseReadiness(*robj, &k->readiness));
  LABVIRT_RETURN_IF_ERROR(ParseDay0(in, k));
  LABVIRT_RETURN_IF_ERROR(ParseCli(in, k));
  int shutdown = static_cast<int>(k->shutdown_timeout.count());
  LABVIRT_RETURN_IF_ERROR(in.Int("shutdown_timeout_s", &shutdown, false));
  k->shutdown_timeout = std::chrono::seconds(shutdown);
  LABVIRT_RETURN_IF_ERROR(in.Double("admission_weight", &k->admission_weight, true));
  LABVIRT_RETURN_IF_ERROR(in.String("notes", &k->notes, true));
  LABVIRT_RETURN_IF_ERROR(in.CheckNoUnknown());
  return ValidateDeviceKind(*k);
}

Status ParseDeny(simdjson::dom::object obj, DenyEntry* d) {
  ObjectReader in(obj, "");
  LABVIRT_RETURN_IF_ERROR(in.CheckDuplicates());
  LABVIRT_RETURN_IF_ERROR(in.String("name", &d->name, true));
  LABVIRT_RETURN_IF_ERROR(in.StringList("aliases", &d->aliases, false));
  LABVIRT_RETURN_IF_ERROR(in.String("reason", &d->reason, true));
  LABVIRT_RETURN_IF_ERROR(in.CheckNoUnknown());
  LABVIRT_RETURN_IF_ERROR(providers::ValidateName("name", d->name));
  for (const auto& a : d->aliases) LABVIRT_RETURN_IF_ERROR(providers::ValidateName("aliases", a));
  if (d->reason.empty()) return InvalidArgument("reason: is empty");
  return Status::Ok();
}

// Names the entry for messages: "kinds[3] 'cisco_iosv'" (the name only when it was read).
std::string EntryName(const char* list, size_t i, const std::string& name) {
  std::string out = std::string(list) + "[" + std::to_string(i) + "]";
  if (!name.empty()) out += " '" + name + "'";
  return out;
}

}  // namespace

Result<Catalog> LoadCatalogFromString(std::string_view json, std::string_view origin) {
  const std::string prefix = "catalog " + std::string(origin) + ": ";
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    return InvalidArgument(prefix + "not valid JSON: " + simdjson::error_message(err));
  }
  auto root_obj = AsObject(root, "top level");
  if (!root_obj.ok()) return InvalidArgument(prefix + root_obj.status().message());
  ObjectReader top(*root_obj, "");
  std::string notes;
  Status s = top.CheckDuplicates();
  if (s.ok()) s = top.String("notes", &notes, true);
  if (!s.ok()) return InvalidArgument(prefix + s.message());

  // Every name and alias, lower-cased → the entry that claimed it first; one map per list,
  // because a denylist entry may name a kind that has an entry (it then only stops the generic
  // fallback if the entry is removed).
  std::map<std::string, std::string> claimed[2];
  int list_no = 0;
  auto claim = [&](const std::string& key, const std::string& entry) -> Status {
    auto [it, fresh] = claimed[list_no].emplace(Lower(key), entry);
    if (!fresh) {
      return InvalidArgument(prefix + entry + ": name or alias '" + key + "' is already used by " +
                             it->second);
    }
    return Status::Ok();
  };

  std::vector<DeviceKind> kinds;
  std::vector<DenyEntry> denylist;
  for (const char* list : {"kinds", "denylist"}) {
    auto el = top.Element(list, true);
    if (!el.ok()) return InvalidArgument(prefix + el.status().message());
    simdjson::dom::array arr;
    if (el.value()->get_array().get(arr) != simdjson::SUCCESS) {
      return InvalidArgument(prefix + list + ": expected an array of objects");
    }
    size_t i = 0;
    for (auto item : arr) {
      auto obj = AsObject(item, EntryName(list, i, ""));
      if (!obj.ok()) return InvalidArgument(prefix + obj.status().message());
      std::string name;
      std::vector<std::string> aliases;
      if (std::string_view(list) == "kinds") {
        DeviceKind k;
        Status ks = ParseKind(*obj, &k);
        if (!ks.ok())
          return InvalidArgument(prefix + EntryName(list, i, k.name) + ": " + ks.message());
        name = k.name;
        aliases = k.aliases;
        kinds.push_back(std::move(k));
      } else {
        DenyEntry d;
        Status ds = ParseDeny(*obj, &d);
        if (!ds.ok())
          return InvalidArgument(prefix + EntryName(list, i, d.name) + ": " + ds.message());
        name = d.name;
        aliases = d.aliases;
        denylist.push_back(std::move(d));
      }
      std::string entry = EntryName(list, i, name);
      LABVIRT_RETURN_IF_ERROR(claim(name, entry));
      for (const auto& a : aliases) LABVIRT_RETURN_IF_ERROR(claim(a, entry));
      ++i;
    }
    ++list_no;
  }
  s = top.CheckNoUnknown();
  if (!s.ok()) return InvalidArgument(prefix + s.message());
  bool has_generic = false;
  for (const auto& k : kinds) has_generic |= k.name == kGenericKind;
  if (!has_generic) {
    return InvalidArgument(prefix + "kinds: no '" + std::string(kGenericKind) +
                           "' entry (unknown kinds fall back to it)");
  }
  return Catalog(std::string(origin), std::move(notes), std::move(kinds), std::move(denylist));
}

Result<Catalog> LoadCatalog(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return NotFound("catalog " + path + ": cannot read: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return NotFound("catalog " + path + ": read error");
  return LoadCatalogFromString(text.str(), path);
}

std::string SourceCatalogPath() {
#ifdef LABVIRT_CATALOG_SOURCE_PATH
  return LABVIRT_CATALOG_SOURCE_PATH;
#else
  return "catalog.json";
#endif
}

std::string DefaultCatalogPath() {
  if (const char* env = std::getenv("LABVIRT_CATALOG"); env && *env) return env;
#ifdef LABVIRT_CATALOG_INSTALL_PATH
  if (::access(LABVIRT_CATALOG_INSTALL_PATH, R_OK) == 0) return LABVIRT_CATALOG_INSTALL_PATH;
#endif
  return SourceCatalogPath();
}

}  // namespace labvirt::engine
