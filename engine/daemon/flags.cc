#include "engine/daemon/flags.h"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>

#include "providers/node_naming.h"

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

}  // namespace

std::string FlagsUsage() {
  return R"(usage: labvirtd [flags]
  --socket PATH        control socket (default /run/labvirt/labvirtd.sock)
  --libvirt-uri URI    libvirt connection (default qemu:///system)
  --ovsdb ADDR         OVSDB server, unix:/PATH or tcp:HOST:PORT (default unix:/var/run/openvswitch/db.sock)
  --bridge NAME        OVS bridge for VM NICs (default arch-ovs)
  --image-root DIR     base images are taken only from under this directory (default /var/lib/labvirt/images)
  --state-dir DIR      overlays and state (default /var/lib/labvirt)
  --instance NAME      this daemon's instance: it adopts and cleans only its own instance's
                       domains and ports (default: "default" with the default --state-dir,
                       else derived from --state-dir)
  --catalog FILE       device catalog (JSON)
  --emulator FILE      QEMU binary for every domain (default: libvirt's; tests use a wrapper)
  --accel auto|tcg     auto (default): KVM where /dev/kvm opens, else TCG; tcg: always TCG
                       (to check the TCG path on a KVM host)
  --log-level LEVEL    debug|info|warn|error (default info)
  --workers N          threads for blocking libvirt calls, 1-64 (default 4; raised to cover
                       every start the boot budget admits at once, plus 4)
  --boot-budget N      weighted VM boots admitted at once, 1-1024 (default: host cores)
  --version            print the version and exit
  --help               print this text and exit
)";
}

Result<Flags> ParseFlags(const std::vector<std::string>& args) {
  Flags flags;
  using Setter = std::function<Status(const std::string&)>;
  const std::map<std::string, Setter> with_value = {
      {"socket",
       [&](const std::string& v) {
         LABVIRT_RETURN_IF_ERROR(CheckAbsolutePath("socket", v));
         if (v.size() > 107) return InvalidArgument("--socket: path longer than 107 bytes");
         flags.socket_path = v;
         return Status::Ok();
       }},
      {"libvirt-uri",
       [&](const std::string& v) {
         if (v.find(":") == std::string::npos) {
           return InvalidArgument("--libvirt-uri: expected a URI such as qemu:///system, got '" +
                                  v + "'");
         }
         flags.libvirt_uri = v;
         return Status::Ok();
       }},
      {"ovsdb",
       [&](const std::string& v) {
         LABVIRT_RETURN_IF_ERROR(CheckOvsdb(v));
         flags.ovsdb = v;
         return Status::Ok();
       }},
      {"bridge",
       [&](const std::string& v) {
         LABVIRT_RETURN_IF_ERROR(CheckBridge(v));
         flags.bridge = v;
         return Status::Ok();
       }},
      {"image-root",
       [&](const std::string& v) {
         LABVIRT_RETURN_IF_ERROR(CheckAbsolutePath("image-root", v));
         flags.image_root = v;
         return Status::Ok();
       }},
      {"state-dir",
       [&](const std::string& v) {
         LABVIRT_RETURN_IF_ERROR(CheckAbsolutePath("state-dir", v));
         flags.state_dir = v;
         return Status::Ok();
       }},
      {"emulator",
       [&](const std::string& v) {
         LABVIRT_RETURN_IF_ERROR(CheckAbsolutePath("emulator", v));
         flags.emulator = v;
         return Status::Ok();
       }},
      {"instance",
       [&](const std::string& v) {
         Status st = providers::ValidateName("--instance", v);
         if (!st.ok()) return InvalidArgument(st.message());
         flags.instance = v;
         return Status::Ok();
       }},
      {"catalog",
       [&](const std::string& v) {
         LABVIRT_RETURN_IF_ERROR(CheckAbsolutePath("catalog", v));
         flags.catalog = v;
         return Status::Ok();
       }},
      {"log-level",
       [&](const std::string& v) {
         if (!ParseLogLevel(v, &flags.log_level)) {
           return InvalidArgument("--log-level: expected debug, info, warn or error, got '" + v +
                                  "'");
         }
         return Status::Ok();
       }},
      {"workers",
       [&](const std::string& v) {
         int n = 0;
         auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (ec != std::errc() || p != v.data() + v.size() || n < 1 || n > 64) {
           return InvalidArgument("--workers: expected an integer 1-64, got '" + v + "'");
         }
         flags.workers = n;
         return Status::Ok();
       }},
      {"accel",
       [&](const std::string& v) {
         if (v != "auto" && v != "tcg") {
           return InvalidArgument("--accel: expected auto or tcg, got '" + v + "'");
         }
         flags.force_tcg = v == "tcg";
         return Status::Ok();
       }},
      {"boot-budget",
       [&](const std::string& v) {
         int n = 0;
         auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (ec != std::errc() || p != v.data() + v.size() || n < 1 || n > 1024) {
           return InvalidArgument("--boot-budget: expected an integer 1-1024, got '" + v + "'");
         }
         flags.boot_budget = n;
         return Status::Ok();
       }},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--version") {
      flags.show_version = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      flags.show_help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      return InvalidArgument("unexpected argument '" + arg + "' (see --help)");
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = with_value.find(name);
    if (it == with_value.end()) return InvalidArgument("unknown flag --" + name + " (see --help)");
    if (!has_value) {
      if (i + 1 >= args.size()) return InvalidArgument("--" + name + ": missing value");
      value = args[++i];
    }
    LABVIRT_RETURN_IF_ERROR(it->second(value));
  }
  return flags;
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
