#include "providers/interface_naming.h"

#include <charconv>

namespace labvirt::providers {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

}  // namespace

std::string InterfaceName(const DeviceKind& kind, int index) {
  return kind.interface_prefix + std::to_string(index + kind.interface_start);
}

Result<int> InterfaceIndex(const DeviceKind& kind, std::string_view name) {
  const std::string form = " (expected " + kind.interface_prefix + "N with N from " +
                           std::to_string(kind.interface_start) + " to " +
                           std::to_string(kind.interface_start + kind.max_nics - 1) + ")";
  if (!kind.management_interface.empty() && EqualsIgnoreCase(name, kind.management_interface)) {
    return InvalidArgument("interface '" + std::string(name) + "' is the management interface of " +
                           kind.name + ", not a data interface");
  }
  const std::string& prefix = kind.interface_prefix;
  if (name.size() <= prefix.size() || !EqualsIgnoreCase(name.substr(0, prefix.size()), prefix)) {
    return InvalidArgument("interface '" + std::string(name) + "' is not a " + kind.name +
                           " interface name" + form);
  }
  std::string_view digits = name.substr(prefix.size());
  int number = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  // Leading zeros ("Gi0/01") or a sign would make two names map to one NIC; refuse them.
  bool leading_zero = digits.size() > 1 && digits[0] == '0';
  if (ec != std::errc() || end != digits.data() + digits.size() || leading_zero) {
    return InvalidArgument("interface '" + std::string(name) + "' has no valid number after '" +
                           prefix + "'" + form);
  }
  int index = number - kind.interface_start;
  if (index < 0 || index >= kind.max_nics) {
    return InvalidArgument("interface '" + std::string(name) + "' is out of range for " +
                           kind.name + form);
  }
  return index;
}

std::string InterfaceAlias(int index) { return "eth" + std::to_string(index + 1); }

Result<int> ResolveInterface(const DeviceKind& kind, std::string_view name) {
  // One rule for every kind: a topology mixing IOSv and Linux nodes must not need to know that
  // Linux's own names count from eth0. So "ethN" is never read as a vendor name.
  std::string_view digits = name.size() > 3 && name.substr(0, 3) == "eth" ? name.substr(3) : "";
  int number = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    return InterfaceIndex(kind, name);  // not an alias: the kind's own name
  }
  const std::string range = "eth1..eth" + std::to_string(kind.max_nics);
  if (number == 0 || digits[0] == '0') {
    return InvalidArgument("interface '" + std::string(name) + "': ethN counts data NICs from 1 (" +
                           range + " on " + kind.name + "; eth1 is " + InterfaceName(kind, 0) +
                           ")");
  }
  if (number > kind.max_nics) {
    return InvalidArgument("interface '" + std::string(name) + "' is out of range " + range +
                           " for " + kind.name);
  }
  return number - 1;
}

}  // namespace labvirt::providers
