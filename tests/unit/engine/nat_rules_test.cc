// The NAT plan's checks (one case per bad input, the exact message) and the nft script it
// becomes, compared whole against a golden text.
#include "engine/mgmt_nat/nat_rules.h"

#include <string>

#include "gtest/gtest.h"

namespace labvirt::engine::mgmt {
namespace {

NatPlan Sample() {
  NatPlan p;
  p.lab = "core-lab";
  p.table = "labvirt_0a1b2c3d";
  p.interface = "lvmg0a1b2c3d";
  p.subnet_ipv4 = "10.250.3.0/24";
  p.masquerade = true;
  p.forwards.push_back(
      {.protocol = "tcp", .host_port = 2201, .node = "r1", .address = "10.250.3.10", .port = 22});
  p.forwards.push_back({.protocol = "udp",
                        .host_port = 16101,
                        .node = "r2.edge",
                        .address = "10.250.3.11",
                        .port = 161});
  return p;
}

constexpr char kGolden[] =
    "add table ip labvirt_0a1b2c3d\n"
    "delete table ip labvirt_0a1b2c3d\n"
    "table ip labvirt_0a1b2c3d {\n"
    "\tcomment \"labvirt lab core-lab: management NAT on lvmg0a1b2c3d\"\n"
    "\tchain prerouting {\n"
    "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
    "\t\tfib daddr type local tcp dport 2201 dnat to 10.250.3.10:22"
    " comment \"node r1: host tcp 2201 -> 10.250.3.10:22\"\n"
    "\t\tfib daddr type local udp dport 16101 dnat to 10.250.3.11:161"
    " comment \"node r2.edge: host udp 16101 -> 10.250.3.11:161\"\n"
    "\t}\n"
    "\tchain output {\n"
    "\t\ttype nat hook output priority -100; policy accept;\n"
    "\t\tip daddr != 127.0.0.0/8 fib daddr type local tcp dport 2201 dnat to 10.250.3.10:22"
    " comment \"node r1: host tcp 2201 -> 10.250.3.10:22\"\n"
    "\t\tip daddr != 127.0.0.0/8 fib daddr type local udp dport 16101 dnat to 10.250.3.11:161"
    " comment \"node r2.edge: host udp 16101 -> 10.250.3.11:161\"\n"
    "\t}\n"
    "\tchain postrouting {\n"
    "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
    "\t\toifname \"lvmg0a1b2c3d\" ip daddr 10.250.3.0/24 ct status dnat masquerade"
    " comment \"forwarded connections come from the gateway\"\n"
    "\t\tip saddr 10.250.3.0/24 oifname != \"lvmg0a1b2c3d\" masquerade"
    " comment \"lab core-lab: nodes to the outside\"\n"
    "\t}\n"
    "\tchain forward {\n"
    "\t\ttype filter hook forward priority filter; policy accept;\n"
    "\t\tiifname \"lvmg0a1b2c3d\" ip saddr 10.250.3.0/24 accept"
    " comment \"lab core-lab: from the management segment\"\n"
    "\t\toifname \"lvmg0a1b2c3d\" ip daddr 10.250.3.0/24 accept"
    " comment \"lab core-lab: to the management segment\"\n"
    "\t}\n"
    "}\n";

TEST(NatRulesetTest, MasqueradeAndTwoForwardsGiveTheGoldenScript) {
  ASSERT_TRUE(ValidateNatPlan(Sample()).ok());
  EXPECT_EQ(NatRuleset(Sample()), kGolden);
}

TEST(NatRulesetTest, NoForwardsNoMasqueradeLeavesOnlyTheForwardAccepts) {
  NatPlan p = Sample();
  p.forwards.clear();
  p.masquerade = false;
  const std::string s = NatRuleset(p);
  EXPECT_EQ(s.find("chain prerouting"), std::string::npos) << s;
  EXPECT_EQ(s.find("chain output"), std::string::npos) << s;
  EXPECT_EQ(s.find("chain postrouting"), std::string::npos) << s;
  EXPECT_NE(s.find("chain forward"), std::string::npos) << s;
}

TEST(NatRulesetTest, MasqueradeWithoutForwardsHasNoDnat) {
  NatPlan p = Sample();
  p.forwards.clear();
  const std::string s = NatRuleset(p);
  EXPECT_EQ(s.find("dnat"), std::string::npos) << s;
  EXPECT_NE(s.find("ip saddr 10.250.3.0/24 oifname != \"lvmg0a1b2c3d\" masquerade"),
            std::string::npos)
      << s;
}

TEST(NatRulesetTest, RemoveScriptWorksWhetherOrNotTheTableExists) {
  EXPECT_EQ(RemoveNatScript("labvirt_0a1b2c3d"),
            "add table ip labvirt_0a1b2c3d\ndelete table ip labvirt_0a1b2c3d\n");
}

TEST(NatRulesetDeathTest, AnUnvalidatedPlanNeverBecomesAScript) {
  NatPlan p = Sample();
  p.lab = "x\" ; flush ruleset ; \"";
  EXPECT_DEATH((void)NatRuleset(p), "ValidateNatPlan");
  EXPECT_DEATH((void)RemoveNatScript("filter"), "IsValidTableName");
}

struct BadCase {
  const char* what;
  void (*mutate)(NatPlan*);
  const char* field;
  const char* message;
};

const BadCase kBad[] = {
    {"lab empty", [](NatPlan* p) { p->lab = ""; }, "lab",
     "lab name \"\" is not 1-63 bytes of [A-Za-z0-9][A-Za-z0-9_.-]*"},
    {"lab quote", [](NatPlan* p) { p->lab = "a\"b"; }, "lab",
     "lab name \"a\"b\" is not 1-63 bytes of [A-Za-z0-9][A-Za-z0-9_.-]*"},
    {"lab newline", [](NatPlan* p) { p->lab = "a\nflush ruleset"; }, "lab",
     "lab name \"a\nflush ruleset\" is not 1-63 bytes of [A-Za-z0-9][A-Za-z0-9_.-]*"},
    {"lab too long", [](NatPlan* p) { p->lab = std::string(64, 'a'); }, "lab", nullptr},
    {"lab starts with dash", [](NatPlan* p) { p->lab = "-a"; }, "lab", nullptr},
    {"table without prefix", [](NatPlan* p) { p->table = "filter"; }, "table",
     "table name \"filter\" is not \"labvirt_\" then [a-z0-9_], at most 32 bytes"},
    {"table prefix only", [](NatPlan* p) { p->table = "labvirt_"; }, "table", nullptr},
    {"table upper case", [](NatPlan* p) { p->table = "labvirt_AB"; }, "table", nullptr},
    {"table space", [](NatPlan* p) { p->table = "labvirt_a b"; }, "table", nullptr},
    {"table 33 bytes", [](NatPlan* p) { p->table = "labvirt_" + std::string(25, 'a'); }, "table",
     nullptr},
    {"interface empty", [](NatPlan* p) { p->interface = ""; }, "interface",
     "interface name \"\" is not 1-15 bytes of [A-Za-z0-9_.-]"},
    {"interface 16 bytes", [](NatPlan* p) { p->interface = "lvmg0a1b2c3d0123"; }, "interface",
     nullptr},
    {"interface quote", [](NatPlan* p) { p->interface = "eth0\""; }, "interface", nullptr},
    {"interface dot", [](NatPlan* p) { p->interface = "."; }, "interface", nullptr},
    {"subnet host bits", [](NatPlan* p) { p->subnet_ipv4 = "10.250.3.1/24"; }, "subnet_ipv4",
     "subnet \"10.250.3.1/24\" is not an IPv4 network address/prefix (1-30)"},
    {"subnet no prefix", [](NatPlan* p) { p->subnet_ipv4 = "10.250.3.0"; }, "subnet_ipv4", nullptr},
    {"subnet /31", [](NatPlan* p) { p->subnet_ipv4 = "10.250.3.0/31"; }, "subnet_ipv4", nullptr},
    {"subnet /0", [](NatPlan* p) { p->subnet_ipv4 = "0.0.0.0/0"; }, "subnet_ipv4", nullptr},
    {"subnet garbage prefix", [](NatPlan* p) { p->subnet_ipv4 = "10.250.3.0/2x"; }, "subnet_ipv4",
     nullptr},
    {"subnet IPv6", [](NatPlan* p) { p->subnet_ipv4 = "fd00::/64"; }, "subnet_ipv4", nullptr},
    {"protocol sctp", [](NatPlan* p) { p->forwards[1].protocol = "sctp"; }, "forwards[1].protocol",
     "protocol \"sctp\" is not tcp or udp"},
    {"protocol upper case", [](NatPlan* p) { p->forwards[0].protocol = "TCP"; },
     "forwards[0].protocol", "protocol \"TCP\" is not tcp or udp"},
    {"host port 0", [](NatPlan* p) { p->forwards[0].host_port = 0; }, "forwards[0].host_port",
     "host port 0 is not in 1..65535"},
    {"host port 65536", [](NatPlan* p) { p->forwards[0].host_port = 65536; },
     "forwards[0].host_port", "host port 65536 is not in 1..65535"},
    {"host port negative", [](NatPlan* p) { p->forwards[0].host_port = -22; },
     "forwards[0].host_port", "host port -22 is not in 1..65535"},
    {"port 0", [](NatPlan* p) { p->forwards[1].port = 0; }, "forwards[1].port",
     "port 0 is not in 1..65535"},
    {"port 70000", [](NatPlan* p) { p->forwards[1].port = 70000; }, "forwards[1].port",
     "port 70000 is not in 1..65535"},
    {"node empty", [](NatPlan* p) { p->forwards[0].node = ""; }, "forwards[0].node",
     "node name \"\" is not 1-63 bytes of [A-Za-z0-9][A-Za-z0-9_.-]*"},
    {"node hostile", [](NatPlan* p) { p->forwards[0].node = "r1\" accept; #"; }, "forwards[0].node",
     nullptr},
    {"address not IPv4", [](NatPlan* p) { p->forwards[0].address = "r1.lab"; },
     "forwards[0].address", "address \"r1.lab\" is not an IPv4 address"},
    {"address with port", [](NatPlan* p) { p->forwards[0].address = "10.250.3.10:22"; },
     "forwards[0].address", nullptr},
    {"address outside", [](NatPlan* p) { p->forwards[0].address = "10.250.4.10"; },
     "forwards[0].address", "address 10.250.4.10 is not a host address of the management subnet"},
    {"address network", [](NatPlan* p) { p->forwards[0].address = "10.250.3.0"; },
     "forwards[0].address", nullptr},
    {"address broadcast", [](NatPlan* p) { p->forwards[0].address = "10.250.3.255"; },
     "forwards[0].address", nullptr},
    {"duplicate host port",
     [](NatPlan* p) {
       p->forwards[1].protocol = "tcp";
       p->forwards[1].host_port = 2201;
     },
     "forwards[1].host_port", "host tcp port 2201 is forwarded twice in this lab"},
};

TEST(ValidateNatPlanTest, TheSampleIsValid) { EXPECT_TRUE(ValidateNatPlan(Sample()).ok()); }

TEST(ValidateNatPlanTest, EveryBadInputIsRefusedNamingItsField) {
  for (const BadCase& c : kBad) {
    NatPlan p = Sample();
    c.mutate(&p);
    const Status s = ValidateNatPlan(p);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.what;
    EXPECT_EQ(s.field(), c.field) << c.what;
    if (c.message != nullptr) {
      EXPECT_EQ(s.message(), c.message) << c.what;
    }
  }
}

TEST(ValidateNatPlanTest, SameHostPortOnTwoProtocolsIsFine) {
  NatPlan p = Sample();
  p.forwards[1].host_port = 2201;
  EXPECT_TRUE(ValidateNatPlan(p).ok());
}

TEST(ValidateNatPlanTest, LongestNamesStayUnderNftsCommentLimit) {
  NatPlan p = Sample();
  p.lab = std::string(63, 'l');
  p.forwards[0].node = std::string(63, 'n');
  p.forwards[0].host_port = 65535;
  p.forwards[0].address = "10.250.3.254";
  p.forwards[0].port = 65535;
  ASSERT_TRUE(ValidateNatPlan(p).ok());
  const std::string s = NatRuleset(p);
  for (size_t at = s.find("comment \""); at != std::string::npos;
       at = s.find("comment \"", at + 1)) {
    const size_t open = at + 9;
    EXPECT_LT(s.find('"', open) - open, 128u) << s.substr(at, 200);
  }
}

}  // namespace
}  // namespace labvirt::engine::mgmt
