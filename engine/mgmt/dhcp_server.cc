#include "engine/mgmt/dhcp_server.h"

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "engine/mgmt/process_util.h"
#include "reactor/base/log.h"

namespace labvirt::engine::mgmt {
namespace {

using std::chrono::milliseconds;
// How often a starting dnsmasq's pid file is looked for. dnsmasq writes it within milliseconds
// of its start; polling a file is simpler than inotify for something that happens once.
constexpr milliseconds kPidPoll{20};

}  // namespace

DhcpServer::DhcpServer(reactor::Reactor& reactor, DhcpServerOptions options)
    : reactor_(reactor), options_(std::move(options)) {}

DhcpServer::~DhcpServer() = default;

std::string DhcpServer::What() const { return "dnsmasq for lab '" + options_.segment.name + "'"; }

void DhcpServer::Later(std::function<void()> cb) {
  later_queue_.push_back(std::move(cb));
  if (later_op_.engaged()) return;
  later_op_ = reactor_.After(reactor::Duration::zero(), [this] {
    later_op_ = {};
    for (auto& cb : std::exchange(later_queue_, {})) cb();
  });
}

void DhcpServer::Start(std::vector<DhcpLease> leases, std::function<void(Status)> done) {
  LABVIRT_CHECK(state_ == State::kIdle && !start_done_);
  const DhcpSegment& seg = options_.segment;
  Status st = ValidateLeases(leases, seg);  // the segment first
  if (st.ok() && ::mkdir(seg.dir.c_str(), 0755) != 0 && errno != EEXIST) {
    st = Status::FromErrno(errno, "create " + seg.dir);
  }
  std::optional<std::string> old_config;
  std::string config, hosts;
  if (st.ok()) {
    old_config = ReadSmallFile(ConfPath(seg));
    config = DnsmasqConfig(seg);
    hosts = DnsmasqHosts(leases);
    st = WriteFileAtomic(ConfPath(seg), config);
  }
  if (st.ok()) st = WriteFileAtomic(HostsPath(seg), hosts);
  if (!st.ok()) {
    Later([done = std::move(done), st = st.WithContext(What())] { done(st); });
    return;
  }
  hosts_ = std::move(hosts);
  start_done_ = std::move(done);
  if (Adopt(old_config != config)) return;
  Spawn();
}

bool DhcpServer::Adopt(bool config_changed) {
  std::optional<pid_t> pid = ReadPidFile(PidPath(options_.segment));
  if (!pid) return false;
  std::optional<std::vector<std::string>> argv = ProcessCmdline(*pid);
  const std::string conf_arg = "--conf-file=" + ConfPath(options_.segment);
  if (!argv || argv->empty() || (*argv)[0] != options_.binary ||
      std::find(argv->begin(), argv->end(), conf_arg) == argv->end()) {
    return false;  // a stale pid file; the pid may belong to anything now
  }
  Result<UniqueFd> pidfd = OpenPidfd(*pid);
  if (!pidfd.ok()) return false;  // exited in between
  pid_ = *pid;
  own_child_ = false;
  pidfd_ = std::move(pidfd).value();
  WatchExit();
  if (config_changed) {
    // dnsmasq re-reads only its hosts file on SIGHUP; a changed config needs a new process.
    LogInfo("dnsmasq config changed; replacing the running one",
            {{"lab", options_.segment.name}, {"pid", std::to_string(pid_)}});
    state_ = State::kReplacing;
    Signal(SIGTERM);
    timer_ = reactor_.After(options_.stop_timeout, [this] {
      timer_ = {};
      Signal(SIGKILL);
    });
    return true;
  }
  LogInfo("dnsmasq adopted", {{"lab", options_.segment.name}, {"pid", std::to_string(pid_)}});
  state_ = State::kRunning;
  started_at_ = reactor_.clock().Now();
  Signal(SIGHUP);  // the hosts file was just rewritten
  Later([this] {
    if (start_done_) std::exchange(start_done_, nullptr)(Status::Ok());
  });
  return true;
}

void DhcpServer::Spawn() {
  const DhcpSegment& seg = options_.segment;
  ::unlink(PidPath(seg).c_str());  // so the next pid file is this process's
  struct stat st {};
  log_offset_ = ::stat(LogPath(seg).c_str(), &st) == 0 ? st.st_size : 0;
  kill_reason_.clear();
  state_ = State::kStarting;
  Result<pid_t> pid = SpawnDetached(
      {options_.binary, "--keep-in-foreground", "--conf-file=" + ConfPath(seg)}, LogPath(seg));
  if (!pid.ok()) {
    OnStartFailed(pid.status().message());
    return;
  }
  pid_ = *pid;
  own_child_ = true;
  Result<UniqueFd> pidfd = OpenPidfd(pid_);
  // Our own unreaped child cannot vanish, so this fails only when fds run out.
  if (!pidfd.ok()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    OnStartFailed(pidfd.status().message());
    return;
  }
  pidfd_ = std::move(pidfd).value();
  WatchExit();
  timer_ = reactor_.After(kPidPoll, [this] { CheckStarted(); });
  deadline_ = reactor_.After(options_.start_timeout, [this] {
    kill_reason_ =
        "no pid file after " +
        std::to_string(std::chrono::duration_cast<milliseconds>(options_.start_timeout).count()) +
        " ms";
    timer_.Cancel();
    Signal(SIGKILL);
  });
}

void DhcpServer::CheckStarted() {
  timer_ = {};
  if (ReadPidFile(PidPath(options_.segment)) != pid_) {
    timer_ = reactor_.After(kPidPoll, [this] { CheckStarted(); });
    return;
  }
  deadline_.Cancel();
  state_ = State::kRunning;
  started_at_ = reactor_.clock().Now();
  LogInfo("dnsmasq started", {{"lab", options_.segment.name}, {"pid", std::to_string(pid_)}});
  if (hup_pending_) Signal(SIGHUP);
  if (start_done_) std::exchange(start_done_, nullptr)(Status::Ok());
}

void DhcpServer::WatchExit() {
  // A pidfd polls readable once the process has exited; an error polling it (none is known)
  // is taken as an exit too rather than leaving the process unwatched.
  exit_op_ = reactor_.Poll(pidfd_.get(), POLLIN, [this](Result<uint32_t>) {
    exit_op_ = {};
    OnExit();
  });
}

void DhcpServer::OnExit() {
  // An adopted process is not our child, and with SIGCHLD ignored the kernel reaps our own.
  std::string how = own_child_ ? "exit status unknown" : "exit status unknown (adopted)";
  if (own_child_) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) how = DescribeWaitStatus(status);
  }
  const pid_t was = pid_;
  pid_ = -1;
  pidfd_.Reset();
  timer_.Cancel();
  deadline_.Cancel();
  switch (state_) {
    case State::kStarting: {
      std::string why =
          kill_reason_.empty()
              ? DnsmasqFailure(ReadFileTail(LogPath(options_.segment), log_offset_, 4096))
              : kill_reason_;
      if (why.empty()) why = "it wrote nothing to " + LogPath(options_.segment);
      OnStartFailed(why + " (" + how + ")");
      return;
    }
    case State::kRunning:
      LogWarn("dnsmasq exited; restarting",
              {{"lab", options_.segment.name}, {"pid", std::to_string(was)}, {"status", how}});
      if (reactor_.clock().Now() - started_at_ >= options_.restart_max) backoff_ = {};
      ScheduleRestart();
      return;
    case State::kReplacing:
      Spawn();
      return;
    case State::kStopping:
      FinishStop();
      return;
    case State::kIdle:
    case State::kBackoff:
      return;
  }
}

