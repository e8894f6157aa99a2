#include "engine/netem/netem_netlink.h"

#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>

#include "providers/netlink/rtnetlink.h"

namespace labvirt::engine {
namespace {

using providers::NlAlign;
using providers::NlFinish;
using providers::NlPut;
using providers::NlPutAttr;

// A percentage as netem's 32-bit probability (tc scales the same way).
uint32_t Probability(double pct) {
  return static_cast<uint32_t>(std::llround(pct / 100.0 * static_cast<double>(UINT32_MAX)));
}

std::string Header(uint16_t type, uint16_t flags, uint32_t seq, int ifindex) {
  tcmsg t{};
  t.tcm_family = AF_UNSPEC;
  t.tcm_ifindex = ifindex;
  t.tcm_parent = TC_H_ROOT;
  return providers::NlBegin(type, flags, seq, t);
}

}  // namespace

std::string NetemReplaceRequest(int ifindex, const Impairment& imp, uint32_t seq) {
  std::string msg =
      Header(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, seq, ifindex);
  NlPutAttr(msg, TCA_KIND, "netem", 6);
  // TCA_OPTIONS of netem is not a plain nest: struct tc_netem_qopt first, then the attributes.
  std::string opts;
  tc_netem_qopt q{};
  q.limit = kNetemLimit;
  q.loss = Probability(imp.loss_pct);
  q.duplicate = Probability(imp.duplicate_pct);
  q.gap = imp.reorder_pct > 0 ? 1 : 0;  // every frame may be reordered (tc's default)
  NlPut(opts, q);
  NlAlign(opts);
  // Delay and jitter in nanoseconds (4.15+): no conversion through the kernel's tick rate.
  const int64_t latency = int64_t{imp.delay_ms} * 1'000'000;
  const int64_t jitter = int64_t{imp.jitter_ms} * 1'000'000;
  NlPutAttr(opts, TCA_NETEM_LATENCY64, &latency, sizeof latency);
  NlPutAttr(opts, TCA_NETEM_JITTER64, &jitter, sizeof jitter);
  if (imp.reorder_pct > 0) {
    tc_netem_reorder r{Probability(imp.reorder_pct), 0};
    NlPutAttr(opts, TCA_NETEM_REORDER, &r, sizeof r);
  }
  if (imp.corrupt_pct > 0) {
    tc_netem_corrupt c{Probability(imp.corrupt_pct), 0};
    NlPutAttr(opts, TCA_NETEM_CORRUPT, &c, sizeof c);
  }
  if (imp.rate_kbit > 0) {
    tc_netem_rate r{};
    r.rate = static_cast<uint32_t>(imp.rate_kbit * 1000 / 8);  // bytes/s; 10 Gbit/s fits
    NlPutAttr(opts, TCA_NETEM_RATE, &r, sizeof r);
  }
  NlPutAttr(msg, TCA_OPTIONS, opts.data(), opts.size());
  NlFinish(msg);
  return msg;
}

bool RateOnly(const Impairment& imp) {
  Impairment rate;
  rate.rate_kbit = imp.rate_kbit;
  return imp.rate_kbit > 0 && imp == rate;
}

std::string TbfReplaceRequest(int ifindex, const Impairment& imp, uint32_t seq) {
  std::string msg =
      Header(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, seq, ifindex);
  NlPutAttr(msg, TCA_KIND, "tbf", 4);
  const uint64_t bytes_per_s = imp.rate_kbit * 1000 / 8;  // 10 Gbit/s is 1.25e9: fits 32 bits
  const uint32_t burst = static_cast<uint32_t>(std::max<uint64_t>(3000, bytes_per_s / 100));
  tc_tbf_qopt q{};
  q.rate.rate = static_cast<uint32_t>(bytes_per_s);
  // An Ethernet link layer: the kernel computes transmission times itself, no rate table.
  q.rate.linklayer = TC_LINKLAYER_ETHERNET;
  q.limit = static_cast<uint32_t>(std::max<uint64_t>(16384, bytes_per_s / 10 + burst));
  // TCA_TBF_BURST (3.13+) gives the bucket in bytes, so `buffer` (in scheduler ticks) is unused.
  std::string opts;
  NlPutAttr(opts, TCA_TBF_PARMS, &q, sizeof q);
  NlPutAttr(opts, TCA_TBF_BURST, &burst, sizeof burst);
  NlPutAttr(msg, TCA_OPTIONS, opts.data(), opts.size());
  NlFinish(msg);
  return msg;
}

std::string RootQdiscDeleteRequest(int ifindex, uint32_t seq) {
  std::string msg = Header(RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK, seq, ifindex);
  NlFinish(msg);
  return msg;
}

Status ApplyNetem(const std::string& ifname, const Impairment& imp) {
  const int index = static_cast<int>(::if_nametoindex(ifname.c_str()));
  if (index == 0) return NotFound("no network interface " + ifname);
  auto nl = providers::RtNetlink::Open();
  if (!nl.ok()) return nl.status();
  const uint32_t seq = nl->NextSeq();
  const std::string req = imp.empty()     ? RootQdiscDeleteRequest(index, seq)
                          : RateOnly(imp) ? TbfReplaceRequest(index, imp, seq)
                                          : NetemReplaceRequest(index, imp, seq);
  Status s = nl->Transact(req, (RateOnly(imp) ? "tbf on " : "netem on ") + ifname);
  // Deleting the root qdisc where only the device's default is: nothing of labvirt's is there.
  if (!s.ok() && imp.empty() && nl->last_errno() == ENOENT) return Status::Ok();
  return s;
}

}  // namespace labvirt::engine
