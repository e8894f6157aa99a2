// DhcpServer's dnsmasq process: restart after SIGKILL, adoption by a second server object (as
// after a labvirtd restart), Stop leaving nothing, failed starts naming the segment and leaving no
// process, and what the spawned process inherits (fds, signals, session), also through
// SpawnDetached on its own.
#include "engine/mgmt/dhcp_server.h"
#include "gtest/gtest.h"
#include "tests/integration/dhcp_server_fixture.h"

namespace labvirt::engine::mgmt {
namespace {

using namespace dhcp_test;

TEST_F(DhcpServerTest, RestartsAfterSigkillAndServesAgain) {
  DhcpServer& s = NewServer(Options());
  ASSERT_TRUE(StartAndWait(s, Leases("10.250.77.10")).ok());
  const pid_t first = s.pid();
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  ASSERT_TRUE(RunUntil([&] { return s.running() && s.pid() != first; }))
      << "not restarted; restarts=" << s.restarts();
  pids_.push_back(s.pid());
  EXPECT_EQ(s.restarts(), 1);
  EXPECT_FALSE(Alive(first));  // reaped, not left a zombie
  EXPECT_FALSE(Zombie(first));
  EXPECT_EQ(Udhcpc(), "ip=10.250.77.10 router= hostname=r1");
  StopAndWait(s);
}

TEST_F(DhcpServerTest, SecondServerAdoptsTheRunningProcess) {
  pid_t pid = -1;
  {
    DhcpServer& a = NewServer(Options());
    ASSERT_TRUE(StartAndWait(a, Leases("10.250.77.10")).ok());
    pid = a.pid();
    servers_.clear();  // as when labvirtd exits: the process stays
  }
  ASSERT_TRUE(Alive(pid));
  DhcpServer& b = NewServer(Options());
  // New leases at adoption: the adopted process is told with SIGHUP.
  ASSERT_TRUE(StartAndWait(b, Leases("10.250.77.30")).ok());
  EXPECT_EQ(b.pid(), pid);
  EXPECT_TRUE(b.running());
  RunUntil([] { return false; }, 200ms);
  EXPECT_EQ(Udhcpc(), "ip=10.250.77.30 router= hostname=r1");
  // An adopted process that dies is restarted too (its exit seen through the pidfd).
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(RunUntil([&] { return b.running() && b.pid() != pid; }));
  pids_.push_back(b.pid());
  EXPECT_EQ(b.restarts(), 1);
  EXPECT_EQ(Udhcpc(), "ip=10.250.77.30 router= hostname=r1");
  StopAndWait(b);
}

TEST_F(DhcpServerTest, AdoptionReplacesTheProcessWhenTheConfigChanged) {
  DhcpServer& a = NewServer(Options());
  ASSERT_TRUE(StartAndWait(a, Leases("10.250.77.10")).ok());
  const pid_t pid = a.pid();
  servers_.clear();
  DhcpServerOptions o = Options();
  o.segment.default_route = true;
  DhcpServer& b = NewServer(o);
  ASSERT_TRUE(StartAndWait(b, Leases("10.250.77.10")).ok());
  EXPECT_NE(b.pid(), pid);
  EXPECT_FALSE(Alive(pid));
  EXPECT_EQ(Udhcpc(), "ip=10.250.77.10 router=10.250.77.1 hostname=r1");
  StopAndWait(b);
}

TEST_F(DhcpServerTest, StopLeavesNoProcessAndNoFiles) {
  DhcpServerOptions o = Options();
  DhcpServer& s = NewServer(o);
  ASSERT_TRUE(StartAndWait(s, Leases("10.250.77.10")).ok());
  ASSERT_FALSE(Udhcpc().empty());  // so there is a lease file with a lease in it
  const pid_t pid = s.pid();
  StopAndWait(s);
  EXPECT_FALSE(Alive(pid));
  EXPECT_EQ(s.pid(), -1);
  EXPECT_FALSE(s.running());
  EXPECT_FALSE(std::filesystem::exists(o.segment.dir));
  EXPECT_EQ(OurDnsmasqs(), "");
  // Stopped is stopped: no restart follows.
  RunUntil([] { return false; }, 300ms);
  EXPECT_EQ(s.pid(), -1);
  EXPECT_EQ(s.restarts(), 0);
  EXPECT_EQ(Udhcpc(), "");
  // And it can start again.
  ASSERT_TRUE(StartAndWait(s, Leases("10.250.77.11")).ok());
  EXPECT_EQ(Udhcpc(), "ip=10.250.77.11 router= hostname=r1");
  StopAndWait(s);
}

TEST_F(DhcpServerTest, AProcessThatNeverWritesItsPidFileIsKilledAsFailed) {
  DhcpServerOptions o = Options("lab-slow");
  o.binary = FakeDnsmasq("exec sleep 30");
  o.start_timeout = 300ms;
  DhcpServer& s = NewServer(o);
  Status st = StartAndWait(s, Leases("10.250.77.10"));
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(),
            "dnsmasq for lab 'lab-slow' did not start: no pid file after 300 ms (signal 9 (KILL))");
  EXPECT_EQ(s.pid(), -1);
  EXPECT_EQ(Sh("pgrep -f '^/bin/sh " + o.binary + "' || true"), "");
}

TEST_F(DhcpServerTest, KeepsRestartingACrashingProcessUntilStopped) {
  DhcpServerOptions o = Options("lab-crash");
  // Starts properly, then dies 200 ms later, every time.
  o.binary = FakeDnsmasq("echo $$ > \"$pidfile\"\nsleep 0.2\nexit 3");
  o.restart_min = 50ms;
  o.restart_max = 200ms;
  DhcpServer& s = NewServer(o);
  ASSERT_TRUE(StartAndWait(s, Leases("10.250.77.10")).ok());
  ASSERT_TRUE(RunUntil([&] { return s.restarts() >= 3; }, 10s)) << s.restarts();
  // Stopped whatever the phase (running, or waiting to restart): nothing comes back.
  StopAndWait(s);
  const int restarts = s.restarts();
  RunUntil([] { return false; }, 600ms);
  EXPECT_EQ(s.restarts(), restarts);
  EXPECT_EQ(s.pid(), -1);
  EXPECT_EQ(Sh("pgrep -f '^/bin/sh " + o.binary + "' || true"), "");
  EXPECT_FALSE(std::filesystem::exists(o.segment.dir));
}

TEST_F(DhcpServerTest, StartOnAMissingInterfaceFailsNamingTheSegment) {
  DhcpServerOptions o = Options("lab-x");
  o.segment.interface = "lvdhnone" + kId;
  DhcpServer& s = NewServer(o);
  Status st = StartAndWait(s, Leases("10.250.77.10"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), "dnsmasq for lab 'lab-x' did not start: unknown interface lvdhnone" +
                              kId + " (exit code 2)");
  EXPECT_EQ(s.pid(), -1);
  EXPECT_FALSE(s.running());
  EXPECT_EQ(OurDnsmasqs(), "");
  RunUntil([] { return false; }, 300ms);  // and no restart loop behind it
  EXPECT_EQ(OurDnsmasqs(), "");
  EXPECT_EQ(s.restarts(), 0);
  StopAndWait(s);
  EXPECT_FALSE(std::filesystem::exists(o.segment.dir));
}

TEST_F(DhcpServerTest, StartWithAMissingBinaryFailsNamingTheSegment) {
  DhcpServerOptions o = Options("lab-y");
  o.binary = tmp_ + "/no-such-dnsmasq";
  DhcpServer& s = NewServer(o);
  Status st = StartAndWait(s, Leases("10.250.77.10"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "dnsmasq for lab 'lab-y' did not start: run " + o.binary +
                              ": No such file or directory");
  EXPECT_EQ(s.pid(), -1);
}

TEST_F(DhcpServerTest, BadInputIsRefusedBeforeAnythingRuns) {
  DhcpServerOptions o = Options("lab-z");
  DhcpServer& s = NewServer(o);
  Status st = StartAndWait(s, Leases("10.250.99.10"));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("not inside 10.250.77.0/24"), std::string::npos) << st.message();
  EXPECT_EQ(s.pid(), -1);
  EXPECT_FALSE(std::filesystem::exists(o.segment.dir + "/dnsmasq.conf"));
}

TEST_F(DhcpServerTest, ChildInheritsNoFdsNoSignalMaskNoTerminal) {
  // What labvirtd looks like to a child: an fd without CLOEXEC, SIGHUP and SIGTERM blocked (the
  // reactor reads signals through signalfd).
  const std::string marker = tmp_ + "/marker";
  int leaked = ::open(marker.c_str(), O_WRONLY | O_CREAT, 0600);  // no O_CLOEXEC on purpose
  ASSERT_GE(leaked, 0);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGHUP);
  sigaddset(&block, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &block, &old);
  DhcpServer& s = NewServer(Options());
  Status st = StartAndWait(s, Leases("10.250.77.10"));
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(leaked);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const std::string proc = "/proc/" + std::to_string(s.pid());
  for (const auto& e : std::filesystem::directory_iterator(proc + "/fd")) {
    std::error_code ec;
    EXPECT_NE(std::filesystem::read_symlink(e.path(), ec).string(), marker)
        << "fd " << e.path().filename() << " leaked into dnsmasq";
  }
  EXPECT_EQ(Sh("grep '^SigBlk:' " + proc + "/status"), "SigBlk:\t0000000000000000");
  // Its own session (setsid): the session id (field 6 of stat) is its pid.
  EXPECT_EQ(Sh("cut -d')' -f2 " + proc + "/stat | awk '{print $4}'"), std::to_string(s.pid()));
  EXPECT_EQ(Sh("readlink " + proc + "/fd/0"), "/dev/null");
  // SIGHUP reaches it (a re-read, not death) and SIGTERM ends it.
  ASSERT_TRUE(s.SetLeases(Leases("10.250.77.40")).ok());
  RunUntil([] { return false; }, 200ms);
  EXPECT_EQ(Udhcpc(), "ip=10.250.77.40 router= hostname=r1");
  const pid_t pid = s.pid();
  StopAndWait(s);
  EXPECT_FALSE(Alive(pid));
}

