// Per-node overrides of a device kind's defaults, checked against ranges and allowed values.
#ifndef LABVIRT_ENGINE_CATALOG_CATALOG_OVERRIDES_H_
#define LABVIRT_ENGINE_CATALOG_CATALOG_OVERRIDES_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "providers/device_kind.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

// Each field, when set, replaces the kind's value. Names match the catalog's JSON fields.
struct NodeOverrides {
  std::optional<int> memory_mb;
  std::optional<int> vcpus;
  std::optional<int> nics;  // data NIC count (replaces default_nics; must be ≤ max_nics)
  std::optional<std::string> machine;
  std::optional<std::string> disk_bus;
  std::optional<std::string> nic_model;
  // The CPU (providers/cpu_policy.h): replaces the kind's, on hosts of every vendor. cpu_model
  // needs cpu_mode custom (set here or by the kind).
  std::optional<std::string> cpu_mode;
  std::optional<std::string> cpu_model;
  std::optional<int> idle_timeout_s;
  std::optional<int> overall_timeout_s;
  std::optional<int> retries;
  std::optional<std::vector<std::string>> readiness_success;  // replaces the success patterns
  // Console login (replace the kind's credentials). Stored with the other overrides in the
  // domain metadata, in clear text: lab credentials, not secrets.
  std::optional<std::string> username;
  std::optional<std::string> password;
};

// The kind with `overrides` applied, or InvalidArgument "override FIELD: …" naming the first bad
// field (out of range, not an allowed value, or inconsistent with the kind, e.g. disk_bus=ide on
// a q35 machine, or more NICs than the kind's max_nics). A fixed CPU topology follows a vcpus
// override when it is 1 socket × N cores × 1 thread; any other topology refuses it.
Result<providers::DeviceKind> ApplyOverrides(const providers::DeviceKind& kind,
                                             const NodeOverrides& overrides);

// As JSON for labvirt's domain metadata (only the set fields), and back. OverridesFromJson of ""
// is no overrides; anything malformed or unknown is InvalidArgument naming the field.
std::string OverridesToJson(const NodeOverrides& overrides);
Result<NodeOverrides> OverridesFromJson(std::string_view json);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CATALOG_CATALOG_OVERRIDES_H_
