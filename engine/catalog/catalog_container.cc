// ParseContainerKind and ValidateContainer (catalog_container.h).
#include "engine/catalog/catalog_container.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace labvirt::engine {
namespace {

Status Bad(const std::string& field, const std::string& why) {
  return InvalidArgument(field + ": " + why);
}

// Text that reaches Docker's create body and the container's argv/env: printable, bounded.
Status CheckArg(const std::string& field, const std::string& text, size_t max) {
  if (text.size() > max) return Bad(field, "is longer than " + std::to_string(max) + " bytes");
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return Bad(field, "has a control character");
  }
  return Status::Ok();
}

// A Linux interface name prefix: with the largest number after it, at most 15 characters.
Status CheckIfPrefix(const std::string& field, const std::string& prefix) {
  if (prefix.empty() || prefix.size() > 10) return Bad(field, "must be 1..10 characters");
  for (unsigned char c : prefix) {
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '.') {
      return Bad(field, "'" + prefix + "' has a character outside A-Z a-z 0-9 - _ .");
    }
  }
  return Status::Ok();
}

// Docker's capability names: upper case letters and '_', without the CAP_ prefix.
Status CheckCapability(const std::string& field, const std::string& cap) {
  if (cap.empty() || cap.size() > 32) return Bad(field, "must be 1..32 characters");
  for (unsigned char c : cap) {
    if (!std::isupper(c) && c != '_') return Bad(field, "'" + cap + "' is not like NET_ADMIN");
  }
  if (cap.rfind("CAP_", 0) == 0) return Bad(field, "'" + cap + "': drop the CAP_ prefix");
  return Status::Ok();
}

// A signal Docker's kill and StopSignal take by name: SIGTERM-like ones and SIGRTMIN+N (what a
// systemd init halts on). SIGKILL is refused: a stop that cannot be caught is the forced stop's.
Status CheckStopSignal(const std::string& signal) {
  static constexpr std::string_view kNames[] = {"SIGTERM", "SIGINT",  "SIGQUIT", "SIGHUP",
                                                "SIGUSR1", "SIGUSR2", "SIGPWR"};
  for (std::string_view n : kNames) {
    if (signal == n) return Status::Ok();
  }
  constexpr std::string_view kRt = "SIGRTMIN+";
  if (signal.rfind(kRt, 0) == 0 && signal.size() > kRt.size() && signal.size() <= kRt.size() + 2) {
    std::string n = signal.substr(kRt.size());
    bool digits = std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isdigit(c); });
    if (digits && std::stoi(n) >= 1 && std::stoi(n) <= 15) return Status::Ok();
  }
  return Bad("container.stop_signal", "'" + signal +
                                          "' is not one of SIGTERM SIGINT SIGQUIT SIGHUP SIGUSR1 "
                                          "SIGUSR2 SIGPWR SIGRTMIN+1..15");
}

// Docker accepts only sysctls of the container's own namespaces (else the create fails late, at
// start, with the whole deploy waiting): net.*, the IPC ones and fs.mqueue.*.
Status CheckSysctl(const std::string& name, const std::string& value) {
  const std::string field = "container.sysctls." + name;
  static constexpr std::string_view kPrefixes[] = {"net.", "kernel.shm", "kernel.msg",
                                                   "fs.mqueue."};
  bool namespaced = name == "kernel.sem";
  for (std::string_view p : kPrefixes) namespaced = namespaced || name.rfind(p, 0) == 0;
  if (!namespaced) {
    return Bad(field,
               "is not a namespaced sysctl (net.*, kernel.shm*, kernel.msg*, kernel.sem, "
               "fs.mqueue.*): a container cannot set the host's");
  }
  if (name.size() > 128) return Bad(field, "name is longer than 128 bytes");
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-' && c != '/') {
      return Bad(field, "name has a character outside A-Z a-z 0-9 . _ - /");
    }
  }
  if (value.empty()) return Bad(field, "has no value");
  return CheckArg(field, value, 256);
}

}  // namespace

