#include "engine/catalog/catalog_validate.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "engine/catalog/catalog_container.h"
#include "providers/node_naming.h"

#ifdef LABVIRT_HAVE_HYPERSCAN
#include <hs.h>
#endif

namespace labvirt::engine {
namespace {

using providers::DeviceKind;

Status Bad(std::string_view field, const std::string& what) {
  return InvalidArgument(std::string(field) + ": " + what);
}

Status CheckRange(std::string_view field, long long value, long long lo, long long hi) {
  if (value < lo || value > hi) {
    return Bad(field, std::to_string(value) + " is out of range " + std::to_string(lo) + ".." +
                          std::to_string(hi));
  }
  return Status::Ok();
}

Status CheckOneOf(std::string_view field, const std::string& value,
                  const std::set<std::string>& allowed) {
  if (allowed.count(value)) return Status::Ok();
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  return Bad(field, "'" + value + "' is not one of " + list);
}

// Text that ends up in XML attributes or log lines: printable ASCII and UTF-8, no control bytes.
Status CheckText(std::string_view field, const std::string& value, size_t max_len) {
  if (value.size() > max_len) {
    return Bad(field, "is " + std::to_string(value.size()) + " bytes, longer than " +
                          std::to_string(max_len));
  }
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Bad(field, "contains a control character");
    }
  }
  return Status::Ok();
}

// An identifier QEMU or libvirt takes verbatim (CPU model and feature names).
Status CheckIdent(std::string_view field, const std::string& value) {
  if (value.empty()) return Bad(field, "is empty");
  for (char c : value) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return Bad(field, "'" + value + "' may hold only letters, digits, '_', '-', '.'");
  }
  return Status::Ok();
}

bool IsI440fx(std::string_view machine) {
  return machine == "pc" || machine.rfind("pc-i440fx-", 0) == 0;
}

// True when `s` is "N.N" with one or more digits on each side.
bool IsVersion(std::string_view s) {
  size_t dot = s.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == s.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i != dot && (s[i] < '0' || s[i] > '9')) return false;
  }
  return true;
}

Status ValidateHardware(const DeviceKind& k) {
  LABVIRT_RETURN_IF_ERROR(CheckRange("memory_mb", k.memory_mb, kMinMemoryMb, kMaxMemoryMb));
  LABVIRT_RETURN_IF_ERROR(CheckRange("vcpus", k.vcpus, 1, kMaxVcpus));
  bool any_topology = k.cpu_sockets || k.cpu_cores || k.cpu_threads;
  if (any_topology) {
    if (k.cpu_sockets < 1 || k.cpu_cores < 1 || k.cpu_threads < 1) {
      return Bad("cpu_topology", "sockets, cores and threads must all be at least 1");
    }
    if (k.cpu_sockets * k.cpu_cores * k.cpu_threads != k.vcpus) {
      return Bad("cpu_topology", std::to_string(k.cpu_sockets) + " sockets x " +
                                     std::to_string(k.cpu_cores) + " cores x " +
                                     std::to_string(k.cpu_threads) + " threads is not vcpus " +
                                     std::to_string(k.vcpus));
    }
  }
  if (!IsAllowedMachine(k.machine)) {
    return Bad("machine", "'" + k.machine + "' is not pc, q35, pc-i440fx-X.Y or pc-q35-X.Y");
  }
  LABVIRT_RETURN_IF_ERROR(ValidateCpuSpec(k.cpu, ""));
  for (const auto& [vendor, spec] : k.cpu_by_vendor) {
    if (vendor != "amd" && vendor != "intel") {
      return Bad("cpu_vendor", "'" + vendor + "' is not amd or intel");
    }
    LABVIRT_RETURN_IF_ERROR(ValidateCpuSpec(spec, "cpu_vendor." + vendor + "."));
  }
  if (!IsAllowedDiskBus(k.disk_bus)) {
    return Bad("disk_bus", "'" + k.disk_bus + "' is not one of virtio, ide, sata, scsi");
  }
  if (k.disk_bus == "ide" && !IsI440fx(k.machine)) {
    return Bad("disk_bus", "ide needs an i440fx machine (q35 has no IDE controller), machine is '" +
                               k.machine + "'");
  }
  LABVIRT_RETURN_IF_ERROR(CheckOneOf(
      "disk_cache", k.disk_cache, {"none", "writeback", "writethrough", "directsync", "unsafe"}));
  LABVIRT_RETURN_IF_ERROR(CheckOneOf("disk_io", k.disk_io, {"native", "threads", "io_uring"}));
  if (k.disk_io == "native" && k.disk_cache != "none" && k.disk_cache != "directsync") {
    return Bad("disk_io",
               "native needs disk_cache none or directsync (O_DIRECT), not '" + k.disk_cache + "'");
  }
  if (!IsAllowedNicModel(k.nic_model)) {
    return Bad("nic_model",
               "'" + k.nic_model + "' is not one of virtio, e1000, e1000e, vmxnet3, rtl8139");
  }
  return Status::Ok();
}

