// Management segments on the data plane (issue 17): OvsPlumber's gateway (an internal port of a
// throw-away netdev bridge of the host's real ovs-vswitchd) gets its addresses through
// rtnetlink, and the host reaches a NIC of its segment through it — and no NIC of another segment
// or an isolated one. Veth ends in network namespaces stand in for the nodes' NICs.
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "engine/lab/ovs_plumber.h"
#include "gtest/gtest.h"
#include "reactor/base/ip_prefix.h"
#include "reactor/worker_pool.h"
#include "tests/support/ovs_harness.h"
#include "tests/support/prereq.h"

namespace labvirt::engine {
namespace {

using namespace std::chrono_literals;
using ovs::testing::Await;
using ovs::testing::RunUntil;
using ovs::testing::Sh;

constexpr int kNs = 3;  // 0: segment mgmt, 1: segment other, 2: isolated

class OvsGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int rc = 0;
    LABVIRT_REQUIRE(ovs::testing::HostOvsRunning() && ovs::testing::HaveCommand("ip") &&
                        ovs::testing::HaveCommand("ping"),
                    "ovs-vswitchd and ovsdb-server running, ip and ping");
    id_ = std::to_string(::getpid() % 100000);
    subnet_ = std::to_string(::getpid() % 200);
    bridge_ = "lvgwb" + id_;
    gw_ = "lvgw" + id_;
    set_up_ = true;
    for (int i = 0; i < kNs; ++i) {
      Sh("ip netns add " + Ns(i), &rc);
      ASSERT_EQ(rc, 0) << "ip netns add";
      Sh("ip link add " + Port(i) + " type veth peer name in" + Port(i) + " && ip link set in" +
             Port(i) + " netns " + Ns(i) + " && ip link set " + Port(i) + " up",
         &rc);
      ASSERT_EQ(rc, 0);
      // Every node's address is in the gateway's subnet; only the segment decides reachability.
      std::string in = "ip -n " + Ns(i) + " ";
      Sh(in + "addr add " + Ip4(i + 2) + "/24 dev in" + Port(i) + " && " + in + "addr add " +
             Ip6(i + 2) + "/64 dev in" + Port(i) + " nodad && " + in + "link set in" + Port(i) +
             " up && " + in + "link set lo up",
         &rc);
      ASSERT_EQ(rc, 0);
    }
    reactor_ = std::move(reactor::Reactor::Create().value());
    pool_ = std::make_unique<reactor::WorkerPool>(*reactor_, 2, 16);
    plumber_ = std::make_unique<OvsPlumber>(*reactor_, *pool_,
                                            std::string("unix:") + ovs::testing::kHostOvsDb,
                                            bridge_, /*netdev=*/true, "gwtest");
    ASSERT_TRUE(Run([&](auto cb) { plumber_->Start(cb); }).ok());
  }
  void TearDown() override {
    plumber_.reset();
    pool_.reset();
    reactor_.reset();
    if (!set_up_) return;
    Sh("ovs-vsctl --if-exists del-br " + bridge_ + " 2>/dev/null");
    Sh("ip link del " + gw_ + " 2>/dev/null");
    for (int i = 0; i < kNs; ++i) {
      Sh("ip link del " + Port(i) + " 2>/dev/null; ip netns del " + Ns(i) + " 2>/dev/null");
    }
  }
  std::string Ns(int i) const { return "lvgwns" + std::to_string(i) + "-" + id_; }
  std::string Port(int i) const { return "lvg" + std::to_string(i) + "p" + id_; }
  std::string Ip4(int host) const { return "10.251." + subnet_ + "." + std::to_string(host); }
  std::string Ip6(int host) const { return "fd6c:7601:0:" + subnet_ + "::" + std::to_string(host); }
  // The host pings `ip` (through whatever route it has), up to `tries` times.
  bool HostReaches(const std::string& ip, int tries) {
    for (int t = 0; t < tries; ++t) {
      int rc = 0;
      Sh("ping -c1 -W1 " + ip + " >/dev/null 2>&1", &rc);
      if (rc == 0) return true;
    }
    return false;
  }
  bool LinkExists(const std::string& name) {
    int rc = 0;
    Sh("ip link show " + name + " >/dev/null 2>&1", &rc);
    return rc == 0;
  }
  Status Run(const std::function<void(NetworkPlumber::Done)>& op) { return Await(*reactor_, op); }

  bool set_up_ = false;
  std::string id_, subnet_, bridge_, gw_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<reactor::WorkerPool> pool_;
  std::unique_ptr<OvsPlumber> plumber_;
};

