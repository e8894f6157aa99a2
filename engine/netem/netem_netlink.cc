#include "engine/netem/netem_netlink.h"

#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "reactor/base/unique_fd.h"

namespace labvirt::engine {
namespace {

template <typename T>
void Put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void Align(std::string& out) { out.append(NLMSG_ALIGN(out.size()) - out.size(), '\0'); }

// Appends attribute `type` with `payload`; returns its offset (for nested lengths).
size_t PutAttr(std::string& out, uint16_t type, const void* payload, size_t len) {
  const size_t at = out.size();
  rtattr a{static_cast<unsigned short>(RTA_LENGTH(len)), type};
  Put(out, a);
  out.append(static_cast<const char*>(payload), len);
  Align(out);
  return at;
}

// A percentage as netem's 32-bit probability (tc scales the same way).
uint32_t Probability(double pct) {
  return static_cast<uint32_t>(std::llround(pct / 100.0 * static_cast<double>(UINT32_MAX)));
}

std::string Header(uint16_t type, uint16_t flags, uint32_t seq, int ifindex) {
  std::string out;
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  h.nlmsg_seq = seq;
  Put(out, h);
  tcmsg t{};
  t.tcm_family = AF_UNSPEC;
  t.tcm_ifindex = ifindex;
  t.tcm_parent = TC_H_ROOT;
  Put(out, t);
  return out;
}

void SetLength(std::string& msg) {
  const auto len = static_cast<uint32_t>(msg.size());
  std::memcpy(msg.data(), &len, sizeof len);  // nlmsg_len is the first member
}

}  // namespace

std::string NetemReplaceRequest(int ifindex, const Impairment& imp, uint32_t seq) {
  std::string msg =
      Header(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, seq, ifindex);
  PutAttr(msg, TCA_KIND, "netem", 6);
  // TCA_OPTIONS of netem is not a plain nest: struct tc_netem_qopt first, then the attributes.
  std::string opts;
  tc_netem_qopt q{};
  q.limit = kNetemLimit;
  q.loss = Probability(imp.loss_pct);
  q.duplicate = Probability(imp.duplicate_pct);
  q.gap = imp.reorder_pct > 0 ? 1 : 0;  // every frame may be reordered (tc's default)
  Put(opts, q);
  Align(opts);
  // Delay and jitter in nanoseconds (4.15+): no conversion through the kernel's tick rate.
  const int64_t latency = int64_t{imp.delay_ms} * 1'000'000;
  const int64_t jitter = int64_t{imp.jitter_ms} * 1'000'000;
  PutAttr(opts, TCA_NETEM_LATENCY64, &latency, sizeof latency);
  PutAttr(opts, TCA_NETEM_JITTER64, &jitter, sizeof jitter);
  if (imp.reorder_pct > 0) {
    tc_netem_reorder r{Probability(imp.reorder_pct), 0};
    PutAttr(opts, TCA_NETEM_REORDER, &r, sizeof r);
  }
  if (imp.corrupt_pct > 0) {
    tc_netem_corrupt c{Probability(imp.corrupt_pct), 0};
    PutAttr(opts, TCA_NETEM_CORRUPT, &c, sizeof c);
  }
  if (imp.rate_kbit > 0) {
    tc_netem_rate r{};
    r.rate = static_cast<uint32_t>(imp.rate_kbit * 1000 / 8);  // bytes/s; 10 Gbit/s fits
    PutAttr(opts, TCA_NETEM_RATE, &r, sizeof r);
  }
  PutAttr(msg, TCA_OPTIONS, opts.data(), opts.size());
  SetLength(msg);
  return msg;
}

std::string RootQdiscDeleteRequest(int ifindex, uint32_t seq) {
  std::string msg = Header(RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK, seq, ifindex);
  SetLength(msg);
  return msg;
}

Status ApplyNetem(const std::string& ifname, const Impairment& imp) {
  const int index = static_cast<int>(::if_nametoindex(ifname.c_str()));
  if (index == 0) return NotFound("no network interface " + ifname);
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return Status::FromErrno(errno, "socket(NETLINK_ROUTE)");
  int on = 1;
  (void)::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on);
  timeval tv{2, 0};
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  static uint32_t seq = 1;
  const uint32_t my_seq = seq++;
  const std::string req =
      imp.empty() ? RootQdiscDeleteRequest(index, my_seq) : NetemReplaceRequest(index, imp, my_seq);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0) {
    return Status::FromErrno(errno, "rtnetlink send");
  }
  char buf[8192];
  const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
  if (n < 0) return Status::FromErrno(errno, "rtnetlink acknowledgement");
  auto* h = reinterpret_cast<nlmsghdr*>(buf);
  if (!NLMSG_OK(h, static_cast<unsigned>(n)) || h->nlmsg_type != NLMSG_ERROR) {
    return Internal("rtnetlink: unexpected answer");
  }
  const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
  if (err->error == 0) return Status::Ok();
  // Deleting the root qdisc where only the device's default is: nothing of labvirt's is there.
  if (imp.empty() && err->error == -ENOENT) return Status::Ok();
  std::string what = std::strerror(-err->error);
  // Extended ack: the kernel's own words ("Error: …"), after the echoed request header.
  if (h->nlmsg_flags & NLM_F_ACK_TLVS) {
    const size_t off = NLMSG_HDRLEN + sizeof(nlmsgerr) +
                       ((h->nlmsg_flags & NLM_F_CAPPED) ? 0 : err->msg.nlmsg_len - NLMSG_HDRLEN);
    for (size_t at = off; at + sizeof(nlattr) <= h->nlmsg_len;) {
      nlattr a;
      std::memcpy(&a, buf + at, sizeof a);
      if (a.nla_len < sizeof a) break;
      if (a.nla_type == NLMSGERR_ATTR_MSG) what += ": " + std::string(buf + at + sizeof a);
      at += NLA_ALIGN(a.nla_len);
    }
  }
  return Internal("netem on " + ifname + ": " + what);
}

}  // namespace labvirt::engine
