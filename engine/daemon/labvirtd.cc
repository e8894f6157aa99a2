// labvirtd: the labvirt engine daemon.
#include <cstdio>
#include <string>
#include <vector>

#include "engine/daemon/daemon.h"
#include "engine/daemon/flags.h"
#include "reactor/base/log.h"

int main(int argc, char** argv) {
  using labvirt::engine::Daemon;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto flags = labvirt::engine::ParseFlags(args);
  if (!flags.ok()) {
    std::fprintf(stderr, "labvirtd: %s\n", flags.status().message().c_str());
    return 2;
  }
  if (flags->show_help) {
    std::fputs(labvirt::engine::FlagsUsage().c_str(), stdout);
    return 0;
  }
  if (flags->show_version) {
    std::printf("labvirtd %s\n", LABVIRT_VERSION);
    return 0;
  }
  labvirt::SetLogLevel(flags->log_level);
  auto daemon = Daemon::Start(*flags);
  if (!daemon.ok()) {
    std::fprintf(stderr, "labvirtd: %s\n", daemon.status().message().c_str());
    return 1;
  }
  (*daemon)->Run();
  labvirt::LogInfo("labvirtd stopped");
  return 0;
}
