// What the container integration suites share (container, container_exec, mgmt): the fixture
// image's name, the prerequisite checks on dockerd and the image, and a shell command run in a
// container — the tests' view; labvirtd itself never runs docker.
//
// Header-only, for tests built with tests/support/shell.h. Blocking.
#ifndef LABVIRT_TESTS_SUPPORT_CONTAINER_SUPPORT_H_
#define LABVIRT_TESTS_SUPPORT_CONTAINER_SUPPORT_H_

#include <string>

#include "tests/support/shell.h"

namespace labvirt::testing {

// Built locally by tools/mkcontainer-fixture (busybox-static, `docker import`), never pulled.
inline constexpr char kContainerFixtureImage[] = "labvirt/linux-fixture:1";

// `s` without its trailing blanks and line ends (a shell command's output).
inline std::string Trim(std::string s) {
  s.erase(s.find_last_not_of(" \r\n") + 1);
  return s;
}

// Whether dockerd answers on its default socket.
inline bool DockerdAnswers() {
  return Trim(Sh("curl -s --unix-socket /var/run/docker.sock http://d/_ping")) == "OK";
}

// Whether the fixture image is on the host.
inline bool HaveContainerFixtureImage() {
  return Trim(Sh(std::string("docker image inspect -f ok ") + kContainerFixtureImage + " 2>&1")) ==
         "ok";
}

// `cmd` run by sh in `container`; its output (stderr too), `rc` its exit code.
inline std::string DockerExec(const std::string& container, const std::string& cmd,
                              int* rc = nullptr) {
  return Sh("docker exec " + container + " sh -c '" + cmd + "' 2>&1", rc);
}

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_CONTAINER_SUPPORT_H_
