// netem qdiscs through rtnetlink, without a `tc` process: the request messages (pure, tested byte
// by byte), sent on the blocking socket of providers/netlink/rtnetlink.h.
//
// A netem qdisc on a tap's root shapes the frames *leaving the host through that tap*, i.e. the
// frames its node receives. With OVS's userspace datapath a frame from node A to node B leaves
// through B's tap (ovs-vswitchd sends it with a packet socket, which goes through the qdisc), so
// a link's a_to_b impairment sits on B's tap and b_to_a on A's.
#ifndef LABVIRT_ENGINE_NETEM_NETEM_NETLINK_H_
#define LABVIRT_ENGINE_NETEM_NETEM_NETLINK_H_

#include <cstdint>
#include <string>

#include "engine/netem/impairment.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

// Packet queue of the netem qdisc: with a delay, frames wait in it (10000 frames hold 100 ms of
// ~100k frames/s, more than a userspace-datapath tap carries).
inline constexpr uint32_t kNetemLimit = 10000;

// RTM_NEWQDISC (create or replace) of a root netem qdisc on interface `ifindex` doing `imp`.
std::string NetemReplaceRequest(int ifindex, const Impairment& imp, uint32_t seq);
// A rate limit alone is a token bucket (TBF), not netem: every kernel has TBF (this project's CI
// kernel has no netem), and TBF is the kernel's own rate shaper. True for an impairment whose
// only member is rate_kbit.
bool RateOnly(const Impairment& imp);
// RTM_NEWQDISC (create or replace) of a root TBF qdisc on `ifindex` limiting to imp.rate_kbit:
// a burst of 10 ms at the rate (at least 3000 bytes, two full frames) and a queue of 100 ms at
// the rate plus the burst (at least 16 KiB), as `tc … tbf rate R burst B latency 100ms` would.
std::string TbfReplaceRequest(int ifindex, const Impairment& imp, uint32_t seq);
// RTM_DELQDISC of the root qdisc of `ifindex` (back to the device's default).
std::string RootQdiscDeleteRequest(int ifindex, uint32_t seq);

// Applies `imp` to the root of interface `ifname`: TBF when it is RateOnly, else netem (an empty
// impairment deletes labvirt's qdisc; deleting where there is none succeeds). Blocking: rtnetlink
// handles the request inside the send and queues the acknowledgement, so the wait is the kernel's
// rtnl lock (bounded by a 2 s receive timeout) — worker threads only (labvirtd:
// OvsPlumber::SetImpairment). NotFound for an unknown interface; the kernel's error (and its
// extended-ack message) otherwise.
Status ApplyNetem(const std::string& ifname, const Impairment& imp);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_NETEM_NETEM_NETLINK_H_
