// labvirt's netem requests mean what iproute2's do. This project's CI kernel has no netem
// (CONFIG_NET_SCH_NETEM unset), so the kernel cannot judge the requests there; iproute2's `tc` is
// the reference encoder instead: for each impairment, `tc qdisc replace … netem …` runs under
// strace on a veth (whether the kernel then accepts it does not matter), its RTM_NEWQDISC is read
// back from strace's hex dump, and both messages are decoded to what netem would do: delay and
// jitter in nanoseconds, the loss, duplicate, reorder and corrupt probabilities, the gap and the
// rate. Each must agree (probabilities within one part in 2^32: rounding).
//
// Where they differ on purpose: the queue limit (labvirt 10000 frames, tc 1000) and how a delay is
// carried (labvirt: TCA_NETEM_LATENCY64 in ns; tc: the 32-bit qopt field in psched ticks until it
// overflows) — the decoding below reads both forms as the kernel does.
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "engine/netem/impairment.h"
#include "engine/netem/netem_netlink.h"
#include "gtest/gtest.h"
#include "tests/support/prereq.h"
#include "tests/support/rtattr_reader.h"
#include "tests/support/shell.h"

namespace labvirt::engine {
namespace {

using testing::Sh;

const std::string kId = std::to_string(::getpid() % 100000);

// What a netem qdisc does, decoded from its TCA_OPTIONS.
struct NetemEffect {
  int64_t delay_ns = 0, jitter_ns = 0;
  uint32_t loss = 0, duplicate = 0, gap = 0, reorder = 0, corrupt = 0;
  uint64_t rate_bytes_per_s = 0;
  uint32_t limit = 0;
};

// Nanoseconds per psched tick, as tc computes it from /proc/net/psched.
double NsPerTick() {
  std::ifstream f("/proc/net/psched");
  unsigned t2us = 0, us2t = 0, clock_res = 0;
  f >> std::hex >> t2us >> us2t >> clock_res;
  if (clock_res == 1000000000) t2us = us2t;  // tc's compatibility rule
  double tick_in_usec = static_cast<double>(t2us) / us2t * (clock_res / 1e6);
  return 1000.0 / tick_in_usec;
}

using testing::As;
using testing::Attrs;

// Decodes an RTM_NEWQDISC netem request; nullopt when it is not one.
std::optional<NetemEffect> Decode(const std::string& msg) {
  if (msg.size() < NLMSG_SPACE(sizeof(tcmsg))) return std::nullopt;
  nlmsghdr h;
  std::memcpy(&h, msg.data(), sizeof h);
  if (h.nlmsg_type != RTM_NEWQDISC || h.nlmsg_len > msg.size()) return std::nullopt;
  auto attrs = Attrs(std::string_view(msg).substr(NLMSG_SPACE(sizeof(tcmsg)), h.nlmsg_len));
  if (attrs[TCA_KIND] != std::string("netem", 6)) return std::nullopt;
  const std::string& opts = attrs[TCA_OPTIONS];
  if (opts.size() < sizeof(tc_netem_qopt)) return std::nullopt;
  tc_netem_qopt q;
  std::memcpy(&q, opts.data(), sizeof q);
  NetemEffect e;
  const double ns_per_tick = NsPerTick();
  e.delay_ns = static_cast<int64_t>(q.latency * ns_per_tick + 0.5);
  e.jitter_ns = static_cast<int64_t>(q.jitter * ns_per_tick + 0.5);
  e.loss = q.loss;
  e.duplicate = q.duplicate;
  e.gap = q.gap;
  e.limit = q.limit;
  auto nested = Attrs(std::string_view(opts).substr(RTA_ALIGN(sizeof q)));
  // The kernel's order: the 64-bit forms override the qopt fields.
  if (nested.count(TCA_NETEM_LATENCY64)) e.delay_ns = As<int64_t>(nested[TCA_NETEM_LATENCY64]);
  if (nested.count(TCA_NETEM_JITTER64)) e.jitter_ns = As<int64_t>(nested[TCA_NETEM_JITTER64]);
  if (nested.count(TCA_NETEM_REORDER))
    e.reorder = As<tc_netem_reorder>(nested[TCA_NETEM_REORDER]).probability;
  if (nested.count(TCA_NETEM_CORRUPT))
    e.corrupt = As<tc_netem_corrupt>(nested[TCA_NETEM_CORRUPT]).probability;
  if (nested.count(TCA_NETEM_RATE))
    e.rate_bytes_per_s = As<tc_netem_rate>(nested[TCA_NETEM_RATE]).rate;
  if (nested.count(TCA_NETEM_RATE64)) e.rate_bytes_per_s = As<uint64_t>(nested[TCA_NETEM_RATE64]);
  return e;
}

// The bytes of the RTM_NEWQDISC that `tc qdisc replace dev IF root netem ARGS` sent, read from
// strace's hex dump (" | 00000  78 00 00 00 …  ascii |"); "" when there was none.
std::string TcRequest(const std::string& ifname, const std::string& args) {
  const std::string trace = "/tmp/lvnetem-tc-" + kId + ".trace";
  Sh("strace -o " + trace + " -e trace=sendmsg -e write=all -xx tc qdisc replace dev " + ifname +
     " root netem " + args + " >/dev/null 2>&1");
  std::ifstream in(trace);
  std::string line, bytes;
  bool in_request = false;
  while (std::getline(in, line)) {
    if (line.rfind("sendmsg(", 0) == 0) {
      if (!bytes.empty()) break;  // the request's dump ended
      in_request = line.find("RTM_NEWQDISC") != std::string::npos;
      continue;
    }
    if (!in_request || line.rfind(" | ", 0) != 0) continue;
    // Fixed columns: " | OFFSET  " then 16 bytes as "xx ", with one more space after the 8th.
    for (size_t j = 0; j < 16; ++j) {
      size_t col = 10 + j * 3 + (j >= 8 ? 1 : 0);
      if (col + 2 > line.size() || line[col] == ' ') break;
      bytes.push_back(static_cast<char>(std::stoi(line.substr(col, 2), nullptr, 16)));
    }
  }
  std::remove(trace.c_str());
  return bytes;
}

class NetemIproute2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    LABVIRT_REQUIRE(::geteuid() == 0 && testing::HaveCommand("ip") && testing::HaveCommand("tc") &&
                        testing::HaveCommand("strace"),
                    "root, ip, tc and strace (tools/setup-host installs them)");
    int rc = 0;
    Sh("ip link add " + a_ + " type veth peer name " + b_, &rc);
    ASSERT_EQ(rc, 0) << "veth pair " << a_;
  }
  void TearDown() override { Sh("ip link del " + a_ + " 2>/dev/null"); }