Status ValidateNicsAndConsole(const DeviceKind& k) {
  LABVIRT_RETURN_IF_ERROR(CheckRange("max_nics", k.max_nics, 0, kMaxNics));
  LABVIRT_RETURN_IF_ERROR(CheckRange("default_nics", k.default_nics, 0, k.max_nics));
  LABVIRT_RETURN_IF_ERROR(CheckRange("reserved_nics", k.reserved_nics, 0, kMaxReservedNics));
  if (k.management_nic != !k.management_interface.empty()) {
    return Bad("management_interface",
               "must be set exactly when management_nic is true (it names that NIC)");
  }
  LABVIRT_RETURN_IF_ERROR(CheckText("management_interface", k.management_interface, 64));
  for (char c : k.network_os) {
    // An Ansible collection path (namespace.collection.platform): it lands in YAML unquoted.
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_') {
      return Bad("network_os", "'" + k.network_os + "' has a character outside A-Z a-z 0-9 . _");
    }
  }
  if (k.network_os.size() > 128) return Bad("network_os", "is longer than 128 characters");
  if (k.serials.empty() || k.serials.size() > static_cast<size_t>(kMaxSerials)) {
    return Bad("serials", "needs 1.." + std::to_string(kMaxSerials) + " entries");
  }
  for (size_t i = 0; i < k.serials.size(); ++i) {
    LABVIRT_RETURN_IF_ERROR(
        CheckOneOf("serials[" + std::to_string(i) + "]", k.serials[i].type, {"pty", "tcp"}));
  }
  if (k.serials[0].type != "pty") {
    return Bad("serials[0]", "must be 'pty': labvirt reads the first serial for readiness");
  }
  for (const auto& [key, value] : k.smbios) {
    LABVIRT_RETURN_IF_ERROR(CheckOneOf(
        "smbios", key, {"manufacturer", "product", "version", "serial", "sku", "family"}));
    LABVIRT_RETURN_IF_ERROR(CheckText("smbios." + key, value, 128));
  }
  if (k.interface_prefix.empty()) return Bad("interface_prefix", "is empty");
  LABVIRT_RETURN_IF_ERROR(CheckText("interface_prefix", k.interface_prefix, 48));
  for (char c : k.interface_prefix) {
    if (c == ' ') return Bad("interface_prefix", "contains a space");
  }
  return CheckRange("interface_start", k.interface_start, 0, 1000);
}

Status ValidateReadiness(const providers::ReadinessSpec& r) {
  if (!r.none && r.success.empty()) {
    return Bad("readiness.success", "is empty; set readiness.none to be ready without a check");
  }
  for (size_t i = 0; i < r.success.size(); ++i) {
    LABVIRT_RETURN_IF_ERROR(
        ValidateReadinessPattern("readiness.success[" + std::to_string(i) + "]", r.success[i]));
  }
  for (size_t i = 0; i < r.progress.size(); ++i) {
    std::string f = "readiness.progress[" + std::to_string(i) + "]";
    LABVIRT_RETURN_IF_ERROR(ValidateReadinessPattern(f + ".pattern", r.progress[i].pattern));
    LABVIRT_RETURN_IF_ERROR(CheckRange(f + ".percent", r.progress[i].percent, 1, 99));
    LABVIRT_RETURN_IF_ERROR(CheckText(f + ".label", r.progress[i].label, 64));
  }
  for (size_t i = 0; i < r.failure.size(); ++i) {
    std::string f = "readiness.failure[" + std::to_string(i) + "]";
    LABVIRT_RETURN_IF_ERROR(ValidateReadinessPattern(f + ".pattern", r.failure[i].pattern));
    if (r.failure[i].label.empty()) return Bad(f + ".label", "is empty");
    LABVIRT_RETURN_IF_ERROR(CheckText(f + ".label", r.failure[i].label, 64));
  }
  LABVIRT_RETURN_IF_ERROR(CheckRange("readiness.overall_timeout_s", r.overall_timeout.count(),
                                     kMinOverallTimeoutS, kMaxTimeoutS));
  LABVIRT_RETURN_IF_ERROR(
      CheckRange("readiness.idle_timeout_s", r.idle_timeout.count(), 0, r.overall_timeout.count()));
  return CheckRange("readiness.retries", r.retries, 0, kMaxRetries);
}

}  // namespace