void DhcpServer::OnStartFailed(const std::string& why) {
  if (start_done_) {
    // The first start: the caller hears why; nothing is left running.
    state_ = State::kIdle;
    Status st = FailedPrecondition(What() + " did not start: " + why);
    Later([this, st] {
      if (start_done_) std::exchange(start_done_, nullptr)(st);
    });
    return;
  }
  LogWarn("dnsmasq did not restart", {{"lab", options_.segment.name}, {"error", why}});
  ScheduleRestart();
}

void DhcpServer::ScheduleRestart() {
  backoff_ = backoff_ == reactor::Duration::zero() ? options_.restart_min
                                                   : std::min(backoff_ * 2, options_.restart_max);
  state_ = State::kBackoff;
  timer_ = reactor_.After(backoff_, [this] {
    timer_ = {};
    ++restarts_;
    Spawn();
  });
}

Status DhcpServer::SetLeases(std::vector<DhcpLease> leases) {
  if (state_ == State::kIdle || state_ == State::kStopping) {
    return FailedPrecondition(What() + " is not started");
  }
  LABVIRT_RETURN_IF_ERROR(ValidateLeases(leases, options_.segment).WithContext(What()));
  std::string hosts = DnsmasqHosts(leases);
  if (hosts == hosts_) return Status::Ok();
  LABVIRT_RETURN_IF_ERROR(WriteFileAtomic(HostsPath(options_.segment), hosts));
  hosts_ = std::move(hosts);
  // A starting dnsmasq may already have read the old file, and SIGHUP before it installed its
  // handler would kill it: it is told once it is up.
  if (state_ == State::kRunning) {
    Signal(SIGHUP);
  } else {
    hup_pending_ = state_ == State::kStarting;
  }
  return Status::Ok();
}

void DhcpServer::Signal(int signo) {
  if (!pidfd_.valid()) return;
  if (signo == SIGHUP) hup_pending_ = false;
  Status st = SignalPidfd(pidfd_.get(), signo);
  // ESRCH: it exited and the pidfd poll is about to say so.
  if (!st.ok() && st.code() != StatusCode::kNotFound) {
    LogWarn("signal to dnsmasq failed", {{"lab", options_.segment.name}, {"error", st.message()}});
  }
}

void DhcpServer::Stop(std::function<void()> done) {
  stop_done_.push_back(std::move(done));
  if (state_ == State::kStopping) return;
  timer_.Cancel();
  deadline_.Cancel();
  state_ = State::kStopping;
  if (!pidfd_.valid()) return Later([this] { FinishStop(); });
  Signal(SIGTERM);
  timer_ = reactor_.After(options_.stop_timeout, [this] {
    timer_ = {};
    LogWarn("dnsmasq ignored SIGTERM; killing it", {{"lab", options_.segment.name}});
    Signal(SIGKILL);
  });
}

void DhcpServer::FinishStop() {
  timer_.Cancel();
  RemoveFiles();
  state_ = State::kIdle;
  backoff_ = {};
  hup_pending_ = false;
  hosts_.clear();
  // Locals first: a callback may destroy this object (through Defer, as it should, or not).
  std::function<void(Status)> start_done = std::exchange(start_done_, nullptr);
  std::vector<std::function<void()>> done = std::exchange(stop_done_, {});
  if (start_done) start_done(Cancelled(What() + " stopped while starting"));
  for (auto& cb : done) cb();
}

void DhcpServer::RemoveFiles() {
  const DhcpSegment& seg = options_.segment;
  for (const std::string& path :
       {ConfPath(seg), HostsPath(seg), LeasePath(seg), PidPath(seg), LogPath(seg)}) {
    ::unlink(path.c_str());
    ::unlink((path + ".tmp").c_str());
  }
  ::rmdir(seg.dir.c_str());  // only if empty: the caller may keep other things there
}

}  // namespace labvirt::engine::mgmt
