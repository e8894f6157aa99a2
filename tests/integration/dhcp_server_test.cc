// DhcpServer with the real dnsmasq: a veth pair whose host end holds the gateway address and
// whose other end sits in a fresh network namespace, where busybox udhcpc asks for a lease.
// Static leases by MAC, SetLeases taking effect, restart after SIGKILL, adoption by a second
// server object (as after a labvirtd restart), Stop leaving nothing, failed starts naming the
// segment and leaving no process, and what the spawned process inherits (fds, signals, session).
#include "engine/mgmt/dhcp_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "engine/mgmt/process_util.h"
#include "gtest/gtest.h"
#include "tests/support/prereq.h"
#include "tests/support/shell.h"

namespace labvirt::engine::mgmt {
namespace {

using namespace std::chrono_literals;
using testing::Sh;

const std::string kId = std::to_string(::getpid() % 100000);
const char* kMac = "52:54:00:d4:c0:01";

class DhcpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LABVIRT_REQUIRE(::geteuid() == 0, "root (network namespaces, veth pairs, dnsmasq)");
    LABVIRT_REQUIRE(::access("/usr/sbin/dnsmasq", X_OK) == 0, "/usr/sbin/dnsmasq (dnsmasq-base)");
    LABVIRT_REQUIRE(::access("/bin/busybox", X_OK) == 0, "/bin/busybox (udhcpc)");
    LABVIRT_REQUIRE(testing::HaveCommand("ip"), "ip (iproute2)");
    ns_ = "lvdh" + kId;
    host_ = "lvdh" + kId + "h";
    peer_ = "lvdh" + kId + "p";
    int rc = 0;
    Sh("ip netns add " + ns_ + " && ip link add " + host_ + " type veth peer name " + peer_ +
           " && ip link set " + peer_ + " netns " + ns_ + " && ip -n " + ns_ + " link set " +
           peer_ + " address " + kMac + " up && ip addr add 10.250.77.1/24 dev " + host_ +
           " && ip link set " + host_ + " up 2>&1",
       &rc);
    ASSERT_EQ(rc, 0) << "netns and veth pair";
    char tmpl[] = "/tmp/lvdhcp.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    script_ = tmp_ + "/udhcpc.sh";
    std::ofstream(script_) << "#!/bin/sh\n[ \"$1\" = bound ] && echo \"ip=$ip router=$router "
                              "hostname=$hostname\"\nexit 0\n";
    ::chmod(script_.c_str(), 0755);
    reactor_ = std::move(reactor::Reactor::Create().value());
  }

  void TearDown() override {
    for (pid_t pid : pids_) {
      if (pid > 0) ::kill(pid, SIGKILL);
    }
    servers_.clear();
    reactor_.reset();
    Sh("ip netns del " + ns_ + " 2>/dev/null; ip link del " + host_ + " 2>/dev/null");
    Sh("ip netns del " + ns_ + "b 2>/dev/null; ip link del " + host_ + "2 2>/dev/null");
    std::filesystem::remove_all(tmp_);
  }

  DhcpServerOptions Options(const std::string& name = "dhcp-test") {
    DhcpServerOptions o;
    o.segment.name = name;
    o.segment.interface = host_;
    o.segment.ipv4 = *ParsePrefix("10.250.77.0/24");
    o.segment.gateway_ipv4 = "10.250.77.1";
    o.segment.dir = tmp_ + "/seg";
    o.restart_min = 100ms;
    o.restart_max = 1s;
    return o;
  }

  static std::vector<DhcpLease> Leases(const std::string& ipv4, const std::string& name = "r1") {
    return {
        DhcpLease{.mac = kMac, .ipv4 = ipv4, .ipv6 = "", .hostname = name},
        DhcpLease{
            .mac = "52:54:00:d4:c0:99", .ipv4 = "10.250.77.99", .ipv6 = "", .hostname = "other"}};
  }

