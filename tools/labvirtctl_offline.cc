#include "tools/labvirtctl_offline.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>

#include "engine/catalog/catalog.h"
#include "providers/domain_xml.h"
#include "providers/node_naming.h"
#include "reactor/base/flag_parser.h"
#include "reactor/base/json_writer.h"

namespace labvirt::tools {
namespace {

void Usage(FILE* out) {
  std::fputs(
      "offline commands (no daemon; read the catalog file):\n"
      "  kinds [--catalog FILE]             list the device kinds\n"
      "  render-domain --kind KIND [--node NAME] [--lab LAB] [--nics N] [--image REF]\n"
      "                [--state-dir DIR] [--domain-type kvm|qemu] [--catalog FILE]\n"
      "                                     print the domain XML labvirt would define\n",
      out);
}

// Parses "--name value" / "--name=value" pairs into `out` (by name without "--"); unknown flags
// and stray words are errors.
bool ParseFlags(const std::vector<std::string>& args, const std::vector<std::string>& known,
                std::map<std::string, std::string>* out) {
  std::vector<Flag> table;
  for (const std::string& name : known) {
    table.push_back({"--" + name, true, "", "", [out, name](const std::string& v) {
                       (*out)[name] = v;
                       return Status::Ok();
                     }});
  }
  FlagParse parsed =
      FlagParser(std::move(table)).Parse(args, Positionals::kRefuse, UnknownFlags::kRefuse);
  if (parsed.ok()) return true;
  const FlagError& e = *parsed.error;
  if (e.kind == FlagError::Kind::kMissingValue) {
    std::fprintf(stderr, "labvirtctl: %s needs a value\n", e.flag.c_str());
  } else {
    std::fprintf(stderr, "labvirtctl: unexpected argument %s\n", e.arg.c_str());
  }
  return false;
}

Result<engine::Catalog> Load(const std::map<std::string, std::string>& flags) {
  auto it = flags.find("catalog");
  return engine::LoadCatalog(it == flags.end() ? engine::DefaultCatalogPath() : it->second);
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

std::string ReadinessSummary(const providers::DeviceKind& k) {
  if (k.readiness.none) return "none (running)";
  return std::to_string(k.readiness.success.size()) + " pattern(s), " +
         std::to_string(k.readiness.overall_timeout.count()) + "s";
}

int Kinds(const std::vector<std::string>& args, bool json) {
  std::map<std::string, std::string> flags;
  if (!ParseFlags(args, {"catalog"}, &flags)) return 2;
  auto catalog = Load(flags);
  if (!catalog.ok()) {
    std::fprintf(stderr, "labvirtctl: %s\n", catalog.status().message().c_str());
    return 1;
  }
  if (json) {
    JsonWriter w;
    w.BeginArray();
    for (const auto& k : catalog->kinds()) {
      w.BeginObject().Key("kind").String(k.name).Key("vendor").String(k.vendor);
      w.Key("aliases").BeginArray();
      for (const auto& a : k.aliases) w.String(a);
      w.EndArray().Key("memory_mb").Int(k.memory_mb).Key("vcpus").Int(k.vcpus);
      w.Key("max_nics").Int(k.max_nics).Key("readiness").String(ReadinessSummary(k));
      w.EndObject();
    }
    w.EndArray();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  std::printf("%-24s %-18s %-34s %7s %4s %4s  %s\n", "KIND", "VENDOR", "ALIASES", "RAM_MB", "VCPU",
              "NICS", "READINESS");
  for (const auto& k : catalog->kinds()) {
    std::printf("%-24s %-18s %-34s %7d %4d %4d  %s\n", k.name.c_str(), k.vendor.c_str(),
                Join(k.aliases).c_str(), k.memory_mb, k.vcpus, k.max_nics,
                ReadinessSummary(k).c_str());
  }
  for (const auto& d : catalog->denylist()) {
    // A denylisted kind with its own entry (FTDv, FMCv) is deployable through that entry and was
    // listed above; only the ones refused outright get a row here.
    if (catalog->Find(d.name) != nullptr) continue;
    std::printf("%-24s %-18s %-34s refused without an entry: %s\n", d.name.c_str(), "(denylist)",
                Join(d.aliases).c_str(), d.reason.c_str());
  }
  return 0;
}

int RenderDomain(const std::vector<std::string>& args) {
  std::map<std::string, std::string> f;
  if (!ParseFlags(args,
                  {"kind", "node", "lab", "nics", "image", "state-dir", "domain-type", "catalog"},
                  &f)) {
    return 2;
  }
  if (!f.count("kind")) {
    std::fprintf(stderr, "labvirtctl: render-domain needs --kind KIND\n");
    return 2;
  }
  auto catalog = Load(f);
  if (!catalog.ok()) {
    std::fprintf(stderr, "labvirtctl: %s\n", catalog.status().message().c_str());
    return 1;
  }
  auto kind = catalog->Resolve(f["kind"]);
  if (!kind.ok()) {
    std::fprintf(stderr, "labvirtctl: %s\n", kind.status().message().c_str());
    return 1;
  }
  providers::DomainSpec s;
  s.lab = f.count("lab") ? f["lab"] : "lab";
  s.node = f.count("node") ? f["node"] : "node1";
  s.kind = *kind;
  s.kind_name = f["kind"];
  s.image = f.count("image") ? f["image"] : "base.qcow2";
  s.state_dir = f.count("state-dir") ? f["state-dir"] : "/var/lib/labvirt";
  s.domain_type = f.count("domain-type")                   ? f["domain-type"]
                  : ::access("/dev/kvm", R_OK | W_OK) == 0 ? "kvm"
                                                           : "qemu";
  if (f.count("nics")) {
    const std::string& n = f["nics"];
    int v = 0;
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
    if (ec != std::errc() || end != n.data() + n.size() || v < 0) {
      std::fprintf(stderr, "labvirtctl: --nics must be a non-negative integer, got '%s'\n",
                   n.c_str());
      return 2;
    }
    s.nics = v;
  }
  // Validate names before they reach any path.
  for (auto [what, name] : {std::pair<const char*, std::string>{"lab name", s.lab},
                            std::pair<const char*, std::string>{"node name", s.node}}) {
    if (Status st = providers::ValidateName(what, name); !st.ok()) {
      std::fprintf(stderr, "labvirtctl: %s\n", st.message().c_str());
      return 1;
    }
  }
  s.tag = providers::NodeTag(s.lab, s.node);
  s.overlay_path = s.state_dir + "/overlays/" + s.lab + "/" + s.node + ".qcow2";
  for (size_t i = 0, tcp = 0; i < s.kind.serials.size(); ++i) {
    if (s.kind.serials[i].type == "tcp")
      s.tcp_serial_ports.push_back(17000 + static_cast<int>(tcp++));
  }
  auto xml = providers::BuildDomainXml(s);
  if (!xml.ok()) {
    std::fprintf(stderr, "labvirtctl: %s\n", xml.status().message().c_str());
    return 1;
  }
  std::fputs(xml->c_str(), stdout);
  return 0;
}

}  // namespace

int RunOfflineCommand(const std::string& command, const std::vector<std::string>& args, bool json) {
  if (command == "kinds") return Kinds(args, json);
  if (command == "render-domain") return RenderDomain(args);
  Usage(stderr);
  return 2;
}

bool MaybeRunOffline(int argc, char** argv, int* exit_code) {
  bool json = false, help = false;
  auto set = [](bool* flag) {
    return [flag](const std::string&) {
      *flag = true;
      return Status::Ok();
    };
  };
  // Before the command: --json, and --socket with its value (ignored here); other flags are
  // labvirtctl's main's to judge. The first other word is the command.
  FlagParse before =
      FlagParser({{"--socket", true, "", "", [](const std::string&) { return Status::Ok(); }},
                  {"--json", false, "", "", set(&json)}})
          .Parse(std::vector<std::string>(argv + 1, argv + argc), Positionals::kStop,
                 UnknownFlags::kKeep);
  auto command = std::find_if(before.rest.begin(), before.rest.end(),
                              [](const std::string& a) { return a.rfind("--", 0) != 0; });
  if (command == before.rest.end() || (*command != "kinds" && *command != "render-domain")) {
    return false;
  }
  // After it: --json and --help anywhere; everything else is the command's.
  FlagParse after = FlagParser({{"--json", false, "", "", set(&json)},
                                {"--help", false, "", "", set(&help)},
                                {"-h", false, "", "", set(&help)}})
                        .Parse(std::vector<std::string>(command + 1, before.rest.end()),
                               Positionals::kKeep, UnknownFlags::kKeep);
  if (help) {
    Usage(stdout);
    *exit_code = 0;
    return true;
  }
  *exit_code = RunOfflineCommand(*command, after.rest, json);
  return true;
}

}  // namespace labvirt::tools
