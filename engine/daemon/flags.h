// labvirtd's command-line flags: parsing and validation, with no side effects.
#ifndef LABVIRT_ENGINE_DAEMON_FLAGS_H_
#define LABVIRT_ENGINE_DAEMON_FLAGS_H_

#include <string>
#include <vector>

#include "engine/daemon/loop_priority.h"
#include "reactor/base/log.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

struct Flags {
  std::string socket_path = "/run/labvirt/labvirtd.sock";
  std::string libvirt_uri = "qemu:///system";
  std::string ovsdb = "unix:/var/run/openvswitch/db.sock";
  std::string bridge = "arch-ovs";
  // dockerd's API socket for container nodes; "none": no docker provider.
  std::string docker = "/var/run/docker.sock";
  std::string image_root = "/var/lib/labvirt/images";
  std::string bind_root = "/var/lib/labvirt/binds";  // container nodes' host mounts come from here
  std::string state_dir = "/var/lib/labvirt";
  // Management segments (docs/mgmt.md): "on", or "none" for no segment at all.
  std::string mgmt = "on";
  std::string mgmt_pool = "10.250.0.0/16";
  std::string mgmt_pool6 = "fd6c:7600::/48";
  std::string dnsmasq = "/usr/sbin/dnsmasq";
  std::string emulator;    // empty: libvirt's default QEMU (tests give a wrapper)
  bool force_tcg = false;  // --accel tcg: domains run under TCG even where KVM is usable
  std::string instance;    // --instance; empty: derived from state_dir (InstanceName)
  std::string catalog;     // empty: the catalog installed beside the binary, once it exists
  LogLevel log_level = LogLevel::kInfo;
  int workers = 4;
  // The reactor thread's nice value and real-time priority (engine/daemon/loop_priority.h).
  LoopPriority loop_priority;
  // Admission (engine/lab/admission.h).
  double boot_budget = 0;        // ceiling of weighted starts at once; 0: four per host core
  bool boot_slot_ready = false;  // --boot-slot ready: a node holds its weight until ready
  int mem_reserve_mib = 1024;
  int mem_pressure = 10;   // percent; 100: off
  int cpu_pressure = 100;  // percent; 100: off
  int libvirt_queue = 4;
  bool show_version = false;
  bool show_help = false;
};

// Parses argv (argv[0] skipped). Accepts `--name value` and `--name=value`. Returns an
// InvalidArgument status whose message is one line naming the flag and what is wrong.
Result<Flags> ParseFlags(const std::vector<std::string>& args);

// The name of the labvirt instance this daemon is (docs/instances.md): --instance when given;
// otherwise "default" for the default --state-dir (/var/lib/labvirt) and "sd-" + 8 hex digits
// of a hash of the state dir's normalised path for any other, so that two daemons with different
// state dirs are different instances without being told.
std::string InstanceName(const Flags& flags);

// The --help text.
std::string FlagsUsage();

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_DAEMON_FLAGS_H_