// The same through SpawnDetached with a child that does not clean up after itself as dnsmasq
// does (dnsmasq closes inherited fds on its own, so only this shows the closefrom working).
TEST(SpawnDetachedTest, ChildGetsOnlyStdioDefaultSignalsAndItsOwnSession) {
  char tmpl[] = "/tmp/lvspawn.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  int leaked = ::open((dir + "/marker").c_str(), O_WRONLY | O_CREAT, 0600);  // no O_CLOEXEC
  ASSERT_GE(leaked, 0);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &block, &old);
  struct sigaction ignore {
  }, old_usr1{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGUSR1, &ignore, &old_usr1);
  Result<pid_t> pid = SpawnDetached({"/bin/sleep", "30"}, dir + "/log");
  ::sigaction(SIGUSR1, &old_usr1, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(leaked);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  const std::string proc = "/proc/" + std::to_string(*pid);
  // posix_spawn returns once the child exec'd (glibc's vfork+exec), so /proc shows sleep.
  EXPECT_EQ(Sh("ls " + proc + "/fd | sort | tr '\\n' ' '"), "0 1 2 ");
  EXPECT_EQ(Sh("readlink " + proc + "/fd/0"), "/dev/null");
  EXPECT_EQ(Sh("readlink " + proc + "/fd/2"), dir + "/log");
  EXPECT_EQ(Sh("grep '^SigBlk:' " + proc + "/status"), "SigBlk:\t0000000000000000");
  // No classic signal (1..31) ignored, though SIGUSR1 was in the parent; 32 and 33 are glibc's
  // own and outside what posix_spawn resets.
  const uint64_t ignored =
      std::stoull(Sh("awk '/^SigIgn:/{print $2}' " + proc + "/status"), nullptr, 16);
  EXPECT_EQ(ignored & 0x7fffffffu, 0u) << std::hex << ignored;
  EXPECT_EQ(Sh("cut -d')' -f2 " + proc + "/stat | awk '{print $4}'"), std::to_string(*pid));
  ::kill(*pid, SIGKILL);
  ::waitpid(*pid, nullptr, 0);
  Result<pid_t> missing = SpawnDetached({dir + "/nothing"}, dir + "/log");
  EXPECT_EQ(missing.status().message(), "run " + dir + "/nothing: No such file or directory");
  Result<pid_t> no_log = SpawnDetached({"/bin/true"}, dir + "/no/such/dir/log");
  EXPECT_FALSE(no_log.ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace labvirt::engine::mgmt
