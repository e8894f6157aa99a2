// A labvirtd for a benchmark: started from LABVIRTD_PATH (the bench's cpp_args define it) with
// its stderr appended to a log, and waited for until host.info says healthy. Header-only.
#ifndef LABVIRT_BENCH_BENCH_DAEMON_H_
#define LABVIRT_BENCH_BENCH_DAEMON_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "tools/ctl/client.h"

namespace labvirt::bench {

// Starts labvirtd with `args` (its own --socket `socket` among them); its pid once healthy within
// 30 s, else -pid (still to be stopped).
inline pid_t StartBenchDaemon(const std::vector<std::string>& args, const std::string& socket,
                              const std::string& log_path) {
  pid_t pid = ::fork();
  if (pid == 0) {
    FILE* f = std::fopen(log_path.c_str(), "a");
    if (f) ::dup2(fileno(f), STDERR_FILENO);
    std::vector<char*> argv{const_cast<char*>(LABVIRTD_PATH)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(LABVIRTD_PATH, argv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 300; ++i) {
    auto c = ctl::Client::Connect(socket);
    if (c.ok()) {
      auto r = c->Call("host.info", "{}");
      if (r.ok() && r->find("\"healthy\":true") != std::string::npos) return pid;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -pid;
}

// SIGTERM and wait (a -pid from StartBenchDaemon too); nothing for 0.
inline void StopBenchDaemon(pid_t pid) {
  if (pid < 0) pid = -pid;
  if (pid == 0) return;
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace labvirt::bench

#endif  // LABVIRT_BENCH_BENCH_DAEMON_H_