  DhcpServer& NewServer(DhcpServerOptions o) {
    servers_.push_back(std::make_unique<DhcpServer>(*reactor_, std::move(o)));
    return *servers_.back();
  }

  bool RunUntil(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
    auto tick = reactor_->Every(5ms, [] {});
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < deadline) reactor_->RunOnce(true);
    return pred();
  }

  Status StartAndWait(DhcpServer& s, std::vector<DhcpLease> leases) {
    std::optional<Status> result;
    s.Start(std::move(leases), [&](Status st) { result = std::move(st); });
    EXPECT_FALSE(result.has_value()) << "done ran inside Start";
    if (!RunUntil([&] { return result.has_value(); })) return Internal("Start never finished");
    if (result->ok()) pids_.push_back(s.pid());
    return *result;
  }

  void StopAndWait(DhcpServer& s) {
    bool done = false;
    s.Stop([&] { done = true; });
    EXPECT_FALSE(done) << "done ran inside Stop";
    EXPECT_TRUE(RunUntil([&] { return done; })) << "Stop never finished";
  }

  // One DHCP exchange from the namespace: "ip=... router=... hostname=...", or "" on no lease.
  std::string Udhcpc() { return Udhcpc(ns_, peer_); }
  std::string Udhcpc(const std::string& ns, const std::string& ifname) {
    return Sh("ip netns exec " + ns + " /bin/busybox udhcpc -i " + ifname +
              " -n -q -f -t 4 -T 1 -s " + script_ + " 2>/dev/null");
  }

  static bool Alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0 && !Zombie(pid); }
  static bool Zombie(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s;
    std::getline(in, s);
    size_t paren = s.rfind(')');
    return paren != std::string::npos && paren + 2 < s.size() && s[paren + 2] == 'Z';
  }
  // dnsmasq processes whose command line names this test's config file (the bracket keeps the
  // pattern from matching the shell that runs pgrep).
  std::string OurDnsmasqs() {
    return Sh("pgrep -f -- '^/usr/sbin/dnsmasq .*[-]-conf-file=" + tmp_ + "/' || true");
  }

  // One DHCPv6 Solicit from the namespace with a DUID-LL of `mac`: the offered address, or why
  // not. dnsmasq keys the static lease on the link-layer address the packet came from.
  std::string Solicit(const std::string& mac) {
    const std::string path = tmp_ + "/solicit.py";
    std::ofstream(path) << R"(import os, socket, struct, sys, time
ifname, hw = sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', ''))
idx = socket.if_nametoindex(ifname)
opt = lambda t, d: struct.pack('!HH', t, len(d)) + d
pkt = (bytes([1]) + os.urandom(3) + opt(1, struct.pack('!HH', 3, 1) + hw) +
       opt(3, struct.pack('!III', 1, 0, 0)) + opt(8, b'\0\0'))
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
s.bind(('::', 546, 0, idx))
s.settimeout(1.0)
def options(data):
    while len(data) >= 4:
        t, n = struct.unpack('!HH', data[:4])
        yield t, data[4:4 + n]
        data = data[4 + n:]
for attempt in range(8):
    try:  # EADDRNOTAVAIL while the link-local address is still tentative (DAD)
        s.sendto(pkt, ('ff02::1:2', 547, 0, idx))
    except OSError:
        time.sleep(0.5)
        continue
    try:
        reply = s.recv(2048)
    except socket.timeout:
        continue
    for t, body in options(reply[4:]):
        for st, sub in (options(body[12:]) if t == 3 else []):
            if st == 5:
                sys.exit(print(socket.inet_ntop(socket.AF_INET6, sub[:16])))
            if st == 13:
                sys.exit(print('status', struct.unpack('!H', sub[:2])[0]))
    sys.exit(print('no address in reply'))
print('no reply')
)";
    return Sh("ip netns exec " + ns_ + " python3 " + path + " " + peer_ + " " + mac + " 2>&1");
  }

  // A stand-in for dnsmasq: a script given the same arguments, doing `body` after $pidfile was
  // read from the config.
  std::string FakeDnsmasq(const std::string& body) {
    const std::string path = tmp_ + "/fake-dnsmasq";
    std::ofstream(path) << "#!/bin/sh\nconf=${2#--conf-file=}\n"
                           "pidfile=$(sed -n 's/^pid-file=//p' \"$conf\")\n"
                        << body << "\n";
    ::chmod(path.c_str(), 0755);
    return path;
  }

  std::string ns_, host_, peer_, tmp_, script_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::vector<std::unique_ptr<DhcpServer>> servers_;
  std::vector<pid_t> pids_;
};

