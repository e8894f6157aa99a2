// Capture filters compiled by libpcap: a good expression gives a program, a bad one libpcap's own
// message, and the program's accept value is the snap length (the kernel truncates to it).
#include "engine/capture/bpf_filter.h"

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

TEST(BpfFilterTest, CompilesAnExpression) {
  auto prog = CompileFilter("ether proto 0x88b5", 200);
  ASSERT_TRUE(prog.ok()) << prog.status().ToString();
  ASSERT_GE(prog->size(), 3u);
  // ldh [12]; jeq #0x88b5; ret #200; ret #0
  EXPECT_EQ(prog->front().code, BPF_LD | BPF_H | BPF_ABS);
  EXPECT_EQ(prog->front().k, 12u);
  bool accepts_snaplen = false;
  for (const auto& i : *prog) accepts_snaplen |= i.code == (BPF_RET | BPF_K) && i.k == 200;
  EXPECT_TRUE(accepts_snaplen);
}

TEST(BpfFilterTest, EmptyExpressionAcceptsEverything) {
  auto prog = CompileFilter("", 1500);
  ASSERT_TRUE(prog.ok());
  ASSERT_EQ(prog->size(), 1u);
  EXPECT_EQ(prog->front().code, BPF_RET | BPF_K);
  EXPECT_EQ(prog->front().k, 1500u);
}

TEST(BpfFilterTest, BadExpressionCarriesLibpcapsMessage) {
  auto bad = CompileFilter("tcp port ((", 1500);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("syntax error"), std::string::npos)
      << bad.status().message();
  auto range = CompileFilter("port 99999", 1500);
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.status().message().find("illegal port number 99999"), std::string::npos)
      << range.status().message();
}

}  // namespace
}  // namespace labvirt::engine
