#include "engine/catalog/catalog_overrides.h"

#include "engine/catalog/catalog_validate.h"

namespace labvirt::engine {

Result<providers::DeviceKind> ApplyOverrides(const providers::DeviceKind& kind,
                                             const NodeOverrides& o) {
  providers::DeviceKind k = kind;
  auto bad = [](const std::string& field, const std::string& what) {
    return InvalidArgument("override " + field + ": " + what);
  };
  auto range = [&](const char* field, int v, int lo, int hi) -> Status {
    if (v < lo || v > hi) {
      return bad(field, std::to_string(v) + " is out of range " + std::to_string(lo) + ".." +
                            std::to_string(hi));
    }
    return Status::Ok();
  };
  if (o.memory_mb) {
    LABVIRT_RETURN_IF_ERROR(range("memory_mb", *o.memory_mb, kMinMemoryMb, kMaxMemoryMb));
    k.memory_mb = *o.memory_mb;
  }
  if (o.vcpus) {
    LABVIRT_RETURN_IF_ERROR(range("vcpus", *o.vcpus, 1, kMaxVcpus));
    k.vcpus = *o.vcpus;
    if (k.cpu_sockets) {
      // 1 socket × N cores (XRv9k's shape) scales with N; other shapes are device-specific.
      if (k.cpu_sockets == 1 && k.cpu_threads == 1) {
        k.cpu_cores = k.vcpus;
      } else if (k.cpu_sockets * k.cpu_cores * k.cpu_threads != k.vcpus) {
        return bad("vcpus", std::to_string(k.vcpus) + " does not fit " + k.name +
                                "'s fixed topology of " + std::to_string(k.cpu_sockets) +
                                " sockets x " + std::to_string(k.cpu_cores) + " cores x " +
                                std::to_string(k.cpu_threads) + " threads");
      }
    }
  }
  if (o.nics) {
    LABVIRT_RETURN_IF_ERROR(range("nics", *o.nics, 0, k.max_nics));
    k.default_nics = *o.nics;
  }
  if (o.machine) {
    if (!IsAllowedMachine(*o.machine)) {
      return bad("machine", "'" + *o.machine + "' is not pc, q35, pc-i440fx-X.Y or pc-q35-X.Y");
    }
    k.machine = *o.machine;
  }
  if (o.disk_bus) {
    if (!IsAllowedDiskBus(*o.disk_bus)) {
      return bad("disk_bus", "'" + *o.disk_bus + "' is not one of virtio, ide, sata, scsi");
    }
    k.disk_bus = *o.disk_bus;
  }
  if (o.nic_model) {
    if (!IsAllowedNicModel(*o.nic_model)) {
      return bad("nic_model",
                 "'" + *o.nic_model + "' is not one of virtio, e1000, e1000e, vmxnet3, rtl8139");
    }
    k.nic_model = *o.nic_model;
  }
  if (o.cpu_mode || o.cpu_model) {
    k.cpu_by_vendor.clear();  // the node's own choice holds on every host
    if (o.cpu_mode) {
      k.cpu.mode = *o.cpu_mode;
      if (k.cpu.mode != "custom") k.cpu.model.clear();
    }
    if (o.cpu_model) k.cpu.model = *o.cpu_model;
    Status s = ValidateCpuSpec(k.cpu, "");
    if (!s.ok()) return InvalidArgument("override " + s.message());
  }
  if (o.overall_timeout_s) {
    LABVIRT_RETURN_IF_ERROR(
        range("overall_timeout_s", *o.overall_timeout_s, kMinOverallTimeoutS, kMaxTimeoutS));
    k.readiness.overall_timeout = std::chrono::seconds(*o.overall_timeout_s);
  }
  if (o.idle_timeout_s) {
    LABVIRT_RETURN_IF_ERROR(range("idle_timeout_s", *o.idle_timeout_s, 0,
                                  static_cast<int>(k.readiness.overall_timeout.count())));
    k.readiness.idle_timeout = std::chrono::seconds(*o.idle_timeout_s);
  }
  if (o.retries) {
    LABVIRT_RETURN_IF_ERROR(range("retries", *o.retries, 0, kMaxRetries));
    k.readiness.retries = *o.retries;
  }
  if (o.readiness_success) {
    if (o.readiness_success->empty()) {
      return bad("readiness_success", "is empty (a node cannot turn ready with no pattern)");
    }
    for (size_t i = 0; i < o.readiness_success->size(); ++i) {
      Status s = ValidateReadinessPattern("readiness_success[" + std::to_string(i) + "]",
                                          (*o.readiness_success)[i]);
      if (!s.ok()) return InvalidArgument("override " + s.message());
    }
    k.readiness.success = *o.readiness_success;
    k.readiness.none = false;
  }
  if (o.username) k.credentials.username = *o.username;
  if (o.password) k.credentials.password = *o.password;
  // Cross-field rules (ide needs i440fx, idle ≤ overall after both changed, …).
  Status s = ValidateDeviceKind(k);
  if (!s.ok()) return InvalidArgument("override makes " + k.name + " invalid: " + s.message());
  return k;
}

}  // namespace labvirt::engine