TEST_F(DhcpServerTest, ServesTheStaticLeaseAndFollowsSetLeases) {
  DhcpServer& s = NewServer(Options());
  ASSERT_TRUE(StartAndWait(s, Leases("10.250.77.10")).ok());
  EXPECT_TRUE(s.running());
  EXPECT_TRUE(Alive(s.pid()));
  EXPECT_EQ(Udhcpc(), "ip=10.250.77.10 router= hostname=r1");  // no router without NAT

  const pid_t pid = s.pid();
  ASSERT_TRUE(s.SetLeases(Leases("10.250.77.20", "r1b")).ok());
  // dnsmasq handles SIGHUP from its loop; give it a moment before asking.
  RunUntil([] { return false; }, 200ms);
  EXPECT_EQ(Udhcpc(), "ip=10.250.77.20 router= hostname=r1b");
  EXPECT_EQ(s.pid(), pid);  // re-read, not restarted
  EXPECT_EQ(s.restarts(), 0);
  // Unchanged leases: nothing to do; bad ones: refused, the file untouched.
  EXPECT_TRUE(s.SetLeases(Leases("10.250.77.20", "r1b")).ok());
  Status bad = s.SetLeases(Leases("10.250.78.20"));
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("dnsmasq for lab 'dhcp-test'"), std::string::npos) << bad.message();
  RunUntil([] { return false; }, 200ms);
  EXPECT_EQ(Udhcpc(), "ip=10.250.77.20 router= hostname=r1b");
  StopAndWait(s);
}

TEST_F(DhcpServerTest, DefaultRouteOnlyWhenAsked) {
  DhcpServerOptions o = Options();
  o.segment.default_route = true;
  DhcpServer& s = NewServer(o);
  ASSERT_TRUE(StartAndWait(s, Leases("10.250.77.10")).ok());
  EXPECT_EQ(Udhcpc(), "ip=10.250.77.10 router=10.250.77.1 hostname=r1");
  StopAndWait(s);
}

