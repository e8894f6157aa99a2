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
// RTM_DELQDISC of the root qdisc of `ifindex` (back to the device's default).
std::string RootQdiscDeleteRequest(int ifindex, uint32_t seq);

// Applies `imp` to the root of interface `ifname` (an empty impairment deletes labvirt's qdisc;
// deleting where there is none succeeds). Blocking: rtnetlink handles the request inside the send
// and queues the acknowledgement, so the wait is the kernel's rtnl lock (bounded by a 2 s receive
// timeout) — worker threads only (labvirtd: OvsPlumber::SetImpairment). NotFound for an unknown
// interface; the kernel's error (and its extended-ack message) otherwise.
Status ApplyNetem(const std::string& ifname, const Impairment& imp);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_NETEM_NETEM_NETLINK_H_
