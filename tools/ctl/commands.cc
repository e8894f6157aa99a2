// Subcommand dispatch and the one-call subcommands; the others live by theme in
// commands_lab.cc, commands_node.cc and commands_events.cc.
#include "tools/ctl/commands.h"

#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "tools/ctl/commands_internal.h"

namespace labvirt::ctl {
namespace {

using internal::Args;
using internal::CallOnce;
using internal::CallResult;
using internal::Fail;
using internal::Show;

// catalog: the kinds the running labvirtd knows, as `kinds` shows the catalog file.
int Catalog(const Options& o) {
  CallResult r = CallOnce(o, "catalog.list", "{}");
  if (!r.ok || o.json) return Show(o, r);
  simdjson::dom::parser parser;
  std::printf("%-24s %-18s %-34s %7s %4s %4s\n", "KIND", "VENDOR", "ALIASES", "RAM_MB", "VCPU",
              "NICS");
  for (auto k : parser.parse(r.text).get_array()) {
    std::string aliases;
    for (auto alias : k["aliases"].get_array()) {
      aliases += (aliases.empty() ? "" : ",") + std::string(alias.get_string().value());
    }
    std::printf("%-24s %-18s %-34s %7lld %4lld %4lld\n", internal::Str(k, "kind").c_str(),
                internal::Str(k, "vendor").c_str(), aliases.empty() ? "-" : aliases.c_str(),
                static_cast<long long>(internal::Int(k, "memory_mb")),
                static_cast<long long>(internal::Int(k, "vcpus")),
                static_cast<long long>(internal::Int(k, "max_nics")));
  }
  return 0;
}

// metrics: Prometheus text as it is (the result is a JSON string).
int Metrics(const Options& o) {
  CallResult r = CallOnce(o, "metrics", "{}");
  if (!r.ok || o.json) return Show(o, r);
  simdjson::dom::parser parser;
  std::string_view text;
  if (parser.parse(r.text).get_string().get(text)) return Show(o, r);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

int Call(const Options& o, const Args& a) {
  if (a.pos.empty() || a.pos.size() > 2) return Fail("usage: labvirtctl call METHOD [PARAMS]", 2);
  std::string params = a.pos.size() == 2 ? a.pos[1] : "{}";
  simdjson::dom::parser check;
  simdjson::dom::element doc;
  if (check.parse(params).get(doc) || !doc.is_object()) {
    return Fail("PARAMS must be a JSON object, got: " + params, 2);
  }
  return Show(o, CallOnce(o, a.pos[0], params));
}

int HostInfo(const Options& o) { return Show(o, CallOnce(o, "host.info", "{}")); }

int Cleanup(const Options& o, const Args& a) {
  if (!a.pos.empty()) return Fail("usage: labvirtctl cleanup [--dry-run]", 2);
  return Show(o, CallOnce(o, "lab.cleanup", a.Has("--dry-run") ? R"({"dry_run":true})" : "{}"));
}

int Destroy(const Options& o, const Args& a) {
  if (a.pos.size() != 1) return Fail("usage: labvirtctl destroy LAB", 2);
  return Show(o, CallOnce(o, "lab.destroy", internal::Obj({{"lab", a.pos[0]}})));
}

// save LAB [NODE]: the running config of one node, or of every ready node of the lab.
int Save(const Options& o, const Args& a) {
  if (a.pos.empty() || a.pos.size() > 2) return Fail("usage: labvirtctl save LAB [NODE]", 2);
  if (a.pos.size() == 1) {
    return Show(o, CallOnce(o, "lab.config.save", internal::Obj({{"lab", a.pos[0]}})));
  }
  return Show(
      o, CallOnce(o, "node.config.save", internal::Obj({{"lab", a.pos[0]}, {"node", a.pos[1]}})));
}

// config LAB NODE [--version V]: a saved config's text on stdout (--json: the whole answer).
int Config(const Options& o, const Args& a) {
  if (a.pos.size() != 2) return Fail("usage: labvirtctl config LAB NODE [--version V]", 2);
  auto version = a.flags.find("--version");
  CallResult r =
      CallOnce(o, "node.config.get",
               internal::Obj({{"lab", a.pos[0]},
                              {"node", a.pos[1]},
                              {"version", version == a.flags.end() ? "latest" : version->second}}));
  if (!r.ok || o.json) return Show(o, r);
  simdjson::dom::parser parser;
  std::string text = internal::Str(parser.parse(r.text), "text");
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

// A subcommand and the flags it takes; any other flag is a usage error.
struct Command {
  std::set<std::string> switches;
  std::set<std::string> with_value;
  std::function<int(const Options&, const Args&)> run;
};

std::function<int(const Options&, const Args&)> Node(const char* command, const char* method) {
  return [command, method](const Options& o, const Args& a) {
    return internal::NodeCall(o, a, command, method);
  };
}

// Commands that take no arguments at all.
std::function<int(const Options&, const Args&)> NoArgs(const char* command,
                                                       std::function<int(const Options&)> run) {
  return [command, run](const Options& o, const Args& a) {
    if (!a.pos.empty()) return Fail(std::string("usage: labvirtctl ") + command, 2);
    return run(o);
  };
}

const std::map<std::string, Command>& Commands() {
  static const std::map<std::string, Command> kCommands = {
      {"deploy", {{"--no-wait"}, {}, internal::Deploy}},
      {"status", {{}, {}, internal::LabStatus}},
      {"inventory", {{}, {"--format"}, internal::Inventory}},
      {"events", {{}, {"--lab", "--node", "--type"}, internal::Events}},
      {"console", {{"--ro", "--force"}, {}, internal::Console}},
      {"capture",
       {{},
        {"-w", "--filter", "--count", "--bytes", "--snaplen", "--duration", "--end"},
        internal::Capture}},
      {"node", {{}, {}, Node("node", "node.get")}},
      {"start", {{"--wait"}, {}, Node("start", "node.start")}},
      {"stop", {{"--force", "--wait"}, {"--timeout"}, Node("stop", "node.stop")}},
      {"restart", {{"--wait"}, {}, Node("restart", "node.restart")}},
      {"wipe", {{}, {}, Node("wipe", "node.wipe")}},
      {"reconcile", {{}, {}, Node("reconcile", "node.reconcile")}},
      {"nic-add", {{}, {}, Node("nic-add", "node.nic.add")}},
      {"nic-remove", {{}, {}, Node("nic-remove", "node.nic.remove")}},
      {"tail", {{}, {"--bytes"}, Node("tail", "console.tail")}},
      {"link",
       {{"--clear"},
        {"--delay", "--jitter", "--loss", "--rate", "--corrupt", "--duplicate", "--reorder",
         "--direction"},
        internal::Link}},
      {"save", {{}, {}, Save}},
      {"config", {{}, {"--version"}, Config}},
      {"metrics", {{}, {}, NoArgs("metrics", Metrics)}},
      {"catalog", {{}, {}, NoArgs("catalog", Catalog)}},
      {"host-info", {{}, {}, NoArgs("host-info", HostInfo)}},
      {"cleanup", {{"--dry-run"}, {}, Cleanup}},
      {"destroy", {{}, {}, Destroy}},
      {"call", {{}, {}, Call}},
  };
  return kCommands;
}

}  // namespace

void PrintUsage(FILE* out) {
  std::fputs(
      "usage: labvirtctl [--socket PATH] [--json] COMMAND [ARGS]\n"
      "  deploy FILE [--no-wait]        deploy a topology (YAML or JSON); follow until ready\n"
      "  destroy LAB                    destroy a lab and everything it made\n"
      "  status [LAB]                   labs, or one lab's nodes, management addresses and links\n"
      "  inventory LAB [--format yaml|json]   the lab's Ansible inventory (management addresses)\n"
      "  node LAB NODE                  one node in detail\n"
      "  start LAB NODE [--wait]        start a node\n"
      "  stop LAB NODE [--force] [--timeout S] [--wait]\n"
      "  console LAB NODE [--ro] [--force]   attach the terminal (Ctrl-] leaves)\n"
      "  capture LAB NODE:IF|LINK [-w FILE] [--filter EXPR] [--count N] [--bytes N]\n"
      "          [--snaplen N] [--duration S] [--end a|b]   live pcapng (| tcpdump -r -)\n"
      "  restart LAB NODE [--wait]      stop (ACPI) and start again, keeping the disk\n"
      "  wipe LAB NODE                  fresh disk from the base image (node stopped)\n"
      "  reconcile LAB NODE             re-read libvirt's view of the node and converge\n"
      "  nic-add LAB NODE               hot-plug the node's next data NIC\n"
      "  nic-remove LAB NODE            remove the node's last data NIC\n"
      "  link LAB create NODE:IF NODE:IF | link LAB delete|up|down LINK   live links\n"
      "  link LAB impair LINK [--delay 20ms] [--jitter 5ms] [--loss 1%] [--rate 1mbit]\n"
      "          [--corrupt %] [--duplicate %] [--reorder %] [--direction both|a-b|b-a] | --clear\n"
      "  save LAB [NODE]                save running configs over the console (versions kept)\n"
      "  config LAB NODE [--version V]  print a saved config (default: the latest)\n"
      "  cleanup [--dry-run]            remove ports, disks, logs no node claims\n"
      "  metrics                        Prometheus metrics\n"
      "  tail LAB NODE [--bytes N]      the end of the node's console log\n"
      "  events [--lab L] [--node N] [--type PREFIX]   stream events\n"
      "  catalog                        device kinds known to the running labvirtd\n"
      "  kinds                          the device catalog, offline (no daemon)\n"
      "  render-domain --kind KIND [--node NAME] [--nics N]   domain XML, offline\n"
      "  host-info                      daemon health and version\n"
      "  call METHOD [PARAMS]           send one JSON-RPC request\n"
      "  version\n",
      out);
}

int RunCommand(const std::string& cmd, const Options& o) {
  auto it = Commands().find(cmd);
  if (it == Commands().end()) {
    return Fail("unknown command '" + cmd + "' (see labvirtctl --help)", 2);
  }
  auto args = internal::SplitArgs(o.args, it->second.switches, it->second.with_value);
  if (!args.ok()) return Fail(cmd + ": " + args.status().message() + " (see labvirtctl --help)", 2);
  return it->second.run(o, *args);
}

}  // namespace labvirt::ctl
