#include "engine/daemon/flags.h"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "providers/node_naming.h"
#include "reactor/base/flag_parser.h"

namespace labvirt::engine {
namespace {

Status CheckAbsolutePath(const std::string& flag, const std::string& value) {
  if (value.empty() || value[0] != '/') {
    return InvalidArgument("--" + flag + ": must be an absolute path, got '" + value + "'");
  }
  if (value.find('\0') != std::string::npos || value.size() > 4096) {
    return InvalidArgument("--" + flag + ": not a valid path");
  }
  return Status::Ok();
}

Status CheckBridge(const std::string& value) {
  // Linux interface names: 1-15 bytes, no '/', whitespace or ':'.
  if (value.empty() || value.size() > 15) {
    return InvalidArgument("--bridge: must be 1-15 characters, got '" + value + "'");
  }
  for (char c : value) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return InvalidArgument("--bridge: only letters, digits, '-', '_' and '.' allowed");
  }
  return Status::Ok();
}

Status CheckOvsdb(const std::string& value) {
  if (value.rfind("unix:/", 0) == 0) return Status::Ok();
  if (value.rfind("tcp:", 0) == 0) {
    auto colon = value.rfind(':');
    int port = 0;
    auto tail = std::string_view(value).substr(colon + 1);
    auto [p, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), port);
    if (colon > 4 && ec == std::errc() && p == tail.data() + tail.size() && port > 0 &&
        port < 65536) {
      return Status::Ok();
    }
  }
  return InvalidArgument("--ovsdb: expected unix:/PATH or tcp:HOST:PORT, got '" + value + "'");
}

// Setters for the table below. Each refuses a bad value with a one-line message naming its flag.
using Setter = std::function<Status(const std::string&)>;

Setter Path(const char* flag, std::string* out) {
  return [flag, out](const std::string& v) {
    LABVIRT_RETURN_IF_ERROR(CheckAbsolutePath(flag, v));
    *out = v;
    return Status::Ok();
  };
}

Setter Checked(Status (*check)(const std::string&), std::string* out) {
  return [check, out](const std::string& v) {
    LABVIRT_RETURN_IF_ERROR(check(v));
    *out = v;
    return Status::Ok();
  };
}

Setter Integer(const char* flag, int lo, int hi, std::function<void(int)> set) {
  return [flag, lo, hi, set = std::move(set)](const std::string& v) {
    int n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || n < lo || n > hi) {
      return InvalidArgument("--" + std::string(flag) + ": expected an integer " +
                             std::to_string(lo) + "-" + std::to_string(hi) + ", got '" + v + "'");
    }
    set(n);
    return Status::Ok();
  };
}

Setter Switch(bool* out) {
  return [out](const std::string&) {
    *out = true;
    return Status::Ok();
  };
}

Status CheckSocket(const std::string& v) {
  LABVIRT_RETURN_IF_ERROR(CheckAbsolutePath("socket", v));
  if (v.size() > 107) return InvalidArgument("--socket: path longer than 107 bytes");
  return Status::Ok();
}

Status CheckLibvirtUri(const std::string& v) {
  if (v.find(":") != std::string::npos) return Status::Ok();
  return InvalidArgument("--libvirt-uri: expected a URI such as qemu:///system, got '" + v + "'");
}

Status CheckInstance(const std::string& v) {
  Status st = providers::ValidateName("--instance", v);
  return st.ok() ? st : InvalidArgument(st.message());
}

Setter LogLevelSetter(LogLevel* out) {
  return [out](const std::string& v) {
    if (ParseLogLevel(v, out)) return Status::Ok();
    return InvalidArgument("--log-level: expected debug, info, warn or error, got '" + v + "'");
  };
}

Setter AccelSetter(bool* force_tcg) {
  return [force_tcg](const std::string& v) {
    if (v != "auto" && v != "tcg") {
      return InvalidArgument("--accel: expected auto or tcg, got '" + v + "'");
    }
    *force_tcg = v == "tcg";
    return Status::Ok();
  };
}

Setter BootSlotSetter(bool* ready) {
  return [ready](const std::string& v) {
    if (v != "booting" && v != "ready") {
      return InvalidArgument("--boot-slot: expected booting or ready, got '" + v + "'");
    }
    *ready = v == "ready";
    return Status::Ok();
  };
}

