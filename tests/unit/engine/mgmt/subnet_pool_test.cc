// Subnet choice from a pool against taken prefixes, overlap checks, and the host's routes read
// from /proc text: samples from a Debian 12 host (this CI machine) and hand-made ones.
#include "engine/mgmt/subnet_pool.h"

#include <sys/socket.h>

#include <cstdio>

#include "gtest/gtest.h"

namespace labvirt::engine::mgmt {
namespace {

IpPrefix P(const char* text) {
  Result<IpPrefix> p = ParsePrefix(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status().ToString();
  return p.ok() ? *p : IpPrefix{};
}

std::string Choose(const char* pool, int length, const std::vector<TakenPrefix>& taken) {
  Result<IpPrefix> p = ChooseSubnet(P(pool), length, taken);
  return p.ok() ? FormatPrefix(*p) : p.status().ToString();
}

TEST(SubnetPoolTest, FirstFreeSubnetInAddressOrder) {
  EXPECT_EQ(Choose("10.250.0.0/16", 24, {}), "10.250.0.0/24");
  EXPECT_EQ(Choose("10.250.0.0/16", 24, {{P("10.250.0.0/24"), "lab 'a'"}}), "10.250.1.0/24");
  // A hole is reused.
  EXPECT_EQ(Choose("10.250.0.0/16", 24,
                   {{P("10.250.0.0/24"), "lab 'a'"}, {P("10.250.2.0/24"), "lab 'c'"}}),
            "10.250.1.0/24");
  // A wider taken prefix skips all it covers; a narrower one blocks only its subnet.
  EXPECT_EQ(Choose("10.250.0.0/16", 24, {{P("10.250.0.0/20"), "host route on eth1"}}),
            "10.250.16.0/24");
  EXPECT_EQ(Choose("10.250.0.0/16", 24, {{P("10.250.0.77/32"), "host route on eth1"}}),
            "10.250.1.0/24");
  // Prefixes of the other family never collide.
  EXPECT_EQ(Choose("10.250.0.0/16", 24, {{P("::/0"), "x"}}), "10.250.0.0/24");
  EXPECT_EQ(Choose("fd6c:7600::/48", 64, {{P("fd6c:7600::/64"), "lab 'a'"}}), "fd6c:7600:0:1::/64");
  // The pool itself as the one subnet.
  EXPECT_EQ(Choose("10.250.3.0/24", 24, {}), "10.250.3.0/24");
}

TEST(SubnetPoolTest, ExhaustionNamesPoolAndCount) {
  std::vector<TakenPrefix> taken;
  for (int i = 0; i < 4; ++i) {
    taken.push_back({P(("10.250.0." + std::to_string(i * 64) + "/26").c_str()), "lab"});
  }
  Result<IpPrefix> p = ChooseSubnet(P("10.250.0.0/24"), 26, taken);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(p.status().message(), "all 4 subnets /26 of pool 10.250.0.0/24 are taken");
  p = ChooseSubnet(P("10.250.0.0/16"), 24, {{P("10.0.0.0/8"), "host route on eth0"}});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(p.status().message(),
            "all 256 subnets /24 of pool 10.250.0.0/16 are taken: 10.0.0.0/8 (host route on "
            "eth0) covers the whole pool");
}

TEST(SubnetPoolTest, HugePoolsAreCheap) {
  // 2^32 candidate /64s, the first 2^31 taken by one prefix and the next by many small ones: the
  // answer comes from jumping, not from walking candidates.
  std::vector<TakenPrefix> taken = {{P("fd00::/33"), "big"}};
  for (int i = 0; i < 1000; ++i) {
    char text[64];
    snprintf(text, sizeof text, "fd00:0:8000:%x::/64", i);
    taken.push_back({P(text), "lab"});
  }
  EXPECT_EQ(Choose("fd00::/32", 64, taken), "fd00:0:8000:3e8::/64");
  // All of a 2^63-subnet pool taken by one prefix.
  Result<IpPrefix> p = ChooseSubnet(P("8000::/1"), 64, {{P("::/0"), "everything"}});
  EXPECT_EQ(p.status().code(), StatusCode::kResourceExhausted);
}

TEST(SubnetPoolTest, BadLengths) {
  for (int length : {15, 33, -1}) {
    Result<IpPrefix> p = ChooseSubnet(P("10.250.0.0/16"), length, {});
    ASSERT_FALSE(p.ok()) << length;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_NE(ChooseSubnet(P("10.250.0.0/16"), 15, {}).status().message().find("use /16../32"),
            std::string::npos);
  Result<IpPrefix> p = ChooseSubnet(P("fd00::/8"), 128, {});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("2^63"), std::string::npos);
  EXPECT_FALSE(ChooseSubnet(IpPrefix{}, 24, {}).ok());
}

TEST(SubnetPoolTest, CheckSubnetNamesTheOverlap) {
  std::vector<TakenPrefix> taken = {{P("192.0.2.0/24"), "host route on eth0"},
                                    {P("10.1.0.0/16"), "host route on eth0"}};
  EXPECT_TRUE(CheckSubnet(P("10.2.0.0/24"), taken).ok());
  Status st = CheckSubnet(P("10.1.0.0/24"), taken);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), "subnet 10.1.0.0/24 overlaps 10.1.0.0/16 (host route on eth0)");
  st = CheckSubnet(P("10.0.0.0/8"), taken);
  EXPECT_EQ(st.message(), "subnet 10.0.0.0/8 overlaps 10.1.0.0/16 (host route on eth0)");
  EXPECT_TRUE(CheckSubnet(P("fd00::/64"), taken).ok());
}

// This CI host's files (Debian 12, kernel 6.x), whitespace as the kernel prints it.
constexpr const char* kHostRoute =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT      "
    "                                                 \n"
    "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0                               "
    "                                                \n"
    "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0                               "
    "                                                \n";
constexpr const char* kHostIpv6Route =
    "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
    "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fd000000000000000000000000000001 00000400 00000003 00000000 00000003     eth0\n"
    "00000000000000000000000000000001 80 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n"
    "fd000000000000000000000000000002 80 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000000 00000004 00000000 80200001     eth0\n"
    "fe8000000000000000fc00fffe000001 80 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000000 00000003 00000000 80200001     eth0\n"
    "ff000000000000000000000000000000 08 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";

std::vector<std::string> Texts(const std::vector<TakenPrefix>& routes) {
  std::vector<std::string> out;
  for (const TakenPrefix& r : routes) out.push_back(FormatPrefix(r.prefix) + " " + r.by);
  return out;
}

TEST(HostRoutesTest, ThisHostsSample) {
  // Default routes, link-local and multicast skipped; host routes (/128) kept.
  EXPECT_EQ(
      Texts(ParseHostRoutes(kHostRoute, kHostIpv6Route, "lvmg")),
      (std::vector<std::string>{"192.0.2.0/24 host route on eth0", "fd00::/64 host route on eth0",
                                "::1/128 host route on lo", "fd00::2/128 host route on eth0"}));
}

TEST(HostRoutesTest, HandMadeSamples) {
  const std::string v4 =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      // docker0 172.17.0.0/16, a labvirt gateway port, a /32, a non-contiguous mask, a host
      // route with host bits the kernel would never print (masked), garbage.
      "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
      "lvmg7\t0003FA0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "eth1\t0501A8C0\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n"
      "eth1\t0000000A\t00000000\t0001\t0\t0\t0\t00FF00FF\t0\t0\t0\n"
      "eth2\t0700000B\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n"
      "eth3\tZZZZZZZZ\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "eth3\t0000000C\t00000000\t0001\t0\t0\t0\t00FFFFF\t0\t0\t0\n"
      "eth3\t0000000C\n"
      "\n"
      "eth4\t00C0A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0";  // no final newline
  const std::string v6 =
      "fd6c7600000000030000000000000000 40 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000100 00000001 00000000 00000001    lvmg7\n"
      "20010db8000000000000000000000000 20 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000100 00000001 00000000 00000001    wg0\n"
      "20010db8000000000000000000000000 81 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000100 00000001 00000000 00000001    bad\n"
      "20010db80000000000000000000000 40 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000100 00000001 00000000 00000001    short\n"
      "fe900000000000000000000000000000 40 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000100 00000001 00000000 00000001    eth0\n"
      "ff020000000000000000000000000000 40 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000100 00000001 00000000 00000001    eth0\n"
      "fd00000000000000000000000000000g 40 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000100 00000001 00000000 00000001    hex\n"
      "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000100 00000001 00000000 00000001\n";
  EXPECT_EQ(Texts(ParseHostRoutes(v4, v6, "lvmg")),
            (std::vector<std::string>{
                "172.17.0.0/16 host route on docker0", "192.168.1.5/32 host route on eth1",
                "11.0.0.0/8 host route on eth2", "192.168.192.0/24 host route on eth4",
                "2001:db8::/32 host route on wg0"}));
  // With no device skipped, labvirt's own gateway ports count.
  EXPECT_EQ(ParseHostRoutes(v4, v6, "").size(), 7u);
  EXPECT_TRUE(ParseHostRoutes("", "", "").empty());
  EXPECT_TRUE(ParseHostRoutes("garbage", "garbage\n\n\n", "").empty());
}

TEST(HostRoutesTest, ReadsThisHost) {
  // Whatever this host has, nothing read is a default route, link-local or multicast.
  for (const TakenPrefix& r : ReadHostRoutes("")) {
    EXPECT_GT(r.prefix.length, 0) << r.by;
    EXPECT_FALSE(Overlaps(r.prefix, P("fe80::/10"))) << FormatPrefix(r.prefix);
    EXPECT_FALSE(Overlaps(r.prefix, P("ff00::/8"))) << FormatPrefix(r.prefix);
    EXPECT_EQ(r.by.rfind("host route on ", 0), 0u);
  }
}

}  // namespace
}  // namespace labvirt::engine::mgmt
