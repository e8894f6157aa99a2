// netem through rtnetlink on the real OVS userspace datapath: two veth pairs, one end of each a
// port of a netdev bridge on one VLAN, the other end where the test sends and receives frames
// with kernel timestamps. A netem qdisc on port B (its egress: frames the bridge sends towards B)
// delays and drops A->B frames only — which tap shapes which direction of a link, measured on the
// wire. Tolerances are wide: this host is a noisy 2-core VM.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "engine/netem/netem_netlink.h"
#include "gtest/gtest.h"
#include "reactor/base/unique_fd.h"
#include "tests/support/prereq.h"
#include "tests/support/shell.h"

namespace labvirt::engine {
namespace {

using namespace std::chrono_literals;
using testing::Sh;

const std::string kId = std::to_string(::getpid() % 100000);

uint64_t NowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// A packet socket on one veth end: sends frames out of it, receives what arrives, timestamped.
class Endpoint {
 public:
  explicit Endpoint(const std::string& ifname) : index_(::if_nametoindex(ifname.c_str())) {
    fd_ = UniqueFd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(0x88b5)));
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(0x88b5);
    addr.sll_ifindex = static_cast<int>(index_);
    ok_ = fd_.valid() && ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    int on = 1;
    ok_ = ok_ && ::setsockopt(fd_.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0;
  }
  bool ok() const { return ok_; }
  // Sends frame number `seq` of `size` bytes (broadcast, ethertype 0x88b5) carrying its send time.
  void Send(uint32_t seq, size_t size) {
    std::string f(size, '\0');
    f.replace(0, 6, std::string(6, '\xFF'));
    f.replace(6, 6, std::string("\x02\x00\x00\x00\x00\x09", 6));
    f[12] = '\x88';
    f[13] = '\xb5';
    const uint64_t now = NowNs();
    std::memcpy(f.data() + 14, &seq, sizeof seq);
    std::memcpy(f.data() + 18, &now, sizeof now);
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = static_cast<int>(index_);
    to.sll_halen = 6;
    (void)::sendto(fd_.get(), f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  }
  // Receives for `window`; returns each received frame's one-way delay in ms (its arrival
  // timestamp minus the send time it carries).
  std::vector<double> Receive(std::chrono::milliseconds window) {
    std::vector<double> out;
    auto deadline = std::chrono::steady_clock::now() + window;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char buf[2048], ctrl[256];
      iovec iov{buf, sizeof buf};
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_control = ctrl;
      m.msg_controllen = sizeof ctrl;
      ssize_t n = ::recvmsg(fd_.get(), &m, MSG_DONTWAIT);
      if (n < 26) continue;
      uint64_t sent = 0, at = NowNs();
      std::memcpy(&sent, buf + 18, sizeof sent);
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          at = static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull +
               static_cast<uint64_t>(ts.tv_nsec);
        }
      }
      out.push_back(static_cast<double>(at - sent) / 1e6);
    }
    return out;
  }

 private:
  unsigned index_;
  UniqueFd fd_;
  bool ok_ = false;
};

double Median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

class NetemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int rc = 0;
    Sh("pidof ovs-vswitchd >/dev/null", &rc);
    LABVIRT_REQUIRE(rc == 0 && ::geteuid() == 0, "ovs-vswitchd running, root");
    bridge_ = "lvnm" + kId;
    Sh("ovs-vsctl add-br " + bridge_ + " -- set bridge " + bridge_ + " datapath_type=netdev", &rc);
    ASSERT_EQ(rc, 0);
    for (const std::string side : {"a", "b"}) {
      std::string port = Port(side), peer = Peer(side);
      Sh("ip link add " + port + " type veth peer name " + peer + " && ip link set " + port +
             " up && ip link set " + peer + " up && ovs-vsctl add-port " + bridge_ + " " + port +
             " tag=77",
         &rc);
      ASSERT_EQ(rc, 0) << side;
    }
  }
  void TearDown() override {
    Sh("ovs-vsctl --if-exists del-br " + bridge_);
    Sh("ip link del " + Port("a") + " 2>/dev/null; ip link del " + Port("b") + " 2>/dev/null");
  }
  std::string Port(const std::string& side) const { return "lvnm" + side + kId; }
  std::string Peer(const std::string& side) const { return "lvnq" + side + kId; }

  // Sends `count` frames of `size` bytes from `from`'s outer end to `to`'s, `gap` apart; the
  // one-way delays of those that arrived.
  std::vector<double> Flow(Endpoint& from, Endpoint& to, int count, std::chrono::milliseconds gap,
                           size_t size = 64) {
    std::vector<double> got;
    std::thread rx([&] { got = to.Receive(gap * count + 2500ms); });
    std::this_thread::sleep_for(50ms);
    for (int i = 0; i < count; ++i) {
      from.Send(static_cast<uint32_t>(i), size);
      if (gap.count() > 0) std::this_thread::sleep_for(gap);
    }
    rx.join();
    return got;
  }
  std::string bridge_;
};