Status CheckDocker(const std::string& value) {
  if (value == "none" || (!value.empty() && value[0] == '/')) return Status::Ok();
  return InvalidArgument("--docker: expected an absolute socket path or 'none', got '" + value +
                         "'");
}

Status CheckMgmt(const std::string& value) {
  if (value == "on" || value == "none") return Status::Ok();
  return InvalidArgument("--mgmt: expected on or none, got '" + value + "'");
}

// A pool is checked for its shape here; that it can hold a lab's subnet, at the first deploy.
Status CheckPool(const char* flag, const std::string& value, bool v6) {
  size_t slash = value.find('/');
  bool colon = value.find(':') != std::string::npos;
  if (slash == std::string::npos || slash == 0 || colon != v6) {
    return InvalidArgument(std::string(flag) + ": expected an " + (v6 ? "IPv6" : "IPv4") +
                           " prefix such as " + (v6 ? "fd6c:7600::/48" : "10.250.0.0/16") +
                           ", got '" + value + "'");
  }
  return Status::Ok();
}

// labvirtd's flags, in --help order, setting `f` (which must outlive the parser).
FlagParser MakeParser(Flags& f) {
  return FlagParser({
      {"--socket", true, "PATH", "control socket (default /run/labvirt/labvirtd.sock)",
       Checked(CheckSocket, &f.socket_path)},
      {"--libvirt-uri", true, "URI", "libvirt connection (default qemu:///system)",
       Checked(CheckLibvirtUri, &f.libvirt_uri)},
      {"--ovsdb", true, "ADDR",
       "OVSDB server, unix:/PATH or tcp:HOST:PORT (default unix:/var/run/openvswitch/db.sock)",
       Checked(CheckOvsdb, &f.ovsdb)},
      {"--docker", true, "PATH",
       "dockerd's API socket for container nodes, or 'none' (default /var/run/docker.sock)",
       Checked(CheckDocker, &f.docker)},
      {"--bridge", true, "NAME", "OVS bridge for VM NICs (default arch-ovs)",
       Checked(CheckBridge, &f.bridge)},
      {"--mgmt", true, "on|none",
       "management segments: each lab's management NICs reachable from the host\n"
       "(default on; docs/mgmt.md)",
       Checked(CheckMgmt, &f.mgmt)},
      {"--mgmt-pool", true, "CIDR",
       "IPv4 pool of the labs' management /24s (default 10.250.0.0/16)",
       Checked([](const std::string& v) { return CheckPool("--mgmt-pool", v, false); },
               &f.mgmt_pool)},
      {"--mgmt-pool6", true, "CIDR",
       "IPv6 pool of the labs' management /64s (default fd6c:7600::/48)",
       Checked([](const std::string& v) { return CheckPool("--mgmt-pool6", v, true); },
               &f.mgmt_pool6)},
      {"--dnsmasq", true, "FILE",
       "the DHCP server of management segments (default /usr/sbin/dnsmasq)",
       Path("dnsmasq", &f.dnsmasq)},
      {"--image-root", true, "DIR",
       "base images are taken only from under this directory (default /var/lib/labvirt/images)",
       Path("image-root", &f.image_root)},
      {"--bind-root", true, "DIR",
       "container nodes' binds are taken only from under this directory\n"
       "(default /var/lib/labvirt/binds)",
       Path("bind-root", &f.bind_root)},
      {"--state-dir", true, "DIR", "overlays and state (default /var/lib/labvirt)",
       Path("state-dir", &f.state_dir)},
      {"--instance", true, "NAME",
       "this daemon's instance: it adopts and cleans only its own instance's\n"
       "domains and ports (default: \"default\" with the default --state-dir,\n"
       "else derived from --state-dir)",
       Checked(CheckInstance, &f.instance)},
      {"--catalog", true, "FILE", "device catalog (JSON)", Path("catalog", &f.catalog)},
      {"--emulator", true, "FILE",
       "QEMU binary for every domain (default: libvirt's; tests use a wrapper)",
       Path("emulator", &f.emulator)},
      {"--accel", true, "auto|tcg",
       "auto (default): KVM where /dev/kvm opens, else TCG; tcg: always TCG\n"
       "(to check the TCG path on a KVM host)",
       AccelSetter(&f.force_tcg)},
      {"--log-level", true, "LEVEL", "debug|info|warn|error (default info)",
       LogLevelSetter(&f.log_level)},
      {"--workers", true, "N",
       "threads for blocking libvirt calls, 1-64 (default 4; raised to cover\n"
       "every start the boot budget admits at once, plus 4)",
       Integer("workers", 1, 64, [&f](int n) { f.workers = n; })},
      {"--boot-budget", true, "N",
       "ceiling of weighted VM starts at once, 1-1024 (default: 4 per host core;\n"
       "docs/benchmarks.md)",
       Integer("boot-budget", 1, 1024, [&f](int n) { f.boot_budget = n; })},
      {"--boot-slot", true, "WHEN",
       "when a started node gives its weight back: booting (default; its VM runs\n"
       "with the console attached) or ready",
       BootSlotSetter(&f.boot_slot_ready)},
      {"--mem-reserve", true, "MIB",
       "memory kept free: a boot waits until MemAvailable minus the RAM of boots\n"
       "in flight covers its RAM plus this, 0-1048576 (default 1024)",
       Integer("mem-reserve", 0, 1048576, [&f](int n) { f.mem_reserve_mib = n; })},
      {"--mem-pressure", true, "PCT",
       "a boot waits while memory PSI (some, last second) is at or above this,\n"
       "1-100, 100: off (default 10)",
       Integer("mem-pressure", 1, 100, [&f](int n) { f.mem_pressure = n; })},
      {"--cpu-pressure", true, "PCT",
       "a boot waits while CPU PSI (some, last second) is at or above this,\n"
       "1-100, 100: off (default 100; docs/benchmarks.md)",
       Integer("cpu-pressure", 1, 100, [&f](int n) { f.cpu_pressure = n; })},
      {"--libvirt-queue", true, "N",
       "a boot waits while more libvirt calls than this wait for a worker,\n"
       "0-1024 (default 4)",
       Integer("libvirt-queue", 0, 1024, [&f](int n) { f.libvirt_queue = n; })},
      {"--nice", true, "N",
       "the event loop thread's nice value, -20 to 19; 0: as started (default -10:\n"
       "consoles and events wait less for a core behind busy guests)",
       Integer("nice", -20, 19, [&f](int n) { f.loop_priority.nice = n; })},
      {"--realtime", true, "N",
       "the event loop thread's SCHED_FIFO priority, 1-99 (1: a readiness event waits\n"
       "for no guest; the default); 0: the fair scheduler at --nice",
       Integer("realtime", 0, 99, [&f](int n) { f.loop_priority.realtime = n; })},
      {"--version", false, "", "print the version and exit", Switch(&f.show_version)},
      {"--help", false, "", "print this text and exit", Switch(&f.show_help)},
      {"-h", false, "", "", Switch(&f.show_help)},
  });
}

}  // namespace

