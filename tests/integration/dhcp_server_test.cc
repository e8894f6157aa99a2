// DhcpServer with the real dnsmasq serving: static leases by MAC and SetLeases taking effect
// (busybox udhcpc in a fresh network namespace), the default route only when asked, IPv6 router
// advertisements and static DHCPv6, two labs side by side. Its process's life (restarts,
// adoption, Stop, failed starts, what it inherits) is dhcp_server_process_test.cc.
#include "engine/mgmt/dhcp_server.h"

#include "gtest/gtest.h"
#include "tests/integration/dhcp_server_fixture.h"

namespace labvirt::engine::mgmt {
namespace {

using namespace dhcp_test;

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

}  // namespace
}  // namespace labvirt::engine::mgmt
