// What the DhcpServer tests share: a veth pair whose host end holds the gateway address and whose
// other end sits in a fresh network namespace, a reactor, udhcpc and a DHCPv6 Solicit to ask with,
// and helpers to start, stop and watch dnsmasq (dhcp_server_test.cc, dhcp_server_process_test.cc).
#ifndef LABVIRT_TESTS_INTEGRATION_DHCP_SERVER_FIXTURE_H_
#define LABVIRT_TESTS_INTEGRATION_DHCP_SERVER_FIXTURE_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/mgmt/dhcp_server.h"
#include "engine/mgmt/process_util.h"
#include "gtest/gtest.h"
#include "tests/support/prereq.h"
#include "tests/support/shell.h"

namespace labvirt::engine::mgmt::dhcp_test {

using namespace std::chrono_literals;
using labvirt::testing::Sh;

// The pid's last digits name this run's namespace and links, so parallel runs do not collide.
inline const std::string kId = std::to_string(::getpid() % 100000);
inline const char* const kMac = "52:54:00:d4:c0:01";

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

}  // namespace labvirt::engine::mgmt::dhcp_test

#endif  // LABVIRT_TESTS_INTEGRATION_DHCP_SERVER_FIXTURE_H_