// IPv6: router advertisements announce the /64 on-link (so DHCPv6 clients ask, M flag) and make
// the gateway a default router only when asked; a DHCPv6 Solicit from the node's MAC is offered
// its static address. busybox has no DHCPv6 client, so a few lines of Python send the Solicit
// (DUID-LL, one IA_NA) and print the IA address of the Advertise.
TEST_F(DhcpServerTest, Ipv6RouterAdvertisementsAndStaticDhcpv6) {
  LABVIRT_REQUIRE(testing::HaveCommand("python3"), "python3 (the DHCPv6 Solicit)");
  int rc = 0;
  Sh("ip addr add fd6c:7600:0:77::1/64 dev " + host_ + " nodad", &rc);
  ASSERT_EQ(rc, 0);
  for (bool default_route : {false, true}) {
    SCOPED_TRACE(default_route ? "default_route" : "no default_route");
    DhcpServerOptions o = Options();
    o.segment.ipv6 = *ParsePrefix("fd6c:7600:0:77::/64");
    o.segment.gateway_ipv6 = "fd6c:7600:0:77::1";
    o.segment.default_route = default_route;
    std::vector<DhcpLease> leases = Leases("10.250.77.10");
    leases[0].ipv6 = "fd6c:7600:0:77::10";
    DhcpServer& s = NewServer(o);
    ASSERT_TRUE(StartAndWait(s, leases).ok());
    // A fresh link sends a router solicitation; dnsmasq answers it at once.
    Sh("ip -n " + ns_ + " -6 route flush dev " + peer_ + "; ip -n " + ns_ + " link set " + peer_ +
       " down; ip -n " + ns_ + " link set " + peer_ + " up");
    std::string routes;
    const std::string want = default_route ? "default via fe80::" : "fd6c:7600:0:77::/64";
    for (int i = 0; i < 100 && routes.find(want) == std::string::npos; ++i) {
      RunUntil([] { return false; }, 100ms);
      routes = Sh("ip -n " + ns_ + " -6 route show dev " + peer_);
    }
    EXPECT_NE(routes.find("fd6c:7600:0:77::/64"), std::string::npos) << routes;
    EXPECT_EQ(routes.find("default") != std::string::npos, default_route) << routes;
    EXPECT_EQ(Solicit(kMac), "fd6c:7600:0:77::10");
    if (!default_route) {  // a changed IPv6 lease is re-read on SIGHUP as well
      leases[0].ipv6 = "fd6c:7600:0:77::11";
      ASSERT_TRUE(s.SetLeases(leases).ok());
      RunUntil([] { return false; }, 200ms);
      EXPECT_EQ(Solicit(kMac), "fd6c:7600:0:77::11");
    }
    // IPv4 still served from the same process.
    EXPECT_EQ(Udhcpc(), default_route ? "ip=10.250.77.10 router=10.250.77.1 hostname=r1"
                                      : "ip=10.250.77.10 router= hostname=r1");
    StopAndWait(s);
  }
}

// One dnsmasq per lab, side by side: bind-interfaces ties each to its own gateway port, so
// neither takes the other's port 67 nor answers on the other's segment.
TEST_F(DhcpServerTest, TwoLabsSideBySide) {
  const std::string ns2 = ns_ + "b", host2 = host_ + "2", peer2 = peer_ + "2";
  int rc = 0;
  Sh("ip netns add " + ns2 + " && ip link add " + host2 + " type veth peer name " + peer2 +
         " && ip link set " + peer2 + " netns " + ns2 + " && ip -n " + ns2 + " link set " + peer2 +
         " address 52:54:00:d4:c0:02 up && ip addr add 10.250.78.1/24 dev " + host2 +
         " && ip link set " + host2 + " up 2>&1",
     &rc);
  ASSERT_EQ(rc, 0) << "second netns and veth pair";
  DhcpServer& a = NewServer(Options("lab-a"));
  DhcpServerOptions ob = Options("lab-b");
  ob.segment.interface = host2;
  ob.segment.ipv4 = *ParsePrefix("10.250.78.0/24");
  ob.segment.gateway_ipv4 = "10.250.78.1";
  ob.segment.dir = tmp_ + "/seg-b";
  DhcpServer& b = NewServer(ob);
  ASSERT_TRUE(StartAndWait(a, Leases("10.250.77.10")).ok());
  // Lab b knows both MACs: the lease for lab a's node must not be handed out on lab a's link.
  ASSERT_TRUE(
      StartAndWait(
          b, {DhcpLease{
                  .mac = "52:54:00:d4:c0:02", .ipv4 = "10.250.78.20", .ipv6 = "", .hostname = "b1"},
              DhcpLease{.mac = kMac, .ipv4 = "10.250.78.21", .ipv6 = "", .hostname = "b2"}})
          .ok());
  EXPECT_NE(a.pid(), b.pid());
  EXPECT_EQ(Udhcpc(ns2, peer2), "ip=10.250.78.20 router= hostname=b1");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Udhcpc(), "ip=10.250.77.10 router= hostname=r1");
  StopAndWait(a);
  EXPECT_EQ(Udhcpc(ns2, peer2), "ip=10.250.78.20 router= hostname=b1");  // b unaffected
  EXPECT_EQ(Udhcpc(), "");  // and b does not serve lab a's link
  StopAndWait(b);
}

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
