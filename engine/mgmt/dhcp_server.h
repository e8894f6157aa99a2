// DhcpServer: one supervised dnsmasq serving the static leases of one management segment.
//
// What it does not own: the reactor (must outlive it) and the segment's interface and addresses
// (the OVS side creates them before Start). It owns the files in segment.dir it writes (conf,
// hosts, leases, pid, log) and, between Start and Stop, the dnsmasq process: it restarts the
// process with exponential backoff when it exits unexpectedly. Destroying the object leaves the
// process running on purpose, so a restarted labvirtd adopts it (Start finds it by its pid file);
// Stop() is how it ends.
//
// "Started" means: dnsmasq (run with --keep-in-foreground, so the spawned pid is dnsmasq itself)
// wrote its pid file with its own pid and is still alive. dnsmasq writes that file only after it
// parsed its config and opened its DHCP sockets, which is where it fails (unknown interface,
// address in use); before that it exits with code 1..5 and says why on stderr, which goes to the
// log file.
//
// Exit detection: a pidfd (works for adopted non-children too) polled on the reactor; own
// children are reaped with waitpid(pid, WNOHANG) on that pid alone.
//
// Threads: loop thread only. Blocking work on the loop is limited to writing files of a few KB,
// reading /proc and the pid file, and posix_spawn.
#ifndef LABVIRT_ENGINE_MGMT_DHCP_SERVER_H_
#define LABVIRT_ENGINE_MGMT_DHCP_SERVER_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "engine/mgmt/dnsmasq_config.h"
#include "reactor/base/status.h"
#include "reactor/base/unique_fd.h"
#include "reactor/reactor.h"

namespace labvirt::engine::mgmt {

struct DhcpServerOptions {
  std::string binary = "/usr/sbin/dnsmasq";
  DhcpSegment segment;
  // Delay before the first restart after an unexpected exit; doubled for each further exit up
  // to restart_max. An exit after running restart_max or longer starts again from restart_min.
  reactor::Duration restart_min = std::chrono::milliseconds(500);
  reactor::Duration restart_max = std::chrono::seconds(10);
  // How long a new dnsmasq may take to write its pid file before it is killed as failed.
  reactor::Duration start_timeout = std::chrono::seconds(5);
  // How long Stop waits after SIGTERM before SIGKILL.
  reactor::Duration stop_timeout = std::chrono::seconds(2);
};

class DhcpServer {
 public:
  // `reactor` must outlive this object.
  DhcpServer(reactor::Reactor& reactor, DhcpServerOptions options);
  // Leaves the process running (see above); a pending `done` is never called. An own child that
  // exits after this stays a zombie until labvirtd exits: only this object knew to reap it.
  ~DhcpServer();
  DhcpServer(const DhcpServer&) = delete;
  DhcpServer& operator=(const DhcpServer&) = delete;

  // Validates the segment and leases, writes config and hosts files atomically (temp + rename),
  // then adopts the running dnsmasq of this segment (its pid file names a process whose
  // /proc/PID/cmdline is `binary` with our --conf-file; it is sent SIGHUP to re-read the hosts
  // file, or replaced when the config file changed) or spawns one. `done` runs later on the loop,
  // never inside Start: OK once it runs, or the error: InvalidArgument for bad input,
  // FailedPrecondition "dnsmasq for lab 'x' did not start: unknown interface mg0 (exit code 2)"
  // with dnsmasq's own message; no process is left then (the files stay for a look; Stop removes
  // them). Precondition: not started (first call, or after Stop finished or a failed start).
  void Start(std::vector<DhcpLease> leases, std::function<void(Status)> done);

  // Validates the leases, rewrites the hosts file atomically and sends SIGHUP so dnsmasq re-reads
  // it (at once when running, when it is up otherwise). A no-op when the leases are unchanged.
  // InvalidArgument for bad leases, FailedPrecondition between Stop (or a failed start) and the
  // next Start, an errno-based error when the file cannot be written.
  Status SetLeases(std::vector<DhcpLease> leases);

  // SIGTERM, then SIGKILL after stop_timeout; removes the segment's files (and dir, if then
  // empty). `done` runs on the loop once the process is gone (later, never inside Stop). A
  // pending Start's `done` gets Cancelled first.
  void Stop(std::function<void()> done);

  // The dnsmasq process while there is one, else -1.
  pid_t pid() const { return pid_; }
  // Restarts after unexpected exits since construction.
  int restarts() const { return restarts_; }
  // True while dnsmasq runs and has started (pid file written).
  bool running() const { return state_ == State::kRunning; }

 private:
  enum class State { kIdle, kStarting, kRunning, kBackoff, kReplacing, kStopping };

  // Spawns dnsmasq and waits for its pid file; a failure goes through OnStartFailed.
  void Spawn();
  // Takes over the process of a previous labvirtd if the pid file names ours; false otherwise.
  bool Adopt(bool config_changed);
  void WatchExit();
  void CheckStarted();
  void OnExit();
  void OnStartFailed(const std::string& why);
  void ScheduleRestart();
  void Signal(int signo);
  void FinishStop();
  void RemoveFiles();
  // Calls `cb` from a clean stack later on the loop.
  void Later(std::function<void()> cb);
  std::string What() const;

  reactor::Reactor& reactor_;
  const DhcpServerOptions options_;
  State state_ = State::kIdle;
  std::string hosts_;  // the hosts file content last written
  bool hup_pending_ = false;
  pid_t pid_ = -1;
  bool own_child_ = false;
  UniqueFd pidfd_;
  off_t log_offset_ = 0;     // log size before the last spawn: where its error message starts
  std::string kill_reason_;  // why the supervisor killed a starting process
  reactor::TimePoint started_at_{};
  reactor::Duration backoff_{};
  int restarts_ = 0;
  std::function<void(Status)> start_done_;
  std::vector<std::function<void()>> stop_done_;
  // Handles last: they die first, before the state their callbacks touch.
  reactor::OpHandle exit_op_;
  reactor::OpHandle timer_;
  reactor::OpHandle deadline_;
  std::vector<std::function<void()>> later_queue_;
  reactor::OpHandle later_op_;
};

}  // namespace labvirt::engine::mgmt

#endif  // LABVIRT_ENGINE_MGMT_DHCP_SERVER_H_
