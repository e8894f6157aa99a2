// Topology files for `labvirtctl deploy`: JSON, or YAML in the containerlab style
//
//   name: demo
//   topology:
//     nodes:
//       r1: {kind: iosv, image: iosv.qcow2, memory_mb: 512}
//     links:
//       - endpoints: ["r1:eth1", "r2:eth1"]
//
// turned into `lab.deploy` params. A JSON file may use the same shape or lab.deploy's own
// ({"lab" (or its alias "name"), "nodes": [...], "links": [...]}). Errors name the file and line.
#ifndef LABVIRT_TOOLS_CTL_TOPOLOGY_H_
#define LABVIRT_TOOLS_CTL_TOPOLOGY_H_

#include <string>
#include <vector>

#include "reactor/base/status.h"

namespace labvirt::ctl {

struct Topology {
  std::string name;
  std::string params_json;  // lab.deploy params
  std::vector<std::string> nodes;
};

// Parses `text` (YAML or JSON; `file` names it in messages, "FILE:LINE: message").
Result<Topology> ParseTopology(const std::string& text, const std::string& file);
// Reads and parses the file at `path`.
Result<Topology> LoadTopology(const std::string& path);

}  // namespace labvirt::ctl

#endif  // LABVIRT_TOOLS_CTL_TOPOLOGY_H_
