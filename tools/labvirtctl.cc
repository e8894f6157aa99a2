// labvirtctl: command-line client of labvirtd (see `labvirtctl --help`).
#include <cstdio>
#include <string>
#include <vector>

#include "reactor/base/flag_parser.h"
#include "tools/ctl/commands.h"
#include "tools/labvirtctl_offline.h"

int main(int argc, char** argv) {
  // Offline subcommands (kinds, render-domain) need no daemon: tools/labvirtctl_offline.h.
  if (int rc = 0; labvirt::tools::MaybeRunOffline(argc, argv, &rc)) return rc;
  labvirt::ctl::Options o;
  // --socket and --json are global: taken before or after the command. Everything else is the
  // command and its arguments, which the command's own parser reads.
  labvirt::FlagParser globals({
      {"--socket", true, "PATH", "",
       [&o](const std::string& v) {
         o.socket = v;
         return labvirt::Status::Ok();
       }},
      {"--json", false, "", "",
       [&o](const std::string&) {
         o.json = true;
         return labvirt::Status::Ok();
       }},
  });
  std::vector<std::string> rest =
      globals
          .Parse(std::vector<std::string>(argv + 1, argv + argc), labvirt::Positionals::kKeep,
                 labvirt::UnknownFlags::kKeep)
          .rest;
  // An empty argument names no command: the next one may.
  size_t at = 0;
  while (at < rest.size() && rest[at].empty()) ++at;
  if (at == rest.size()) {
    labvirt::ctl::PrintUsage(stderr);
    return 2;
  }
  const std::string& command = rest[at];
  if (command == "--help" || command == "-h") {
    labvirt::ctl::PrintUsage(stdout);
    return 0;
  }
  if (command.rfind("--", 0) == 0) {
    std::fprintf(stderr, "labvirtctl: unknown flag %s (see labvirtctl --help)\n", command.c_str());
    return 2;
  }
  if (command == "version") {
    std::printf("labvirtctl %s\n", LABVIRT_VERSION);
    return 0;
  }
  o.args.assign(rest.begin() + static_cast<std::ptrdiff_t>(at) + 1, rest.end());
  return labvirt::ctl::RunCommand(command, o);
}
