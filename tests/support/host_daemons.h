// Shared host daemons (libvirtd, ovsdb-server, ovs-vswitchd) that a test stops on purpose: the
// guard starts whatever is down again (tools/setup-host) when it goes out of scope, so that the
// test leaves the host as it found it, however it ends. Tests that use it run alone (is_parallel
// false). And ovs-vswitchd's restart, and a wait for it to have opened a port.
#ifndef LABVIRT_TESTS_SUPPORT_HOST_DAEMONS_H_
#define LABVIRT_TESTS_SUPPORT_HOST_DAEMONS_H_

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "tests/support/fixture_domain.h"
#include "tests/support/shell.h"

namespace labvirt::testing {

class HostDaemonsGuard {
 public:
  HostDaemonsGuard() = default;
  HostDaemonsGuard(const HostDaemonsGuard&) = delete;
  HostDaemonsGuard& operator=(const HostDaemonsGuard&) = delete;
  ~HostDaemonsGuard() { (void)Restore(); }
  // True when setup-host found or brought every daemon up (about 2 s when only one was down).
  static bool Restore() {
    return std::system((SourcePath("tools/setup-host") + " >/dev/null 2>&1").c_str()) == 0;
  }
};

// Stops ovs-vswitchd as an upgrade or an operator does (`ovs-appctl exit`) and starts it again
// (tools/setup-host). True when both worked. Hold a HostDaemonsGuard around it.
inline bool RestartOvsVswitchd() {
  int rc = -1;
  Sh("ovs-appctl -t ovs-vswitchd exit", &rc);
  return rc == 0 && HostDaemonsGuard::Restore();
}

// Waits until ovs-vswitchd's datapath lists `port` (up to 10 s), then half a second more: it
// opens the device (and handles its qdisc) in the reconfiguration that adds it there. True when
// the port was listed.
inline bool WaitForDatapathPort(const std::string& port) {
  bool listed = false;
  for (int i = 0; i < 100 && !listed; ++i) {
    listed = Sh("ovs-appctl dpif/show").find(port) != std::string::npos;
    if (!listed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  return listed;
}

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_HOST_DAEMONS_H_
