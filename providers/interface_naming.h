// Interface naming: a device kind's vendor interface names ↔ data NIC indexes, and the one
// kind-independent alias.
//
// Data NIC i (0-based, management and reserved NICs not counted) is called
// kind.interface_prefix + (i + kind.interface_start), e.g. "GigabitEthernet0/" + 0 or
// "Ethernet1/" + 1. Its alias is "eth" + (i + 1) on every kind: eth1 is the first data NIC of an
// IOSv (GigabitEthernet0/0), a CSR1000v (GigabitEthernet1) and a Linux VM (the guest's eth0)
// alike. Pure functions, any thread.
#ifndef LABVIRT_PROVIDERS_INTERFACE_NAMING_H_
#define LABVIRT_PROVIDERS_INTERFACE_NAMING_H_

#include <string>
#include <string_view>

#include "providers/device_kind.h"
#include "reactor/base/status.h"

namespace labvirt::providers {

// The vendor name of data NIC `index` (0 ≤ index < kind.max_nics; a CHECK-free precondition:
// out-of-range indexes still produce a name).
std::string InterfaceName(const DeviceKind& kind, int index);

// The data NIC index of vendor interface `name` (prefix matched case-insensitively, so
// "gigabitethernet0/1" works). InvalidArgument when the name does not have the kind's form, is
// the management interface, or is outside [0, kind.max_nics).
Result<int> InterfaceIndex(const DeviceKind& kind, std::string_view name);

// The alias of data NIC `index`: "eth" + (index + 1).
std::string InterfaceAlias(int index);

// The data NIC index that `name` names on `kind`: an alias ("eth1" is index 0 on every kind) or a
// vendor name (InterfaceIndex). Where the two spellings overlap — kinds whose own names are
// "ethN", numbered from eth0 — the alias wins, so a name never means two NICs. InvalidArgument
// for "eth0" (aliases count from 1), an alias beyond kind.max_nics, or a name of neither form.
Result<int> ResolveInterface(const DeviceKind& kind, std::string_view name);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_INTERFACE_NAMING_H_
