// labvirtctl's offline subcommands: they read the catalog file directly and need no daemon.
//
//   labvirtctl [--json] kinds [--catalog FILE]
//   labvirtctl render-domain --kind KIND [--node NAME] [--lab LAB] [--nics N] [--image REF]
//              [--state-dir DIR] [--domain-type kvm|qemu] [--catalog FILE]
#ifndef LABVIRT_TOOLS_LABVIRTCTL_OFFLINE_H_
#define LABVIRT_TOOLS_LABVIRTCTL_OFFLINE_H_

#include <string>
#include <vector>

namespace labvirt::tools {

// If argv's command (its first argument that is not a global flag; `--socket X` is skipped) is an
// offline subcommand, runs it, stores its exit code (0 ok, 1 error, 2 usage) in *exit_code and
// returns true. Otherwise returns false and touches nothing. Output goes to stdout/stderr.
bool MaybeRunOffline(int argc, char** argv, int* exit_code);

// Runs offline `command` with its `args`; the exit code as above.
int RunOfflineCommand(const std::string& command, const std::vector<std::string>& args, bool json);

}  // namespace labvirt::tools

#endif  // LABVIRT_TOOLS_LABVIRTCTL_OFFLINE_H_