// Which port's egress shapes which direction, on the wire, with a qdisc every kernel here has
// (TBF; set with tc by the test, as a reference independent of labvirt's netlink code): frames
// from A to B leave the bridge through B's port, so a rate limit there spreads an A->B burst out
// and leaves a B->A burst alone.
TEST_F(NetemTest, EgressOfBsPortShapesAtoBOnly) {
  Endpoint a(Peer("a")), b(Peer("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  bool forwarding = false;
  for (int i = 0; i < 40 && !forwarding; ++i) forwarding = !Flow(a, b, 2, 0ms).empty();
  ASSERT_TRUE(forwarding) << "the netdev bridge never forwarded A->B";
  int rc = 0;
  Sh("tc qdisc replace dev " + Port("b") + " root tbf rate 200kbit burst 1600 latency 5s", &rc);
  ASSERT_EQ(rc, 0);
  // 30 frames of 1000 bytes at once: 240 kbit, over a second at 200 kbit/s.
  auto a_to_b = Flow(a, b, 30, 0ms, 1000);
  auto b_to_a = Flow(b, a, 30, 0ms, 1000);
  ASSERT_GE(a_to_b.size(), 25u);
  ASSERT_GE(b_to_a.size(), 25u);
  std::printf("tbf 200kbit on B: A->B last frame %.1f ms, B->A median %.1f ms\n",
              *std::max_element(a_to_b.begin(), a_to_b.end()), Median(b_to_a));
  EXPECT_GE(*std::max_element(a_to_b.begin(), a_to_b.end()), 500)
      << "the last A->B frame waited in B's port";
  EXPECT_LT(Median(b_to_a), 100) << "B->A leaves through A's port: not shaped";
}

// A rate limit alone through labvirt's own rtnetlink code: a TBF qdisc (every kernel has it; this
// project's CI kernel has no netem), the same spread of an A->B burst as the tc reference above,
// B->A untouched, and cleared again.
TEST_F(NetemTest, ARateAloneIsLabvirtsTokenBucketOnBsPort) {
  Endpoint a(Peer("a")), b(Peer("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  bool forwarding = false;
  for (int i = 0; i < 40 && !forwarding; ++i) forwarding = !Flow(a, b, 2, 0ms).empty();
  ASSERT_TRUE(forwarding);
  Impairment rate;
  rate.rate_kbit = 200;
  Status st = ApplyNetem(Port("b"), rate);
  ASSERT_TRUE(st.ok()) << st.ToString();
  std::string shown = Sh("tc qdisc show dev " + Port("b"));
  EXPECT_NE(shown.find("tbf"), std::string::npos) << shown;
  EXPECT_NE(shown.find("rate 200Kbit"), std::string::npos) << shown;
  // 14 frames of 1000 bytes at once: 3000 bytes of burst pass, the rest (under the 16 KiB queue)
  // leaves at 200 kbit/s, the last after ~440 ms.
  auto a_to_b = Flow(a, b, 14, 0ms, 1000);
  auto b_to_a = Flow(b, a, 14, 0ms, 1000);
  EXPECT_EQ(a_to_b.size(), 14u) << "the queue holds the burst";
  ASSERT_GE(b_to_a.size(), 12u);
  ASSERT_FALSE(a_to_b.empty());
  std::printf("labvirt tbf 200kbit on B: A->B last frame %.1f ms, B->A median %.1f ms\n",
              *std::max_element(a_to_b.begin(), a_to_b.end()), Median(b_to_a));
  EXPECT_GE(*std::max_element(a_to_b.begin(), a_to_b.end()), 300);
  EXPECT_LT(Median(b_to_a), 100);
  // A burst longer than the queue loses its tail, as a rate-limited link does.
  EXPECT_LT(Flow(a, b, 40, 0ms, 1000).size(), 40u);
  ASSERT_TRUE(ApplyNetem(Port("b"), {}).ok());
  EXPECT_EQ(Sh("tc qdisc show dev " + Port("b")).find("tbf"), std::string::npos);
}

// netem through labvirt's own rtnetlink code. Where the kernel has no netem (this project's CI
// host: CONFIG_NET_SCH_NETEM is not set) the error must say so precisely; where it has, delay and
// loss are measured on the wire.
TEST_F(NetemTest, DelayAndLossOnBsPortOrAPreciseError) {
  Endpoint a(Peer("a")), b(Peer("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  bool forwarding = false;
  for (int i = 0; i < 40 && !forwarding; ++i) forwarding = !Flow(a, b, 2, 0ms).empty();
  ASSERT_TRUE(forwarding);
  Impairment imp;
  imp.delay_ms = 150;
  Status st = ApplyNetem(Port("b"), imp);
  const std::string config = Sh("zcat /proc/config.gz 2>/dev/null | grep NET_SCH_NETEM");
  if (config.find("is not set") != std::string::npos) {
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("netem on " + Port("b")), std::string::npos) << st.ToString();
    EXPECT_NE(st.message().find("Specified qdisc kind is unknown"), std::string::npos)
        << "the kernel's own words: " << st.ToString();
    EXPECT_TRUE(ApplyNetem(Port("b"), {}).ok()) << "clearing where nothing is set succeeds";
    return;
  }
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_NE(Sh("tc qdisc show dev " + Port("b")).find("delay 150ms"), std::string::npos)
      << Sh("tc qdisc show dev " + Port("b"));
  auto a_to_b = Flow(a, b, 40, 5ms);
  auto b_to_a = Flow(b, a, 40, 5ms);
  ASSERT_GE(a_to_b.size(), 30u);
  ASSERT_GE(b_to_a.size(), 30u);
  EXPECT_GE(Median(a_to_b), 140) << "A->B leaves through B's port: delayed";
  EXPECT_LE(Median(a_to_b), 600);
  EXPECT_LT(Median(b_to_a), 100) << "B->A leaves through A's port: not delayed";
  imp = {};
  imp.loss_pct = 50;
  ASSERT_TRUE(ApplyNetem(Port("b"), imp).ok());
  auto lossy = Flow(a, b, 200, 5ms);
  EXPECT_GE(lossy.size(), 50u) << "about half of 200 frames arrive";
  EXPECT_LE(lossy.size(), 150u) << "about half of 200 frames arrive";
  ASSERT_TRUE(ApplyNetem(Port("b"), {}).ok()) << "cleared";
  EXPECT_EQ(Sh("tc qdisc show dev " + Port("b")).find("netem"), std::string::npos);
  EXPECT_GE(Flow(a, b, 40, 5ms).size(), 36u) << "no loss once cleared";
}

TEST_F(NetemTest, UnknownInterfaceIsNotFound) {
  Impairment imp;
  imp.loss_pct = 1;
  EXPECT_EQ(ApplyNetem("lvnoneXX" + kId, imp).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace labvirt::engine