Status ParseContainerKind(ObjectReader& in, providers::DeviceKind* k) {
  LABVIRT_RETURN_IF_ERROR(in.Int("memory_mb", &k->memory_mb, true));
  LABVIRT_RETURN_IF_ERROR(in.Int("vcpus", &k->vcpus, true));
  LABVIRT_RETURN_IF_ERROR(in.String("interface_prefix", &k->interface_prefix, true));
  LABVIRT_RETURN_IF_ERROR(in.Int("interface_start", &k->interface_start, true));
  auto el = in.Element("container", true);
  if (!el.ok()) return el.status();
  auto obj = AsObject(**el, "container");
  if (!obj.ok()) return obj.status();
  ObjectReader c(*obj, "container");
  LABVIRT_RETURN_IF_ERROR(c.CheckDuplicates());
  providers::ContainerSpec& s = k->container;
  LABVIRT_RETURN_IF_ERROR(c.StringList("cmd", &s.cmd, false));
  LABVIRT_RETURN_IF_ERROR(c.StringMap("env", &s.env, false));
  LABVIRT_RETURN_IF_ERROR(c.Bool("privileged", &s.privileged, false));
  LABVIRT_RETURN_IF_ERROR(c.StringList("capabilities", &s.capabilities, false));
  LABVIRT_RETURN_IF_ERROR(c.String("interface_prefix", &s.interface_prefix, true));
  LABVIRT_RETURN_IF_ERROR(c.Int("interface_start", &s.interface_start, true));
  LABVIRT_RETURN_IF_ERROR(c.String("interfaces_env", &s.interfaces_env, false));
  LABVIRT_RETURN_IF_ERROR(c.String("console", &s.console, false));
  LABVIRT_RETURN_IF_ERROR(c.StringList("console_cmd", &s.console_cmd, false));
  LABVIRT_RETURN_IF_ERROR(c.String("stop_signal", &s.stop_signal, false));
  LABVIRT_RETURN_IF_ERROR(c.StringMap("sysctls", &s.sysctls, false));
  return c.CheckNoUnknown();
}

Status ValidateContainer(const providers::DeviceKind& k) {
  if (!providers::IsContainerKind(k)) {
    if (k.provider != "libvirt") {
      return Bad("provider", "'" + k.provider + "' is not one of libvirt, docker");
    }
    return Status::Ok();
  }
  const providers::ContainerSpec& s = k.container;
  if (s.cmd.size() > 64) return Bad("container.cmd", "has more than 64 arguments");
  for (size_t i = 0; i < s.cmd.size(); ++i) {
    LABVIRT_RETURN_IF_ERROR(CheckArg("container.cmd[" + std::to_string(i) + "]", s.cmd[i], 4096));
  }
  if (s.env.size() > 64) return Bad("container.env", "has more than 64 variables");
  for (const auto& [name, value] : s.env) {
    if (name.empty() || name.find('=') != std::string::npos) {
      return Bad("container.env", "'" + name + "' is not a variable name");
    }
    LABVIRT_RETURN_IF_ERROR(CheckArg("container.env." + name, name + value, 4096));
  }
  for (size_t i = 0; i < s.capabilities.size(); ++i) {
    LABVIRT_RETURN_IF_ERROR(
        CheckCapability("container.capabilities[" + std::to_string(i) + "]", s.capabilities[i]));
  }
  if (s.privileged && !s.capabilities.empty()) {
    return Bad("container.capabilities", "a privileged container has every capability already");
  }
  LABVIRT_RETURN_IF_ERROR(CheckIfPrefix("container.interface_prefix", s.interface_prefix));
  if (s.interface_start < 0 || s.interface_start > 1000) {
    return Bad("container.interface_start", "is out of range 0..1000");
  }
  if (!s.interfaces_env.empty()) {
    LABVIRT_RETURN_IF_ERROR(CheckArg("container.interfaces_env", s.interfaces_env, 64));
  }
  if (s.console != "tty" && s.console != "exec") {
    return Bad("container.console", "'" + s.console + "' is not one of tty, exec");
  }
  if (s.console == "exec" && s.console_cmd.empty()) {
    return Bad("container.console_cmd", "console \"exec\" needs the command to run, e.g. [\"sh\"]");
  }
  if (s.console == "tty" && !s.console_cmd.empty()) {
    return Bad("container.console_cmd", "only a console \"exec\" runs a command");
  }
  if (s.console_cmd.size() > 64) return Bad("container.console_cmd", "has more than 64 arguments");
  for (size_t i = 0; i < s.console_cmd.size(); ++i) {
    LABVIRT_RETURN_IF_ERROR(
        CheckArg("container.console_cmd[" + std::to_string(i) + "]", s.console_cmd[i], 4096));
  }
  if (!s.console_cmd.empty() && s.console_cmd[0].empty()) {
    return Bad("container.console_cmd[0]", "is empty");
  }
  if (!s.stop_signal.empty()) LABVIRT_RETURN_IF_ERROR(CheckStopSignal(s.stop_signal));
  if (s.sysctls.size() > 64) return Bad("container.sysctls", "has more than 64 settings");
  for (const auto& [name, value] : s.sysctls) LABVIRT_RETURN_IF_ERROR(CheckSysctl(name, value));
  if (k.reserved_nics != 0) return Bad("reserved_nics", "a container kind has no reserved NICs");
  if (k.day0.method == "iso" || k.day0.method == "fat") {
    return Bad("day0.method", "a container has no disk or CD-ROM for a config medium");
  }
  return Status::Ok();
}

}  // namespace labvirt::engine
