// A lab's management NAT on this host's real nftables: the table as `nft list` shows it, replaced
// whole on re-apply, gone after remove; a port forward end to end (host and an "outside"
// namespace reach a listener in a node namespace through the host's addresses); masquerade of
// the nodes' traffic to the outside; and what a drop policy in another table does to it.
//
// Topology (names carry this process's id, so parallel runs do not meet):
//   node netns  eth0 172.31.N.10/24 --veth-- lvntg<id> 172.31.N.1/24   (the gateway)
//   outside ns  eth0 198.18.N.2/24  --veth-- lvnto<id> 198.18.N.1/24   (the outside)
// Everything is removed in TearDown, also when a case fails; ip_forward is put back to 0 when this
// test turned it on.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "engine/mgmt_nat/nat_rules.h"
#include "engine/mgmt_nat/nft.h"
#include "gtest/gtest.h"
#include "tests/support/prereq.h"
#include "tests/support/shell.h"

namespace labvirt::engine::mgmt {
namespace {

using testing::HaveCommand;
using testing::Sh;

const std::string kId = std::to_string(::getpid() % 100000);
const std::string kN = std::to_string(::getpid() % 200 + 20);
const std::string kTable = "labvirt_nt" + kId;
const std::string kDropTable = "lvnt_drop" + kId;  // not a labvirt name: a "foreign" firewall
const std::string kNodeNs = "lvnt" + kId + "n";
const std::string kOutNs = "lvnt" + kId + "o";
const std::string kGateway = "lvntg" + kId;
const std::string kOutside = "lvnto" + kId;
const std::string kSubnet = "172.31." + kN + ".0/24";
const std::string kGatewayIp = "172.31." + kN + ".1";
const std::string kNodeIp = "172.31." + kN + ".10";
const std::string kHostOutIp = "198.18." + kN + ".1";
const std::string kOutIp = "198.18." + kN + ".2";

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class NatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LABVIRT_REQUIRE(::geteuid() == 0, "root (nftables, namespaces)");
    LABVIRT_REQUIRE(::access(kNft, X_OK) == 0, "nft (Debian nftables)");
    LABVIRT_REQUIRE(HaveCommand("ip") && HaveCommand("socat") && HaveCommand("ss"),
                    "ip, socat and ss");
    set_up_ = true;
    forward_was_ = Sh("cat /proc/sys/net/ipv4/ip_forward");
    ASSERT_EQ(Run("ip netns add " + kNodeNs), 0);
    ASSERT_EQ(Run("ip netns add " + kOutNs), 0);
    Link(kGateway, kNodeNs, kGatewayIp, kNodeIp);
    Link(kOutside, kOutNs, kHostOutIp, kOutIp);
  }

  void TearDown() override {
    if (!set_up_) return;
    for (const std::string& ns : {kNodeNs, kOutNs}) {
      // The listeners this test started in its own namespaces, by pid.
      Sh("for p in $(ip netns pids " + ns + " 2>/dev/null); do kill $p; done");
      Sh("ip netns del " + ns + " 2>/dev/null");
    }
    Sh("ip link del " + kGateway + " 2>/dev/null; ip link del " + kOutside + " 2>/dev/null");
    EXPECT_TRUE(RemoveNat(kTable).ok());
    Sh("nft delete table ip " + kDropTable + " 2>/dev/null");
    Sh("nft delete table ip lvnt_foreign" + kId + " 2>/dev/null");
    if (forward_was_ == "0") Sh("echo 0 > /proc/sys/net/ipv4/ip_forward");
    EXPECT_EQ(Sh("nft list tables | grep -c -e " + kTable + " -e " + kDropTable), "0");
    EXPECT_EQ(Sh("ip netns list | grep -c lvnt" + kId), "0");
  }

  static int Run(const std::string& cmd) {
    int rc = -1;
    const std::string out = Sh(cmd + " 2>&1", &rc);
    if (rc != 0) ADD_FAILURE() << cmd << ": " << out;
    return rc;
  }

  // A veth pair: `host_end` in the host with `host_ip`/24, eth0 in `ns` with `ns_ip`/24 and a
  // default route through the host end.
  void Link(const std::string& host_end, const std::string& ns, const std::string& host_ip,
            const std::string& ns_ip) {
    const std::string in_ns = "ip netns exec " + ns + " ";
    ASSERT_EQ(Run("ip link add " + host_end + " type veth peer name eth0 netns " + ns), 0);
    ASSERT_EQ(Run("ip addr add " + host_ip + "/24 dev " + host_end), 0);
    ASSERT_EQ(Run("ip link set " + host_end + " up"), 0);
    ASSERT_EQ(Run(in_ns + "ip link set lo up"), 0);
    ASSERT_EQ(Run(in_ns + "ip addr add " + ns_ip + "/24 dev eth0"), 0);
    ASSERT_EQ(Run(in_ns + "ip link set eth0 up"), 0);
    ASSERT_EQ(Run(in_ns + "ip route add default via " + host_ip), 0);
  }

