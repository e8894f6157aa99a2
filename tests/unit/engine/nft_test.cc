// The nft shell without nft: a stand-in script records its argv and stdin or fails like nft;
// `nft list tables` output parsing; the ip_forward sysctl on a plain file.
#include "engine/mgmt_nat/nft.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace labvirt::engine::mgmt {
namespace {

class NftShellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nft_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)!::system(("rm -rf " + dir_).c_str()); }

  // An executable stand-in for nft with `body` as its shell script.
  std::string Script(const std::string& name, const std::string& body) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    ::chmod(path.c_str(), 0755);
    return path;
  }
  std::string Read(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string dir_;
};

NatPlan Plan() {
  NatPlan p;
  p.lab = "l1";
  p.table = "labvirt_00000001";
  p.interface = "lvmg00000001";
  p.subnet_ipv4 = "10.250.9.0/24";
  p.forwards.push_back({.host_port = 2201, .node = "r1", .address = "10.250.9.10", .port = 22});
  return p;
}

TEST_F(NftShellTest, ApplyHandsTheRulesetToNftOnStdin) {
  const std::string nft =
      Script("nft", "echo \"$@\" > " + dir_ + "/argv; cat > " + dir_ + "/stdin; echo chatter\n");
  ASSERT_TRUE(ApplyNat(Plan(), nft).ok());
  EXPECT_EQ(Read("argv"), "-f -\n");
  EXPECT_EQ(Read("stdin"), NatRuleset(Plan()));
  ASSERT_TRUE(RemoveNat("labvirt_00000001", nft).ok());
  EXPECT_EQ(Read("stdin"), RemoveNatScript("labvirt_00000001"));
}

TEST_F(NftShellTest, NftsErrorCarriesItsStderr) {
  const std::string nft =
      Script("nft",
             "cat >/dev/null; echo 'Error: Could not process rule: Operation not permitted' >&2;"
             " exit 1\n");
  const Status s = ApplyNat(Plan(), nft);
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.message(), "apply NAT table labvirt_00000001: " + nft +
                             " failed (exit code 1): Error: Could not process rule: Operation "
                             "not permitted");
  EXPECT_FALSE(RemoveNat("labvirt_00000001", nft).ok());
  EXPECT_FALSE(ListNatTables(nft).ok());
}

TEST_F(NftShellTest, LargeOutputAndStderrDoNotBlock) {
  const std::string nft =
      Script("nft",
             "i=0; while [ $i -lt 3000 ]; do echo \"table ip labvirt_t$i\";"
             " echo \"warning $i padding padding padding padding\" >&2; i=$((i+1)); done\n");
  auto tables = ListNatTables(nft);
  ASSERT_TRUE(tables.ok()) << tables.status().ToString();
  EXPECT_EQ(tables->size(), 3000u);
}

TEST_F(NftShellTest, InvalidInputRunsNothing) {
  const std::string nft = Script("nft", "touch " + dir_ + "/ran\n");
  NatPlan bad = Plan();
  bad.forwards[0].port = 0;
  EXPECT_EQ(ApplyNat(bad, nft).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RemoveNat("filter", nft).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RemoveNat("labvirt_x; flush ruleset", nft).code(), StatusCode::kInvalidArgument);
  EXPECT_NE(::access((dir_ + "/ran").c_str(), F_OK), 0) << "nft ran";
}

TEST_F(NftShellTest, MissingNftIsAnError) {
  EXPECT_FALSE(RemoveNat("labvirt_00000001", dir_ + "/no-such-nft").ok());
}

TEST(ParseNatTablesTest, OnlyLabvirtTablesOfFamilyIp) {
  EXPECT_EQ(ParseNatTables("table inet filter\n"
                           "table ip labvirt_0a1b2c3d\n"
                           "table ip6 labvirt_0a1b2c3d\n"
                           "table inet labvirt_x\n"
                           "table ip nat\n"
                           "table ip labvirt_\n"
                           "table ip labvirtx_1\n"
                           "table ip labvirt_ffff0000"),
            (std::vector<std::string>{"labvirt_0a1b2c3d", "labvirt_ffff0000"}));
  EXPECT_TRUE(ParseNatTables("").empty());
}

TEST_F(NftShellTest, IpForwardingIsTurnedOnOnceAndReported) {
  const std::string path = dir_ + "/ip_forward";
  std::ofstream(path) << "0\n";
  auto changed = EnsureIpForwarding(path);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_TRUE(*changed);
  EXPECT_EQ(Read("ip_forward"), "1\n");
  changed = EnsureIpForwarding(path);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed) << "already on";
  EXPECT_FALSE(EnsureIpForwarding(dir_ + "/missing").ok());
}

}  // namespace
}  // namespace labvirt::engine::mgmt