  // labvirt's request for `imp` and tc's for `tc_args`, both decoded.
  void ExpectSame(const Impairment& imp, const std::string& tc_args) {
    SCOPED_TRACE("tc … netem " + tc_args);
    int ifindex = static_cast<int>(::if_nametoindex(a_.c_str()));
    auto ours = Decode(NetemReplaceRequest(ifindex, imp, 1));
    auto theirs = Decode(TcRequest(a_, tc_args));
    ASSERT_TRUE(ours.has_value());
    ASSERT_TRUE(theirs.has_value()) << "no netem request in tc's trace";
    EXPECT_EQ(ours->delay_ns, theirs->delay_ns);
    EXPECT_EQ(ours->jitter_ns, theirs->jitter_ns);
    EXPECT_NEAR(ours->loss, theirs->loss, 1);
    EXPECT_NEAR(ours->duplicate, theirs->duplicate, 1);
    EXPECT_NEAR(ours->reorder, theirs->reorder, 1);
    EXPECT_NEAR(ours->corrupt, theirs->corrupt, 1);
    EXPECT_EQ(ours->gap, theirs->gap);
    EXPECT_EQ(ours->rate_bytes_per_s, theirs->rate_bytes_per_s);
    EXPECT_EQ(ours->limit, kNetemLimit);
    EXPECT_EQ(theirs->limit, 1000u) << "tc's default queue";
  }

  std::string a_ = "lvnq" + kId, b_ = "lvnr" + kId;
};

TEST_F(NetemIproute2Test, DelayAndJitter) {
  Impairment imp;
  imp.delay_ms = 20;
  ExpectSame(imp, "delay 20ms");
  imp.jitter_ms = 5;
  ExpectSame(imp, "delay 20ms 5ms");
  imp.delay_ms = 60000;  // the largest delay labvirt takes
  imp.jitter_ms = 0;
  ExpectSame(imp, "delay 60s");
}

TEST_F(NetemIproute2Test, LossDuplicateCorrupt) {
  Impairment imp;
  imp.loss_pct = 1;
  ExpectSame(imp, "loss 1%");
  imp = {};
  imp.duplicate_pct = 2;
  ExpectSame(imp, "duplicate 2%");
  imp = {};
  imp.corrupt_pct = 0.5;
  ExpectSame(imp, "corrupt 0.5%");
  imp = {};
  imp.loss_pct = 100;
  ExpectSame(imp, "loss 100%");
}

TEST_F(NetemIproute2Test, ReorderNeedsADelay) {
  Impairment imp;
  imp.delay_ms = 10;
  imp.reorder_pct = 25;
  ExpectSame(imp, "delay 10ms reorder 25%");
}

TEST_F(NetemIproute2Test, RateBesideOtherImpairments) {
  Impairment imp;
  imp.delay_ms = 1;
  imp.rate_kbit = 1000;
  ExpectSame(imp, "delay 1ms rate 1000kbit");
}

TEST_F(NetemIproute2Test, EverythingAtOnce) {
  Impairment imp;
  imp.delay_ms = 20;
  imp.jitter_ms = 5;
  imp.loss_pct = 1;
  imp.duplicate_pct = 2;
  imp.corrupt_pct = 0.5;
  imp.reorder_pct = 25;
  imp.rate_kbit = 1000;
  ExpectSame(imp, "delay 20ms 5ms loss 1% duplicate 2% corrupt 0.5% reorder 25% rate 1000kbit");
}

}  // namespace
}  // namespace labvirt::engine