  // A TCP listener in `ns` on `port` that answers each connection with "hello peer=<source>".
  void Listen(const std::string& ns, int port) {
    const std::string p = std::to_string(port);
    Sh("ip netns exec " + ns + " socat TCP-LISTEN:" + p +
       ",reuseaddr,fork 'SYSTEM:echo hello peer=$SOCAT_PEERADDR' </dev/null >/dev/null 2>&1 &");
    for (int i = 0; i < 100; ++i) {
      if (Sh("ip netns exec " + ns + " ss -Hltn sport = :" + p) != "") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no listener on port " << p << " in " << ns;
  }

  // What a TCP client run with `prefix` ("" or "ip netns exec NS ") reads from `ip`:`port`.
  static std::string Connect(const std::string& prefix, const std::string& ip, int port) {
    return Sh(prefix + "socat -T5 -u TCP:" + ip + ":" + std::to_string(port) +
              ",connect-timeout=5 STDOUT 2>&1");
  }

  NatPlan Plan(int host_port, bool masquerade) const {
    NatPlan p;
    p.lab = "nat-test";
    p.table = kTable;
    p.interface = kGateway;
    p.subnet_ipv4 = kSubnet;
    p.masquerade = masquerade;
    p.forwards.push_back({.host_port = host_port, .node = "r1", .address = kNodeIp, .port = 22});
    return p;
  }

  bool set_up_ = false;
  std::string forward_was_;
};

#define ASSERT_OK(expr)                      \
  do {                                       \
    const Status st_ = (expr);               \
    ASSERT_TRUE(st_.ok()) << st_.ToString(); \
  } while (0)

TEST_F(NatTest, ApplyReplaceListAndRemoveLeaveNothing) {
  // A table labvirt did not create, with a rule in it: untouched by apply, replace and remove.
  const std::string kForeign = "lvnt_foreign" + kId;
  ASSERT_EQ(Run("nft add table ip " + kForeign + " && nft add chain ip " + kForeign +
                " c && nft add rule ip " + kForeign + " c tcp dport 2201 counter"),
            0);
  const std::string foreign_before = Sh("nft list table ip " + kForeign);

  NatPlan first = Plan(2201, true);
  first.forwards.push_back(
      {.protocol = "udp", .host_port = 2201, .node = "r2", .address = kNodeIp, .port = 161});
  ASSERT_OK(ApplyNat(first));
  std::string table = Sh("nft list table ip " + kTable + " 2>&1");
  EXPECT_EQ(Count(table, "udp dport 2201 dnat to " + kNodeIp + ":161"), 2) << table;
  EXPECT_EQ(Count(table, "tcp dport 2201 dnat to " + kNodeIp + ":22"), 2) << table;
  EXPECT_EQ(Count(table, "comment \"node r1: host tcp 2201 -> " + kNodeIp + ":22\""), 2) << table;
  EXPECT_NE(table.find("ip saddr " + kSubnet + " oifname != \"" + kGateway + "\" masquerade"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("comment \"labvirt lab nat-test: management NAT on " + kGateway + "\""),
            std::string::npos)
      << table;

  auto tables = ListNatTables();
  ASSERT_TRUE(tables.ok()) << tables.status().ToString();
  EXPECT_EQ(std::count(tables->begin(), tables->end(), kTable), 1);

  // Re-applied with another host port and no masquerade: replaced, nothing left of the first.
  ASSERT_OK(ApplyNat(Plan(2202, false)));
  table = Sh("nft list table ip " + kTable + " 2>&1");
  EXPECT_EQ(Count(table, "dport 2201"), 0) << table;
  EXPECT_EQ(Count(table, "tcp dport 2202 dnat to " + kNodeIp + ":22"), 2) << table;
  EXPECT_EQ(Count(table, "chain prerouting"), 1) << table;
  EXPECT_EQ(Count(table, "oifname != "), 0) << table;
  EXPECT_EQ(Count(Sh("nft list tables"), "table ip " + kTable), 1);

  // An invalid plan is refused before nft runs: the table stays as it was.
  NatPlan bad = Plan(2203, false);
  bad.forwards[0].address = "10.9.9.9";
  EXPECT_EQ(ApplyNat(bad).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(Sh("nft list table ip " + kTable), "dport 2202"), 2);

  ASSERT_OK(RemoveNat(kTable));
  int rc = 0;
  Sh("nft list table ip " + kTable + " >/dev/null 2>&1", &rc);
  EXPECT_NE(rc, 0) << "the table is gone";
  EXPECT_EQ(Count(Sh("nft list ruleset"), kTable), 0);
  EXPECT_EQ(Count(Sh("nft list ruleset"), "nat-test"), 0) << "no rule of the lab is left";
  tables = ListNatTables();
  ASSERT_TRUE(tables.ok());
  EXPECT_EQ(std::count(tables->begin(), tables->end(), kTable), 0);
  ASSERT_OK(RemoveNat(kTable));  // absent: fine
  EXPECT_EQ(Sh("nft list table ip " + kForeign), foreign_before);
  Sh("nft delete table ip " + kForeign);
}

TEST_F(NatTest, PortForwardReachesTheNodeFromOutsideAndFromTheHost) {
  auto changed = EnsureIpForwarding();
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(*changed, forward_was_ == "0") << "reports whether it turned forwarding on";
  EXPECT_EQ(Sh("cat /proc/sys/net/ipv4/ip_forward"), "1");
  Listen(kNodeNs, 22);
  // Before: nothing on the host's port 2201.
  EXPECT_EQ(Connect("ip netns exec " + kOutNs + " ", kHostOutIp, 2201).find("hello"),
            std::string::npos);

  ASSERT_OK(ApplyNat(Plan(2201, false)));
  // From outside to the host's address: prerouting dnat, and the node sees the gateway.
  EXPECT_EQ(Connect("ip netns exec " + kOutNs + " ", kHostOutIp, 2201), "hello peer=" + kGatewayIp);
  // From the host to its own addresses: output dnat.
  EXPECT_EQ(Connect("", kHostOutIp, 2201), "hello peer=" + kGatewayIp);
  const std::string primary =
      Sh("ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'");
  if (!primary.empty()) {
    EXPECT_EQ(Connect("", primary, 2201), "hello peer=" + kGatewayIp) << primary;
  }
  // Not from loopback: documented (route_localnet stays off).
  EXPECT_EQ(Connect("", "127.0.0.1", 2201).find("hello"), std::string::npos);
  // The host reaches the node at its management address directly, without any rule.
  EXPECT_EQ(Connect("", kNodeIp, 22), "hello peer=" + kGatewayIp);

  ASSERT_OK(RemoveNat(kTable));
  EXPECT_EQ(Connect("ip netns exec " + kOutNs + " ", kHostOutIp, 2201).find("hello"),
            std::string::npos)
      << "no forward after remove";
}

TEST_F(NatTest, MasqueradeGivesTheNodesTheHostsAddressOutside) {
  ASSERT_TRUE(EnsureIpForwarding().ok());
  Listen(kOutNs, 8080);
  const std::string from_node = "ip netns exec " + kNodeNs + " ";

  ASSERT_OK(ApplyNat(Plan(2201, false)));
  EXPECT_EQ(Connect(from_node, kOutIp, 8080), "hello peer=" + kNodeIp) << "routed, not NATed";

  ASSERT_OK(ApplyNat(Plan(2201, true)));
  EXPECT_EQ(Connect(from_node, kOutIp, 8080), "hello peer=" + kHostOutIp);
}

// A finding, kept as a test: an accept in our forward chain ends only our chain, so another
// table's forward chain with a drop policy (iptables-nft's FORWARD under Docker) still drops.
TEST_F(NatTest, AnotherTablesForwardDropPolicyStillDrops) {
  ASSERT_TRUE(EnsureIpForwarding().ok());
  Listen(kOutNs, 8080);
  const std::string from_node = "ip netns exec " + kNodeNs + " ";
  ASSERT_OK(ApplyNat(Plan(2201, true)));
  ASSERT_EQ(Connect(from_node, kOutIp, 8080), "hello peer=" + kHostOutIp);
  ASSERT_EQ(Run("nft add table ip " + kDropTable + " && nft add chain ip " + kDropTable +
                " forward '{ type filter hook forward priority 10; policy drop; }'"),
            0);
  EXPECT_EQ(Connect(from_node, kOutIp, 8080).find("hello"), std::string::npos);
}

}  // namespace
}  // namespace labvirt::engine::mgmt
