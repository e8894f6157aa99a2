// DeviceKind: what labvirt knows about one kind of network device VM (IOSv, CSR1000v, …) — its
// hardware, console, interface naming and boot-readiness spec. Pure data: the catalog
// (engine/catalog/catalog.h) loads and validates it from JSON; the domain XML builder and the
// readiness scanner consume it.
#ifndef LABVIRT_PROVIDERS_DEVICE_KIND_H_
#define LABVIRT_PROVIDERS_DEVICE_KIND_H_

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "providers/cpu_policy.h"

namespace labvirt::providers {

enum class Firmware { kBios, kUefiStateless, kUefiStateful };
enum class FailureAction { kFail, kRestart };

// One step of boot progress: when `pattern` is seen, the node is `percent` % booted (`label`).
struct ProgressStage {
  std::string pattern;
  int percent = 0;
  std::string label;
};

// A console text that means the boot went wrong, and what to do about it.
struct FailurePattern {
  std::string pattern;
  FailureAction action = FailureAction::kFail;
  std::string label;
};

// How to tell from the serial console that a device is ready. Patterns are Hyperscan regexes,
// matched case-insensitively on console text with VT100/ANSI escapes removed. A prompt pattern
// must not end in `$`: a prompt has no newline after it.
struct ReadinessSpec {
  // Ready as soon as the domain runs (no console check); the seed's probe "none".
  bool none = false;
  std::vector<std::string> success;
  std::vector<ProgressStage> progress;
  std::vector<FailurePattern> failure;
  // No console output for this long during boot counts as a failure (0 = no idle limit).
  std::chrono::seconds idle_timeout{0};
  // Not ready this long after start counts as a failure.
  std::chrono::seconds overall_timeout{600};
  // Boot attempts after the first one that a failure (restart action or timeout) may use.
  int retries = 1;
};

// How a device's day-0 (startup) configuration reaches it (docs/catalog.md "Day-0
// configuration"). An empty method: the kind takes no startup config.
struct Day0Spec {
  std::string method;            // "" | "iso" (CD-ROM) | "fat" (disk or USB stick) | "console"
  std::string attach;            // fat: "disk" (the kind's disk bus) | "usb"; iso: "cdrom"
  std::string volume_label;      // the ISO volume id or FAT label the OS looks for
  std::string file;              // the file the config is written to, in the root directory
  std::string wrapper = "none";  // how the text is packed into the file: "none" | "tgz"
  int max_bytes = 0;             // the largest config the device (and the medium) takes
  std::string archive_path;      // tgz: the config's path inside the archive
};

// A pattern the console shows while a script runs, and what to type when it does (e.g. IOS's
// "[confirm]" -> "", the initial configuration dialog's "[yes/no]:" -> "no").
struct CliAnswer {
  std::string expect;  // regex, matched on the last, unfinished line
  std::string send;    // typed, followed by CR
};

// How labvirt drives the device's CLI over the serial console (docs/catalog.md "Console
// scripts"): log in, set the terminal up, paste a day-0 config, read the running config back.
// Patterns are Hyperscan regexes, case-insensitive, on console text without VT100 escapes.
// Prompt-like patterns (prompt, login, password, more, answers) are matched against the last,
// unfinished line and may end in `$` (its end); `errors`, `config_begin`, `config_end` and
// `strip` against each whole line of a command's answer. An empty `prompt`: the kind has no
// console scripts.
struct CliSpec {
  std::string prompt;           // the CLI prompt (exec, enable and config modes alike)
  std::string login_prompt;     // asks for the username ("" = the console needs no login)
  std::string password_prompt;  // asks for the password (login, enable)
  std::string more_prompt;      // a pager's prompt, answered with a space ("" = none)
  std::vector<CliAnswer> answers;
  std::vector<std::string> setup;         // typed once at the first prompt (enable, paging off)
  std::vector<std::string> config_enter;  // before the pasted lines (configure terminal)
  std::vector<std::string> config_exit;   // after them (end)
  std::vector<std::string> config_save;   // makes the config survive a reboot (write memory)
  std::vector<std::string> errors;        // an answer line that means the line was refused
  std::string comment = "!";              // pasted lines starting with it are not typed
  std::string show_config;                // prints the running config
  std::string config_begin;               // its first line to keep ("" = the first line)
  std::string config_end;                 // its last line to keep ("" = up to the prompt)
  std::vector<std::string> strip;         // lines dropped from a saved config
  int line_timeout_s = 30;                // a typed line without a prompt after it fails
};

// Login a script uses on the console (overridable per node).
struct Credentials {
  std::string username;
  std::string password;
};

// How a container kind runs (provider "docker"; docs/catalog.md "Container kinds").
struct ContainerSpec {
  std::vector<std::string> cmd;            // the container's argv; empty: the image's own
  std::map<std::string, std::string> env;  // its environment
  bool privileged = false;                 // every capability and device (SR Linux, cEOS)
  std::vector<std::string> capabilities;   // added when not privileged, e.g. "NET_ADMIN"
  // Data NIC i's Linux name inside the container: interface_prefix + (i + interface_start), e.g.
  // "eth1" (the vendor name, DeviceKind::interface_prefix, may differ: SR Linux's e1-1 is
  // ethernet-1/1).
  std::string interface_prefix = "eth";
  int interface_start = 1;
  // An env variable that gets the data interfaces' Linux names, space-separated, so the
  // container's init can wait for them ("" = none): they appear only after it started.
  std::string interfaces_env;
  // The console: "tty" (the container's own TTY, through Docker's attach) or "exec" (console_cmd
  // run by docker exec with a TTY, started again whenever it exits: for images whose init gives
  // no shell on its TTY, e.g. cRPD's `cli`).
  std::string console = "tty";
  std::vector<std::string> console_cmd;  // argv of the exec console; only with console "exec"
  // The signal a graceful stop sends ("" = SIGTERM), e.g. "SIGRTMIN+3" for a systemd init (cEOS):
  // systemd ignores SIGTERM as PID 1, so a plain stop would wait out the kind's timeout.
  std::string stop_signal;
  // Kernel settings of the container's namespaces (Docker's Sysctls: only namespaced ones, net.*,
  // kernel.shm*/msg*/sem, fs.mqueue.*), e.g. SR Linux's net.ipv6.conf.all.accept_dad=0.
  std::map<std::string, std::string> sysctls;
};

struct SerialPort {
  std::string type = "pty";  // "pty" (labvirt reads it) or "tcp" (telnet server, for XRv9k aux)
};

struct DeviceKind {
  std::string name;                  // the catalog key, e.g. "cisco_iosv"
  std::vector<std::string> aliases;  // other names users and controllers use, e.g. "iosv"
  std::string vendor;
  std::string description;
  bool denylisted = false;  // known kind that must not be deployed without an explicit entry
  std::string denylist_reason;