std::string FlagsUsage() {
  Flags unused;
  return "usage: labvirtd [flags]\n" + MakeParser(unused).Help(/*column=*/21);
}

Result<Flags> ParseFlags(const std::vector<std::string>& args) {
  Flags flags;
  FlagParse parsed = MakeParser(flags).Parse(args, Positionals::kRefuse, UnknownFlags::kRefuse);
  if (parsed.ok()) return flags;
  const FlagError& e = *parsed.error;
  switch (e.kind) {
    case FlagError::Kind::kUnexpectedArgument:
      return InvalidArgument("unexpected argument '" + e.arg + "' (see --help)");
    case FlagError::Kind::kUnknownFlag:
      return InvalidArgument("unknown flag " + e.flag + " (see --help)");
    case FlagError::Kind::kMissingValue:
      return InvalidArgument(e.flag + ": missing value");
    case FlagError::Kind::kBadValue:
      break;
  }
  return e.status;
}

std::string InstanceName(const Flags& flags) {
  if (!flags.instance.empty()) return flags.instance;
  // "/var/lib/labvirt/" and "/var/lib/labvirt/." are the same directory, so the same instance.
  std::string dir = std::filesystem::path(flags.state_dir).lexically_normal().string();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir == Flags{}.state_dir) return providers::kDefaultInstance;
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x",
                static_cast<unsigned>(providers::StableHash({dir}) & 0xffffffffu));
  return std::string("sd-") + hex;
}

}  // namespace labvirt::engine
