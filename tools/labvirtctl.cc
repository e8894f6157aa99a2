// labvirtctl: command-line client of labvirtd (see `labvirtctl --help`).
#include <cstdio>
#include <string>

#include "tools/ctl/commands.h"
#include "tools/labvirtctl_offline.h"

int main(int argc, char** argv) {
  // Offline subcommands (kinds, render-domain) need no daemon: tools/labvirtctl_offline.h.
  if (int rc = 0; labvirt::tools::MaybeRunOffline(argc, argv, &rc)) return rc;
  labvirt::ctl::Options o;
  std::string command;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    // --socket and --json are global: taken before or after the command.
    if (arg == "--socket" && i + 1 < argc) {
      o.socket = argv[++i];
    } else if (arg.rfind("--socket=", 0) == 0) {
      o.socket = arg.substr(9);
    } else if (arg == "--json") {
      o.json = true;
    } else if (command.empty() && (arg == "--help" || arg == "-h")) {
      labvirt::ctl::PrintUsage(stdout);
      return 0;
    } else if (command.empty() && arg.rfind("--", 0) == 0) {
      std::fprintf(stderr, "labvirtctl: unknown flag %s (see labvirtctl --help)\n", arg.c_str());
      return 2;
    } else if (command.empty()) {
      command = arg;
    } else {
      o.args.push_back(arg);
    }
  }
  if (command.empty()) {
    labvirt::ctl::PrintUsage(stderr);
    return 2;
  }
  if (command == "version") {
    std::printf("labvirtctl %s\n", LABVIRT_VERSION);
    return 0;
  }
  return labvirt::ctl::RunCommand(command, o);
}
