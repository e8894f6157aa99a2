// The `cli` part of a catalog entry (docs/catalog.md "Console scripts"): how labvirt drives the
// device's CLI over its serial console. Loader side; ValidateCli (catalog_validate.h) checks it.
#ifndef LABVIRT_ENGINE_CATALOG_CATALOG_CLI_H_
#define LABVIRT_ENGINE_CATALOG_CATALOG_CLI_H_

#include "engine/catalog/catalog_json.h"
#include "providers/device_kind.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

// Reads the optional "cli" object of a kind into k->cli. InvalidArgument "cli.FIELD: …" on a
// wrong type, a duplicate or an unknown key.
Status ParseCli(ObjectReader& kind, providers::DeviceKind* k);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CATALOG_CATALOG_CLI_H_