  // Hardware.
  int memory_mb = 1024;
  // Whether the kernel may merge this kind's identical guest pages with other VMs' (KSM).
  // false renders <memoryBacking><nosharepages/>: for guests whose memory must not be shared
  // (side channels between tenants, or an image KSM is known to upset).
  bool memory_sharing = true;
  int vcpus = 1;
  int cpu_sockets = 0;  // 0: libvirt's default topology; else sockets × cores × threads = vcpus
  int cpu_cores = 0;
  int cpu_threads = 0;
  std::string machine = "pc";  // QEMU machine type
  CpuSpec cpu;                 // the CPU on any host (providers/cpu_policy.h: the ladder below it)
  // The CPU on hosts of one vendor ("amd", "intel"), where the kind needs another choice there.
  std::map<std::string, CpuSpec> cpu_by_vendor;
  Firmware firmware = Firmware::kBios;
  std::string disk_bus = "virtio";   // virtio | ide | sata | scsi
  std::string disk_cache = "none";   // none | writeback | writethrough | directsync | unsafe
  std::string disk_io = "native";    // native | threads | io_uring
  std::string nic_model = "virtio";  // virtio | e1000 | e1000e | vmxnet3 | rtl8139
  int max_nics = 8;                  // data NICs a node may have
  int default_nics = 4;              // data NICs when the node does not say
  int reserved_nics = 0;             // dummy NICs after the management NIC (XRv9k ctrl/dev)
  bool management_nic = false;       // an extra first NIC for management
  std::string management_interface;  // its vendor name, e.g. "mgmt0"
  // Ansible's ansible_network_os for the kind ("cisco.ios.ios"), for lab.inventory; empty: none
  // (a Linux host, which Ansible reaches as a plain SSH host).
  std::string network_os;
  std::vector<SerialPort> serials{SerialPort{}};
  std::map<std::string, std::string> smbios;  // system entries: manufacturer, product, version…

  // Interface naming: data NIC i (0-based) is called interface_prefix + (i + interface_start).
  // e.g. "GigabitEthernet0/" with start 0, "Ethernet1/" with start 1.
  std::string interface_prefix = "eth";
  int interface_start = 0;

  ReadinessSpec readiness;
  Day0Spec day0;
  CliSpec cli;
  Credentials credentials;
  // How long a graceful stop (ACPI) may take before labvirt forces the VM off.
  std::chrono::seconds shutdown_timeout{60};
  // Cost of one boot against the admission budget (1.0 = a small VM).
  double admission_weight = 1.0;
  // Why this entry departs from the seed agent's choice, where it does.
  std::string notes;
  // "libvirt" (a VM from a disk image) or "docker" (a container from an image reference).
  std::string provider = "libvirt";
  ContainerSpec container;
};

inline bool IsContainerKind(const DeviceKind& kind) { return kind.provider == "docker"; }

// The kind's CPU on a host of `vendor` ("amd", "intel", or "" when unknown).
inline const CpuSpec& CpuSpecFor(const DeviceKind& kind, const std::string& vendor) {
  auto it = kind.cpu_by_vendor.find(vendor);
  return it == kind.cpu_by_vendor.end() ? kind.cpu : it->second;
}

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_DEVICE_KIND_H_
