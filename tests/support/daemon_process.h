// DaemonProcess: the built labvirtd binary run as a child process of a test, as a user runs it,
// with its stderr (the log) in a file the test can read. Include only from tests built with
// -DLABVIRTD_PATH="…" (see tests/integration/meson.build).
#ifndef LABVIRT_TESTS_SUPPORT_DAEMON_PROCESS_H_
#define LABVIRT_TESTS_SUPPORT_DAEMON_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/deadline.h"
#include "tools/ctl/client.h"

namespace labvirt::testing {

// Raises this process's open-file soft limit to at least `want` (capped at the hard limit); the
// daemon started afterwards inherits it. Returns the soft limit now in force.
inline rlim_t RaiseFdLimit(rlim_t want) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want) {
    rl.rlim_cur = std::min(want, rl.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

class DaemonProcess {
 public:
  struct Options {
    std::vector<std::string> args;      // labvirtd's flags
    std::string log_path;               // its stderr, appended
    rlim_t max_fds = 0;                 // when non-zero, its RLIMIT_NOFILE (soft and hard)
    std::vector<std::string> env = {};  // more NAME=VALUE in its environment
  };

  explicit DaemonProcess(Options options) : options_(std::move(options)) { Start(); }
  // Stops the daemon (SIGTERM, SIGKILL if it has not exited after 20 s).
  ~DaemonProcess() { Stop(); }
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  void Start() {
    pid_ = ::fork();
    if (pid_ != 0) return;
    // A test killed by its timeout takes its daemon with it (no orphan holding the test's pipes).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int log = ::open(options_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log >= 0) ::dup2(log, STDERR_FILENO);
    if (options_.max_fds != 0) {
      rlimit rl{options_.max_fds, options_.max_fds};
      ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (auto& e : options_.env) ::putenv(e.data());
    std::vector<char*> argv;
    std::string bin = LABVIRTD_PATH;
    argv.push_back(bin.data());
    for (auto& a : options_.args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }

  // SIGTERM and wait; returns the exit code, or -1 if it had to be killed or was not running.
  int Stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // SIGKILL (as a crash would) and reap; Start() runs it again with the same options.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // What the next Start() uses (e.g. another environment).
  Options& options() { return options_; }
  // Waits up to `timeout` for the process to exit on its own (a fault point); true when it did.
  bool WaitExit(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pid_ <= 0;
  }

  // True while the process has not exited.
  bool running() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  pid_t pid() const { return pid_; }

  // The daemon's log so far.
  std::string Log() const {
    std::ifstream in(options_.log_path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // The log's warning and error lines only: what a failed set-up prints to say why.
  std::string Warnings() const {
    std::istringstream in(Log());
    std::string line, out;
    while (std::getline(in, line)) {
      if (line.find("level=warn") != std::string::npos ||
          line.find("level=error") != std::string::npos)
        out += line + "\n";
    }
    return out;
  }

 private:
  Options options_;
  pid_t pid_ = -1;
};

// Polls host.info on `socket` until it reports healthy (libvirt connected), up to `timeout`; a
// daemon that accepts but never answers costs at most 5 s per poll, not the rest of the run.
inline bool WaitHealthy(const std::string& socket,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto c = ConnectBounded(socket, std::chrono::seconds(5));
    if (c.ok()) {
      auto r = c->Call("host.info", "{}");
      if (r.ok() && r->find("\"healthy\":true") != std::string::npos) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_DAEMON_PROCESS_H_