Status ValidateCpuSpec(const providers::CpuSpec& cpu, const std::string& prefix) {
  LABVIRT_RETURN_IF_ERROR(
      CheckOneOf(prefix + "cpu_mode", cpu.mode, {"host-passthrough", "host-model", "custom"}));
  if (cpu.mode == "custom") LABVIRT_RETURN_IF_ERROR(CheckIdent(prefix + "cpu_model", cpu.model));
  if (cpu.mode != "custom" && !cpu.model.empty()) {
    return Bad(prefix + "cpu_model", "is only used with cpu_mode 'custom'");
  }
  LABVIRT_RETURN_IF_ERROR(CheckIdent(prefix + "cpu_fallback_model", cpu.fallback_model));
  for (const char* list : {"cpu_required_features", "cpu_disabled_features"}) {
    const auto& features = std::string_view(list) == "cpu_required_features"
                               ? cpu.required_features
                               : cpu.disabled_features;
    for (size_t i = 0; i < features.size(); ++i) {
      LABVIRT_RETURN_IF_ERROR(
          CheckIdent(prefix + list + "[" + std::to_string(i) + "]", features[i]));
    }
  }
  return Status::Ok();
}

bool IsAllowedMachine(std::string_view m) {
  if (m == "pc" || m == "q35") return true;
  if (m.rfind("pc-i440fx-", 0) == 0) return IsVersion(m.substr(10));
  if (m.rfind("pc-q35-", 0) == 0) return IsVersion(m.substr(7));
  return false;
}

bool IsAllowedDiskBus(std::string_view b) {
  return b == "virtio" || b == "ide" || b == "sata" || b == "scsi";
}

bool IsAllowedNicModel(std::string_view m) {
  return m == "virtio" || m == "e1000" || m == "e1000e" || m == "vmxnet3" || m == "rtl8139";
}

Status ValidateReadinessPattern(std::string_view field, const std::string& pattern) {
  return ValidatePattern(field, pattern, false);
}

Status ValidatePattern(std::string_view field, const std::string& pattern, bool end_anchor_ok) {
  if (pattern.empty()) return Bad(field, "pattern is empty");
  if (pattern.size() > 1024) return Bad(field, "pattern is longer than 1024 bytes");
  size_t backslashes = 0;
  for (size_t i = pattern.size() - 1; i > 0 && pattern[i - 1] == '\\'; --i) ++backslashes;
  if (!end_anchor_ok && pattern.back() == '$' && backslashes % 2 == 0) {
    return Bad(field, "pattern '" + pattern +
                          "' ends in '$', but a prompt has no newline after it, so it would "
                          "never match; drop the '$'");
  }
#ifdef LABVIRT_HAVE_HYPERSCAN
  hs_expr_info_t* info = nullptr;
  hs_compile_error_t* error = nullptr;
  // The scanners' flags: case-insensitive, ^ and $ at line boundaries.
  hs_error_t rc =
      hs_expression_info(pattern.c_str(), HS_FLAG_CASELESS | HS_FLAG_MULTILINE, &info, &error);
  if (rc != HS_SUCCESS) {
    std::string msg = error ? error->message : "unknown error";
    hs_free_compile_error(error);
    return Bad(field, "pattern '" + pattern + "' is not a valid Hyperscan regex: " + msg);
  }
  bool empty_match = info->min_width == 0;
  std::free(info);
  if (empty_match) {
    return Bad(field, "pattern '" + pattern + "' can match empty text, so it matches at once");
  }
#endif
  return Status::Ok();
}

Status ValidateDeviceKind(const DeviceKind& k) {
  LABVIRT_RETURN_IF_ERROR(providers::ValidateName("name", k.name));
  for (size_t i = 0; i < k.aliases.size(); ++i) {
    LABVIRT_RETURN_IF_ERROR(
        providers::ValidateName("aliases[" + std::to_string(i) + "]", k.aliases[i]));
  }
  if (k.vendor.empty()) return Bad("vendor", "is empty");
  LABVIRT_RETURN_IF_ERROR(CheckText("vendor", k.vendor, 64));
  LABVIRT_RETURN_IF_ERROR(CheckText("description", k.description, 256));
  LABVIRT_RETURN_IF_ERROR(ValidateHardware(k));
  LABVIRT_RETURN_IF_ERROR(ValidateContainer(k));
  LABVIRT_RETURN_IF_ERROR(ValidateNicsAndConsole(k));
  LABVIRT_RETURN_IF_ERROR(ValidateReadiness(k.readiness));
  LABVIRT_RETURN_IF_ERROR(ValidateDay0(k));
  LABVIRT_RETURN_IF_ERROR(ValidateCli(k));
  LABVIRT_RETURN_IF_ERROR(
      CheckRange("shutdown_timeout_s", k.shutdown_timeout.count(), 1, kMaxShutdownTimeoutS));
  if (!(k.admission_weight > 0.0 && k.admission_weight <= kMaxAdmissionWeight)) {
    return Bad("admission_weight", "must be > 0 and <= " + std::to_string(kMaxAdmissionWeight));
  }
  return Status::Ok();
}

}  // namespace labvirt::engine
