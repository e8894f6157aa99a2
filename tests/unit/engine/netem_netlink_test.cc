// netem requests built byte by byte as rtnetlink wants them, walked back attribute by attribute;
// impairments read from JSON and text with precise errors.
#include "engine/netem/netem_netlink.h"

#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <cstring>
#include <map>

#include "engine/netem/impairment.h"
#include "gtest/gtest.h"
#include "tests/support/rtattr_reader.h"

namespace labvirt::engine {
namespace {

// Attributes of a region by type (payloads).
using testing::Attrs;

// A payload as T, which must be exactly T's size.
template <typename T>
T As(const std::string& s) {
  EXPECT_EQ(s.size(), sizeof(T));
  return testing::As<T>(s);
}

TEST(NetemNetlinkTest, ReplaceRequestCarriesEveryImpairment) {
  Impairment imp;
  imp.delay_ms = 20;
  imp.jitter_ms = 5;
  imp.loss_pct = 1;
  imp.rate_kbit = 1000;
  imp.corrupt_pct = 0.5;
  imp.duplicate_pct = 2;
  imp.reorder_pct = 25;
  std::string msg = NetemReplaceRequest(7, imp, 42);
  nlmsghdr h;
  std::memcpy(&h, msg.data(), sizeof h);
  EXPECT_EQ(h.nlmsg_len, msg.size());
  EXPECT_EQ(h.nlmsg_type, RTM_NEWQDISC);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
  EXPECT_EQ(h.nlmsg_seq, 42u);
  tcmsg t;
  std::memcpy(&t, msg.data() + NLMSG_HDRLEN, sizeof t);
  EXPECT_EQ(t.tcm_ifindex, 7);
  EXPECT_EQ(t.tcm_parent, TC_H_ROOT);
  auto attrs = Attrs(std::string_view(msg).substr(NLMSG_SPACE(sizeof(tcmsg))));
  EXPECT_EQ(attrs[TCA_KIND], std::string("netem", 6));
  const std::string& opts = attrs[TCA_OPTIONS];
  ASSERT_GE(opts.size(), sizeof(tc_netem_qopt));
  tc_netem_qopt q;
  std::memcpy(&q, opts.data(), sizeof q);
  EXPECT_EQ(q.limit, kNetemLimit);
  EXPECT_EQ(q.latency, 0u) << "the delay goes in LATENCY64, in nanoseconds";
  EXPECT_NEAR(q.loss, 0.01 * UINT32_MAX, 1);
  EXPECT_NEAR(q.duplicate, 0.02 * UINT32_MAX, 1);
  EXPECT_EQ(q.gap, 1u);
  auto nested = Attrs(std::string_view(opts).substr(RTA_ALIGN(sizeof q)));
  EXPECT_EQ(As<int64_t>(nested[TCA_NETEM_LATENCY64]), 20'000'000);
  EXPECT_EQ(As<int64_t>(nested[TCA_NETEM_JITTER64]), 5'000'000);
  EXPECT_NEAR(As<tc_netem_reorder>(nested[TCA_NETEM_REORDER]).probability, 0.25 * UINT32_MAX, 1);
  EXPECT_NEAR(As<tc_netem_corrupt>(nested[TCA_NETEM_CORRUPT]).probability, 0.005 * UINT32_MAX, 1);
  EXPECT_EQ(As<tc_netem_rate>(nested[TCA_NETEM_RATE]).rate, 125'000u) << "bytes per second";
}

TEST(NetemNetlinkTest, UnsetImpairmentsAddNoAttribute) {
  Impairment imp;
  imp.loss_pct = 100;
  std::string msg = NetemReplaceRequest(3, imp, 1);
  auto attrs = Attrs(std::string_view(msg).substr(NLMSG_SPACE(sizeof(tcmsg))));
  auto nested =
      Attrs(std::string_view(attrs[TCA_OPTIONS]).substr(RTA_ALIGN(sizeof(tc_netem_qopt))));
  EXPECT_EQ(nested.count(TCA_NETEM_REORDER), 0u);
  EXPECT_EQ(nested.count(TCA_NETEM_CORRUPT), 0u);
  EXPECT_EQ(nested.count(TCA_NETEM_RATE), 0u);
  tc_netem_qopt q;
  std::memcpy(&q, attrs[TCA_OPTIONS].data(), sizeof q);
  EXPECT_EQ(q.loss, UINT32_MAX);
}

TEST(NetemNetlinkTest, ARateAloneIsATokenBucket) {
  Impairment rate;
  rate.rate_kbit = 200;
  EXPECT_TRUE(RateOnly(rate));
  Impairment more = rate;
  more.delay_ms = 1;
  EXPECT_FALSE(RateOnly(more));
  EXPECT_FALSE(RateOnly(Impairment{}));
  std::string msg = TbfReplaceRequest(9, rate, 5);
  nlmsghdr h;
  std::memcpy(&h, msg.data(), sizeof h);
  EXPECT_EQ(h.nlmsg_len, msg.size());
  EXPECT_EQ(h.nlmsg_type, RTM_NEWQDISC);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
  tcmsg t;
  std::memcpy(&t, msg.data() + NLMSG_HDRLEN, sizeof t);
  EXPECT_EQ(t.tcm_ifindex, 9);
  EXPECT_EQ(t.tcm_parent, TC_H_ROOT);
  auto attrs = Attrs(std::string_view(msg).substr(NLMSG_SPACE(sizeof(tcmsg))));
  EXPECT_EQ(attrs[TCA_KIND], std::string("tbf\0", 4));
  auto opts = Attrs(attrs[TCA_OPTIONS]);
  auto q = As<tc_tbf_qopt>(opts[TCA_TBF_PARMS]);
  EXPECT_EQ(q.rate.rate, 25000u);  // 200 kbit/s in bytes/s
  EXPECT_EQ(q.rate.linklayer, TC_LINKLAYER_ETHERNET);
  EXPECT_EQ(q.limit, 16384u);  // 100 ms of 25 kB/s + burst, at least 16 KiB
  EXPECT_EQ(As<uint32_t>(opts[TCA_TBF_BURST]), 3000u);  // two full frames at least
  Impairment fast;
  fast.rate_kbit = 1000000;  // 1 Gbit/s: 125 MB/s
  auto fast_opts = Attrs(Attrs(std::string_view(TbfReplaceRequest(9, fast, 6))
                                   .substr(NLMSG_SPACE(sizeof(tcmsg))))[TCA_OPTIONS]);
  EXPECT_EQ(As<uint32_t>(fast_opts[TCA_TBF_BURST]), 1250000u);  // 10 ms at the rate
  EXPECT_EQ(As<tc_tbf_qopt>(fast_opts[TCA_TBF_PARMS]).limit, 12500000u + 1250000u);
}

TEST(NetemNetlinkTest, DeleteRequestNamesTheRoot) {
  std::string msg = RootQdiscDeleteRequest(9, 5);
  ASSERT_EQ(msg.size(), NLMSG_SPACE(sizeof(tcmsg)));
  nlmsghdr h;
  std::memcpy(&h, msg.data(), sizeof h);
  EXPECT_EQ(h.nlmsg_type, RTM_DELQDISC);
  tcmsg t;
  std::memcpy(&t, msg.data() + NLMSG_HDRLEN, sizeof t);
  EXPECT_EQ(t.tcm_ifindex, 9);
  EXPECT_EQ(t.tcm_parent, TC_H_ROOT);
}

Result<Impairment> FromJson(const std::string& json) {
  static simdjson::dom::parser parser;
  return ImpairmentFromJson(parser.parse(json).value(), "a_to_b");
}

TEST(ImpairmentTest, JsonWithPreciseErrors) {
  auto ok = FromJson(R"({"delay_ms":20,"jitter_ms":2,"loss_pct":1.5,"rate_kbit":512})");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->delay_ms, 20u);
  EXPECT_EQ(ok->loss_pct, 1.5);
  EXPECT_TRUE(FromJson("{}")->empty());
  struct Case {
    std::string json, field, says;
  } bad[] = {
      {R"({"loss_pct":101})", "a_to_b.loss_pct", "0..100"},
      {R"({"loss_pct":-1})", "a_to_b.loss_pct", "0..100"},
      {R"({"delay_ms":1.5})", "a_to_b.delay_ms", "integer 0..60000"},
      {R"({"delay_ms":60001})", "a_to_b.delay_ms", "0..60000"},
      {R"({"delay_ms":"20ms"})", "a_to_b.delay_ms", "integer"},
      {R"({"rate_kbit":4})", "a_to_b.rate_kbit", "8..10000000"},
      {R"({"jitter_ms":5})", "a_to_b.jitter_ms", "needs a delay"},
      {R"({"reorder_pct":5})", "a_to_b.reorder_pct", "needs a delay"},
      {R"({"latency":5})", "a_to_b.latency", "unknown impairment"},
      {R"([1])", "a_to_b", "must be an object"},
  };
  for (const auto& c : bad) {
    auto r = FromJson(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().field(), c.field) << c.json;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos)
        << c.json << ": " << r.status().message();
  }
}

TEST(ImpairmentTest, TextRoundTripsAndJsonListsWhatIsSet) {
  Impairment imp;
  imp.delay_ms = 20;
  imp.loss_pct = 0.1;
  imp.reorder_pct = 33.3;
  EXPECT_EQ(ImpairmentText(imp), "delay_ms=20,loss_pct=0.1,reorder_pct=33.3");
  auto back = ParseImpairmentText(ImpairmentText(imp));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, imp);
  EXPECT_EQ(ImpairmentText({}), "");
  EXPECT_TRUE(ParseImpairmentText("")->empty());
  EXPECT_FALSE(ParseImpairmentText("delay_ms=x").ok());
  EXPECT_FALSE(ParseImpairmentText("speed=1").ok());
  JsonWriter w;
  WriteImpairmentJson(w, imp);
  EXPECT_EQ(w.str(), R"({"delay_ms":20,"loss_pct":0.1,"reorder_pct":33.3})");
}

}  // namespace
}  // namespace labvirt::engine
