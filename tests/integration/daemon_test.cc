// The real labvirtd binary: flags, health over its socket, its loop thread's priority, clean
// SIGTERM, and refusing to start (with a message that names cause and fix) when io_uring is
// blocked by seccomp or by sysctl.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/deadline.h"
#include "tests/support/prereq.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;

struct Child {
  pid_t pid = -1;
  int err_fd = -1;  // read end of the child's stderr
};

enum class Sandbox { kNone, kBlockIoUring, kNoSysNice };

// Drops CAP_SYS_NICE from the bounding set, as a container without it runs: root's execve then
// gets every capability but that one, so setpriority() to a negative nice fails with EACCES.
void DropSysNice() { prctl(PR_CAPBSET_DROP, CAP_SYS_NICE, 0, 0, 0); }

// Installs a seccomp filter that fails io_uring_setup with EPERM, as Docker's default profile does.
void BlockIoUringSetup() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

Child Spawn(const std::vector<std::string>& args, Sandbox sandbox = Sandbox::kNone) {
  int pipefd[2];
  EXPECT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  Child c;
  c.pid = ::fork();
  if (c.pid == 0) {
    ::dup2(pipefd[1], STDERR_FILENO);
    if (sandbox == Sandbox::kBlockIoUring) BlockIoUringSetup();
    if (sandbox == Sandbox::kNoSysNice) DropSysNice();
    std::vector<char*> argv;
    std::string bin = LABVIRTD_PATH;
    argv.push_back(bin.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  c.err_fd = pipefd[0];
  return c;
}

// Waits for exit (up to `timeout`), returns the exit code (or -1) and the stderr text.
int Wait(Child& c, std::string* err, std::chrono::seconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(c.pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(c.pid, SIGKILL);
      ::waitpid(c.pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(20ms);
  }
  char buf[4096];
  ssize_t n;
  while ((n = ::read(c.err_fd, buf, sizeof buf)) > 0) err->append(buf, static_cast<size_t>(n));
  ::close(c.err_fd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string TempSocket(const char* tag) {
  return "/tmp/labvirtd-test-" + std::to_string(::getpid()) + "-" + tag + ".sock";
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// One request over the socket; "" if it cannot connect. An answer not complete within 10 s is
// returned as far as it came (a test then fails on it instead of blocking until meson's timeout).
std::string Request(const std::string& path, const std::string& line) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  testing::SetReadTimeout(fd, 10s);
  std::string req = line + "\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string got;
  char buf[4096];
  while (got.find('\n') == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return got;
}

// Waits until the daemon at `sock` answers host.info healthy (60 s); the last answer.
std::string WaitHealthyAnswer(const std::string& sock) {
  std::string resp;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    resp = Request(sock, R"({"jsonrpc":"2.0","id":1,"method":"host.info"})");
    if (resp.find("\"healthy\":true") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  return resp;
}

// Thread `tid` of process `pid` as /proc/PID/task/TID/stat shows it (proc(5)): its nice value
// (field 19), real-time priority (40) and policy (41, 0 = SCHED_OTHER, 1 = SCHED_FIFO); 99 each
// when the thread is gone.
struct ThreadSched {
  int nice = 99, rt_priority = 99, policy = 99;
};
ThreadSched ThreadSchedOf(pid_t pid, const std::string& tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + tid + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ThreadSched out;
  size_t at = stat.rfind(')');  // the thread's name may hold spaces and parentheses
  if (at == std::string::npos) return out;
  std::istringstream fields(stat.substr(at + 2));
  std::string field;
  for (int i = 3; i <= 41 && fields >> field; ++i) {
    if (i == 19) out.nice = std::stoi(field);
    if (i == 40) out.rt_priority = std::stoi(field);
    if (i == 41) out.policy = std::stoi(field);
  }
  return out;
}

// Whether this host grants this process a real-time policy (root with CAP_SYS_NICE, and on
// kernels with CONFIG_RT_GROUP_SCHED real-time runtime in its cgroup), tried on a thread of its own
// that then ends: what labvirtd's loop may expect.
bool HostGrantsRealtime() {
  bool granted = false;
  std::thread([&granted] {
    sched_param param{};
    param.sched_priority = 1;
    granted = ::sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &param) == 0;
  }).join();
  return granted;
}

// The other threads of `pid` (workers) that run under the fair scheduler at nice 0.
int FairThreadsAtZero(pid_t pid) {
  int n = 0;
  for (const auto& t :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    ThreadSched s = ThreadSchedOf(pid, t.path().filename().string());
    n += s.policy == SCHED_OTHER && s.nice == 0;
  }
  return n;
}

TEST(DaemonTest, BadFlagIsOneLineAndExitCode2) {
  std::string sock = TempSocket("bad");
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--bogus"},
                                               {"--socket", sock, "--workers", "999"},
                                               {"--socket", sock, "--bridge", "x;y"},
                                               {"--socket"}}) {
    Child c = Spawn(args);
    std::string err;
    EXPECT_EQ(Wait(c, &err), 2) << args[0];
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_EQ(err.rfind("labvirtd: ", 0), 0u) << err;
    EXPECT_FALSE(Exists(sock)) << "nothing may be left half-started";
  }
}

TEST(DaemonTest, Version) {
  Child c = Spawn({"--version"});
  std::string err;
  EXPECT_EQ(Wait(c, &err), 0);
}

TEST(DaemonTest, ServesHealthyHostInfoAndStopsCleanlyOnSigterm) {
  std::string sock = TempSocket("run");
  // A state dir of its own: with the default one this daemon would be instance "default" and
  // adopt (and reconcile) the host's default labs while it runs (docs/instances.md).
  std::string state_dir = "/tmp/labvirtd-test-" + std::to_string(::getpid()) + "-state";
  Child c = Spawn({"--socket", sock, "--state-dir", state_dir});
  // Healthy means libvirt is connected too; the first connection can take seconds.
  std::string resp = WaitHealthyAnswer(sock);
  EXPECT_NE(resp.find("\"healthy\":true"), std::string::npos) << resp;
  EXPECT_NE(resp.find("\"connected\":true"), std::string::npos) << resp;
  // The loop thread (the main thread: it answered) runs at SCHED_FIFO 1 (--realtime's default)
  // where the host grants a real-time policy, else in the fair scheduler (with a warning), at
  // --nice's default either way; the worker threads stay fair at labvirtd's own nice.
  const bool realtime = HostGrantsRealtime();
  ThreadSched loop = ThreadSchedOf(c.pid, std::to_string(c.pid));
  EXPECT_EQ(loop.policy, realtime ? SCHED_FIFO : SCHED_OTHER)
      << "host grants real-time: " << realtime;
  EXPECT_EQ(loop.rt_priority, realtime ? 1 : 0);
  EXPECT_EQ(loop.nice, -10);
  EXPECT_GE(FairThreadsAtZero(c.pid), 4) << "the worker pool's threads";
  // A second daemon on the same socket is refused and leaves the first one alone.
  Child second = Spawn({"--socket", sock});
  std::string second_err;
  EXPECT_EQ(Wait(second, &second_err), 1);
  EXPECT_NE(second_err.find("already listening"), std::string::npos) << second_err;
  EXPECT_NE(Request(sock, R"({"jsonrpc":"2.0","id":2,"method":"host.info"})"), "");

  ASSERT_EQ(::kill(c.pid, SIGTERM), 0);
  std::string err;
  EXPECT_EQ(Wait(c, &err), 0) << err;
  EXPECT_NE(err.find("shutting down"), std::string::npos) << err;
  EXPECT_EQ(err.find("could not give the event loop a real-time priority") == std::string::npos,
            realtime)
      << err;
  EXPECT_FALSE(Exists(sock)) << "socket must be removed on shutdown";
  std::error_code ec;
  std::filesystem::remove_all(state_dir, ec);
}

// --realtime 0 keeps the loop in the fair scheduler, at --nice's value, and asks for no real-time
// policy (no warning even where the host would refuse one); --realtime 2 is that priority.
TEST(DaemonTest, RealtimeZeroKeepsTheLoopFairAndTwoIsPriorityTwo) {
  std::string sock = TempSocket("fair");
  std::string state_dir = "/tmp/labvirtd-test-" + std::to_string(::getpid()) + "-fair";
  Child c = Spawn({"--socket", sock, "--state-dir", state_dir, "--realtime", "0", "--nice", "-5"});
  std::string resp = WaitHealthyAnswer(sock);
  EXPECT_NE(resp.find("\"healthy\":true"), std::string::npos) << resp;
  ThreadSched loop = ThreadSchedOf(c.pid, std::to_string(c.pid));
  EXPECT_EQ(loop.policy, SCHED_OTHER);
  EXPECT_EQ(loop.rt_priority, 0);
  EXPECT_EQ(loop.nice, -5);
  ASSERT_EQ(::kill(c.pid, SIGTERM), 0);
  std::string err;
  EXPECT_EQ(Wait(c, &err), 0) << err;
  EXPECT_EQ(err.find("real-time"), std::string::npos) << err;
  std::filesystem::remove_all(state_dir);

  Child two = Spawn({"--socket", sock, "--state-dir", state_dir, "--realtime", "2"});
  resp = WaitHealthyAnswer(sock);
  EXPECT_NE(resp.find("\"healthy\":true"), std::string::npos) << resp;
  const bool realtime = HostGrantsRealtime();
  loop = ThreadSchedOf(two.pid, std::to_string(two.pid));
  EXPECT_EQ(loop.policy, realtime ? SCHED_FIFO : SCHED_OTHER);
  EXPECT_EQ(loop.rt_priority, realtime ? 2 : 0);
  ASSERT_EQ(::kill(two.pid, SIGTERM), 0);
  EXPECT_EQ(Wait(two, &err), 0) << err;
  std::error_code ec;
  std::filesystem::remove_all(state_dir, ec);
}

// A host that refuses the loop's nice value and real-time policy (no CAP_SYS_NICE): labvirtd says
// so once for each and serves.
TEST(DaemonTest, RunsAtItsOwnPriorityWhenTheHostRefusesAHigherOne) {
  std::string sock = TempSocket("nonice");
  std::string state_dir = "/tmp/labvirtd-test-" + std::to_string(::getpid()) + "-nonice";
  Child c = Spawn({"--socket", sock, "--state-dir", state_dir}, Sandbox::kNoSysNice);
  std::string resp = WaitHealthyAnswer(sock);
  EXPECT_NE(resp.find("\"healthy\":true"), std::string::npos) << resp;
  ThreadSched loop = ThreadSchedOf(c.pid, std::to_string(c.pid));
  EXPECT_EQ(loop.policy, SCHED_OTHER);
  EXPECT_EQ(loop.nice, 0);
  ASSERT_EQ(::kill(c.pid, SIGTERM), 0);
  std::string err;
  EXPECT_EQ(Wait(c, &err), 0) << err;
  EXPECT_NE(err.find("could not set the event loop's nice value"), std::string::npos) << err;
  EXPECT_NE(err.find("error=\"Permission denied\""), std::string::npos) << err;
  EXPECT_NE(err.find("could not give the event loop a real-time priority"), std::string::npos)
      << err;
  EXPECT_NE(err.find("error=\"Operation not permitted\""), std::string::npos) << err;
  std::error_code ec;
  std::filesystem::remove_all(state_dir, ec);
}

TEST(DaemonTest, RefusesToStartWhenSeccompBlocksIoUring) {
  std::string sock = TempSocket("seccomp");
  Child c = Spawn({"--socket", sock}, Sandbox::kBlockIoUring);
  std::string err;
  EXPECT_EQ(Wait(c, &err), 1);
  EXPECT_NE(err.find("io_uring is unavailable"), std::string::npos) << err;
  EXPECT_NE(err.find("seccomp"), std::string::npos) << err;
  EXPECT_FALSE(Exists(sock));
}

TEST(DaemonTest, RefusesToStartWhenSysctlDisablesIoUring) {
  const char* kSysctl = "/proc/sys/kernel/io_uring_disabled";
  std::string old;
  {
    std::ifstream in(kSysctl);
    std::getline(in, old);
  }
  LABVIRT_REQUIRE(!old.empty() && ::access(kSysctl, W_OK) == 0,
                  "a writable kernel.io_uring_disabled sysctl (Linux 6.6+, root)");
  auto set = [&](const std::string& v) {
    std::ofstream out(kSysctl);
    out << v;
  };
  set("2");
  std::string sock = TempSocket("sysctl");
  Child c = Spawn({"--socket", sock});
  std::string err;
  int rc = Wait(c, &err);
  set(old);  // restore before any assertion can end the test
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("kernel.io_uring_disabled=2"), std::string::npos) << err;
  EXPECT_NE(err.find("sysctl -w kernel.io_uring_disabled=0"), std::string::npos) << err;
  EXPECT_FALSE(Exists(sock));
}

}  // namespace
}  // namespace labvirt
