// labvirtctl's subcommands. Each returns the process exit code: 0 success, 1 a failure reported
// by labvirtd (or a node that failed), 2 a usage error.
#ifndef LABVIRT_TOOLS_CTL_COMMANDS_H_
#define LABVIRT_TOOLS_CTL_COMMANDS_H_

#include <string>
#include <vector>

namespace labvirt::ctl {

struct Options {
  std::string socket = "/run/labvirt/labvirtd.sock";
  bool json = false;
  std::vector<std::string> args;  // after the command name, flags included
};

int RunCommand(const std::string& command, const Options& options);
void PrintUsage(FILE* out);

}  // namespace labvirt::ctl

#endif  // LABVIRT_TOOLS_CTL_COMMANDS_H_
