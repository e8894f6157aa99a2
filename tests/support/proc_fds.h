// A process's descriptors as /proc shows them, for the tests that check labvirtd ends with as
// many as it began with (tests/support/fault_lab.h's users) and for the soak's samples.
//
// Header-only; blocking (the settle helpers poll /proc).
#ifndef LABVIRT_TESTS_SUPPORT_PROC_FDS_H_
#define LABVIRT_TESTS_SUPPORT_PROC_FDS_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

namespace labvirt::testing {

// How many descriptors process `pid` holds (-1 when /proc does not say).
inline int OpenFds(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

// OpenFds(pid) once it has not changed for `quiet` (or what it is after `within`): the baseline
// of a descriptor check. Taken at once, it can count a client connection that its client (a
// health check, the previous test) has closed and labvirtd's loop has not yet read the end of;
// the check then finds one descriptor fewer than "before" (seen in CI).
inline int SettledFds(pid_t pid, std::chrono::milliseconds quiet = std::chrono::milliseconds(500),
                      std::chrono::milliseconds within = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + within;
  int n = OpenFds(pid);
  auto since = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline &&
         std::chrono::steady_clock::now() - since < quiet) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int now = OpenFds(pid);
    if (now != n) {
      n = now;
      since = std::chrono::steady_clock::now();
    }
  }
  return n;
}

// OpenFds(pid) once it is `want`, or what it is after `within`: a client connection the test has
// just closed is labvirtd's until its loop has read the end of it.
inline int FdsSettleAt(pid_t pid, int want,
                       std::chrono::milliseconds within = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + within;
  int n = OpenFds(pid);
  while (n != want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    n = OpenFds(pid);
  }
  return n;
}

// What process `pid`'s descriptors point at, one "fd -> target" a line (for failure messages).
inline std::string FdTargets(pid_t pid) {
  std::error_code ec;
  std::string out;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    out += e.path().filename().string() + " -> " +
           std::filesystem::read_symlink(e.path(), ec).string() + "\n";
  }
  return out;
}

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_PROC_FDS_H_
