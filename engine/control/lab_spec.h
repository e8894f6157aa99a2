// `lab.deploy` params parsed into a LabSpec (engine/lab/lab_spec.h) and checked for shape.
// Pure: no catalog or host look-ups here (LabEngine resolves kinds, images and interfaces).
#ifndef LABVIRT_ENGINE_CONTROL_LAB_SPEC_H_
#define LABVIRT_ENGINE_CONTROL_LAB_SPEC_H_

#include <simdjson.h>

#include <set>
#include <string>
#include <string_view>

#include "engine/lab/lab_spec.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

// Parses `lab.deploy` params: {"lab": LAB, "nodes": [{"name","kind","image",...}],
// "links": [{"endpoints": ["r1:eth1", "r2:eth1"]}], "wait": bool}. "name" is accepted as an alias
// of "lab" (the protocol's first spelling); giving both is refused. Unknown members of a node or a
// link are refused. Errors are InvalidArgument naming the field path, written as in JSON
// ("nodes[2].memory_mb", "links[0].endpoints[1]"); LabEngine uses the same paths.
Result<LabSpec> ParseLabSpec(simdjson::dom::element params);

// Parses lab.deploy's `mgmt`: false (no segment), true (the defaults) or {"enabled", "subnet",
// "ipv6" (bool or an IPv6 /64), "nat", "forwards": [{"node","port","host_port","protocol"}]}.
// Shape only: addresses are checked against the host and other labs by the engine. `nodes` are
// the lab's node names (a forward names one). Errors name the field ("mgmt.forwards[1].port").
Result<MgmtSpec> ParseMgmtSpec(simdjson::dom::element el, const std::set<std::string>& nodes);

// Splits "node:interface"; InvalidArgument naming `field` when there is no ':' or a side is empty.
Result<Endpoint> ParseEndpoint(std::string_view text, const std::string& field);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONTROL_LAB_SPEC_H_