TEST_F(OvsGatewayTest, HostReachesItsSegmentThroughTheGatewayAndNothingElse) {
  const std::string lab = "gw" + id_;
  ASSERT_TRUE(Run([&](auto cb) {
                plumber_->Plug(
                    lab, "n0",
                    {{.tap = Port(0), .nic = "m", .link = "", .peer_tap = "", .segment = "mgmt"}},
                    cb);
              }).ok());
  ASSERT_TRUE(Run([&](auto cb) {
                plumber_->Plug(
                    lab, "n1",
                    {{.tap = Port(1), .nic = "m", .link = "", .peer_tap = "", .segment = "other"}},
                    cb);
              }).ok());
  ASSERT_TRUE(Run([&](auto cb) {
                plumber_->Plug(lab, "n2",
                               {{.tap = Port(2), .nic = "0", .link = "", .peer_tap = ""}}, cb);
              }).ok());

  const std::vector<std::string> addresses = {Ip4(1) + "/24", Ip6(1) + "/64"};
  auto t0 = std::chrono::steady_clock::now();
  Status s = Run([&](auto cb) { plumber_->PlugGateway(lab, "mgmt", gw_, addresses, cb); });
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::printf("PlugGateway (OVSDB transaction, interface wait, up, addresses): %lld ms\n",
              static_cast<long long>(ms));
  EXPECT_EQ(Sh("ovs-vsctl get port " + gw_ + " tag"), Sh("ovs-vsctl get port " + Port(0) + " tag"));
  EXPECT_NE(Sh("ovs-vsctl get port " + gw_ + " tag"), Sh("ovs-vsctl get port " + Port(1) + " tag"));
  EXPECT_EQ(Sh("ovs-vsctl get interface " + gw_ + " type"), "internal");
  EXPECT_NE(Sh("ip -o link show " + gw_).find(",UP"), std::string::npos)
      << Sh("ip -o link show " + gw_);
  EXPECT_EQ(Sh("ip -o addr show dev " + gw_ + " scope global | awk '{print $4}'"),
            Ip4(1) + "/24\n" + FormatPrefix(*ParseInterfaceAddress(Ip6(1) + "/64")));
  // Usable at once: not tentative (IFA_F_NODAD; the link-local address still does DAD).
  EXPECT_EQ(Sh("ip -o addr show dev " + gw_ + " scope global tentative"), "");

  EXPECT_TRUE(HostReaches(Ip4(2), 8)) << "the host must reach its segment's node";
  EXPECT_TRUE(HostReaches(Ip6(2), 8)) << "the host must reach its segment's node over IPv6";
  EXPECT_FALSE(HostReaches(Ip4(3), 1)) << "another segment's node must not be reachable";
  EXPECT_FALSE(HostReaches(Ip4(4), 1)) << "an isolated node must not be reachable";
  EXPECT_FALSE(HostReaches(Ip6(3), 1)) << "another segment's node must not be reachable (IPv6)";

  // Plugging again converges on exactly the listed addresses (a stray global one goes; the
  // link-local one stays) and keeps the port.
  int rc = 0;
  Sh("ip addr add 192.0.2.9/24 dev " + gw_, &rc);
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(
      Run([&](auto cb) { plumber_->PlugGateway(lab, "mgmt", gw_, {Ip4(1) + "/24"}, cb); }).ok());
  EXPECT_EQ(Sh("ip -o addr show dev " + gw_ + " scope global | awk '{print $4}'"), Ip4(1) + "/24");
  EXPECT_NE(Sh("ip -o addr show dev " + gw_ + " scope link"), "");
  EXPECT_TRUE(HostReaches(Ip4(2), 4));

  // Refusals: a bad address before any change; a NIC's port is not a gateway.
  s = Run([&](auto cb) { plumber_->PlugGateway(lab, "mgmt", gw_, {"10.251.0.1"}, cb); });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  s = Run([&](auto cb) { plumber_->UnplugGateway(lab, "mgmt", Port(0), cb); });
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  bool listed = false;
  for (const PlumbedPort& p : plumber_->OwnedPorts()) {
    if (p.port != gw_) continue;
    listed = true;
    EXPECT_TRUE(p.gateway);
    EXPECT_EQ(p.segment, "mgmt");
    EXPECT_EQ(p.node, "");
    EXPECT_EQ(p.instance, "gwtest");
  }
  EXPECT_TRUE(listed);
  // A node's unplug leaves the gateway alone.
  ASSERT_TRUE(Run([&](auto cb) { plumber_->Unplug(lab, "n0", cb); }).ok());
  EXPECT_TRUE(LinkExists(gw_));

  // Unplug: the port row goes and ovs-vswitchd removes the kernel interface with it.
  ASSERT_TRUE(Run([&](auto cb) { plumber_->UnplugGateway(lab, "mgmt", gw_, cb); }).ok());
  EXPECT_EQ(Sh("ovs-vsctl list-ports " + bridge_ + " | grep -c " + gw_), "0");
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (LinkExists(gw_) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_FALSE(LinkExists(gw_)) << "the gateway's interface must go with its port";
  EXPECT_TRUE(Run([&](auto cb) { plumber_->UnplugGateway(lab, "mgmt", gw_, cb); }).ok());
}

}  // namespace
}  // namespace labvirt::engine
