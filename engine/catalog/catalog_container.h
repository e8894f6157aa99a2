// The container part of a catalog entry (provider "docker"; docs/catalog.md "Container kinds"):
// what a container kind runs and how its interfaces are named inside it. Loader side;
// ValidateContainer checks the whole kind (catalog_validate.h calls it).
#ifndef LABVIRT_ENGINE_CATALOG_CATALOG_CONTAINER_H_
#define LABVIRT_ENGINE_CATALOG_CATALOG_CONTAINER_H_

#include "engine/catalog/catalog_json.h"
#include "providers/device_kind.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

// Reads a container kind's hardware (memory_mb, vcpus: a container has no machine, firmware,
// disks or CPU model, so those fields are unknown fields here) and its "container" object.
Status ParseContainerKind(ObjectReader& kind, providers::DeviceKind* k);

// A container kind: its command, environment, capabilities and interface names are sane; a
// VM kind: it has no container part. InvalidArgument "container.FIELD: …".
Status ValidateContainer(const providers::DeviceKind& k);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CATALOG_CATALOG_CONTAINER_H_
