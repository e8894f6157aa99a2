// LabSpec: a lab as a client asks for it (nodes of a kind with an image, links between their
// interfaces), checked for shape but not resolved (LabEngine resolves kinds, images and
// interfaces). Parsed from `lab.deploy` params by engine/control/lab_spec.h.
#ifndef LABVIRT_ENGINE_LAB_LAB_SPEC_H_
#define LABVIRT_ENGINE_LAB_LAB_SPEC_H_

#include <optional>
#include <string>
#include <vector>

#include "providers/bind_mount.h"

namespace labvirt::engine {

struct NodeSpec {
  std::string name;
  std::string kind;
  std::string image;  // a path under the image root (or a container reference)
  std::optional<int> nics;
  std::optional<int> memory_mb;
  std::optional<int> vcpus;
  std::optional<std::string> machine;
  std::optional<std::string> disk_bus;
  std::optional<std::string> nic_model;
  std::optional<std::string> cpu_mode;   // host-passthrough | host-model | custom
  std::optional<std::string> cpu_model;  // with cpu_mode custom
  std::optional<int> boot_timeout_s;
  std::optional<int> idle_timeout_s;
  std::vector<std::string> ready_patterns;  // replace the kind's success patterns when given
  bool start = true;  // desired state after deploy: running (true) or defined (false)
  // Day-0 configuration text (checked against the kind by the deployer with
  // engine/catalog/startup_config.h), and the console login replacing the kind's credentials.
  std::optional<std::string> startup_config;
  std::optional<std::string> username;
  std::optional<std::string> password;
  // Save the running config (node.config.save) before a graceful stop or a destroy. Unset: the
  // lab's save_on_stop.
  std::optional<bool> save_on_stop;
  // A container node's host mounts ("SRC:DST[:ro]", providers/bind_mount.h), SRC still relative
  // to the bind root: the deployer confines it before anything is made.
  std::vector<providers::BindMount> binds;
};

// One end of a link: a node and an interface, as written by the client ("r1:eth1",
// "r1:GigabitEthernet0/1") and later resolved to a data NIC index.
struct Endpoint {
  std::string node;
  std::string interface;
};

struct LinkSpec {
  Endpoint a;
  Endpoint b;
};

// A host port forwarded to a node's management address (engine/lab/mgmt_network.h).
struct ForwardSpec {
  std::string node;
  std::string protocol = "tcp";  // "tcp" | "udp"
  int port = 22;                 // on the node
  int host_port = 0;             // on the host
};

// The lab's management segment (engine/lab/mgmt_network.h): on unless `enabled` is false, for the
// nodes whose kind has a management interface.
struct MgmtSpec {
  bool enabled = true;
  std::optional<std::string> subnet;       // IPv4 /16../29; unset: the next free /24 of the pool
  bool ipv6 = true;                        // an IPv6 /64 beside it
  std::optional<std::string> subnet_ipv6;  // unset: the next free /64 of the pool
  bool nat = false;                        // nodes reach the outside through the host
  std::vector<ForwardSpec> forwards;
};

struct LabSpec {
  std::string name;
  // The member the client named the lab with: "lab", or its old alias "name". Errors about the
  // lab's name point at it.
  std::string name_field = "lab";
  std::vector<NodeSpec> nodes;
  std::vector<LinkSpec> links;
  // Nodes given no startup_config start from their latest saved config (node.config.save), when
  // they have one and their kind takes a startup config.
  bool use_saved_configs = false;
  bool save_on_stop = false;  // the nodes' default
  // Deploy even when the RAM of the nodes to start exceeds the host's MemTotal minus the reserve
  // (they then wait in admission's memory gate for RAM that may never be free).
  bool force = false;
  MgmtSpec mgmt;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_LAB_SPEC_H_
