#include "providers/netlink/addresses.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "providers/netlink/rtnetlink.h"
#include "providers/netlink/veth.h"

namespace labvirt::providers {
namespace {

std::string AddressMessage(uint16_t type, uint16_t flags, int ifindex, const IpPrefix& p,
                           uint32_t seq) {
  ifaddrmsg ifa{};
  ifa.ifa_family = static_cast<uint8_t>(p.family);
  ifa.ifa_prefixlen = static_cast<uint8_t>(p.length);
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = static_cast<uint32_t>(ifindex);
  // The management gateway must answer at once: with DAD a fresh IPv6 address stays "tentative"
  // (unusable as a source, and the DHCP/RA server binding to it fails) for about a second, and
  // on a segment labvirt allocated no other host can hold the address, so the probe buys nothing.
  if (type == RTM_NEWADDR && p.family == AF_INET6) ifa.ifa_flags = IFA_F_NODAD;
  std::string msg = NlBegin(type, flags, seq, ifa);
  NlPutAttr(msg, IFA_LOCAL, p.bytes.data(), AddressBytes(p.family));
  NlPutAttr(msg, IFA_ADDRESS, p.bytes.data(), AddressBytes(p.family));
  NlFinish(msg);
  return msg;
}

Result<std::vector<InterfaceAddress>> ListAddresses(RtNetlink& nl, int ifindex,
                                                    const std::string& what) {
  std::vector<InterfaceAddress> out;
  Status s = nl.Dump(DumpAddressesRequest(nl.NextSeq()), what, [&](const nlmsghdr& h) {
    auto a = ParseAddressMessage(h, h.nlmsg_len);
    if (a && a->ifindex == ifindex) out.push_back(*a);
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace

std::string AddAddressRequest(int ifindex, const IpPrefix& p, uint32_t seq) {
  return AddressMessage(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
                        ifindex, p, seq);
}

std::string DeleteAddressRequest(int ifindex, const IpPrefix& p, uint32_t seq) {
  return AddressMessage(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, ifindex, p, seq);
}

std::string DumpAddressesRequest(uint32_t seq) {
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_UNSPEC;
  std::string msg = NlBegin(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, ifa);
  NlFinish(msg);
  return msg;
}

std::optional<InterfaceAddress> ParseAddressMessage(const nlmsghdr& h, size_t len) {
  if (h.nlmsg_type != RTM_NEWADDR || len < NLMSG_SPACE(sizeof(ifaddrmsg)) || h.nlmsg_len > len) {
    return std::nullopt;
  }
  ifaddrmsg ifa;
  std::memcpy(&ifa, NLMSG_DATA(&h), sizeof ifa);
  if (ifa.ifa_family != AF_INET && ifa.ifa_family != AF_INET6) return std::nullopt;
  InterfaceAddress out;
  out.ifindex = static_cast<int>(ifa.ifa_index);
  out.scope = ifa.ifa_scope;
  out.prefix.family = ifa.ifa_family;
  out.prefix.length = ifa.ifa_prefixlen;
  bool local = false, address = false;
  const char* base = reinterpret_cast<const char*>(&h);
  const size_t off = NLMSG_SPACE(sizeof(ifaddrmsg));
  NlForEachAttr(std::string_view(base + off, h.nlmsg_len - off),
                [&](uint16_t type, std::string_view payload) {
                  if ((type != IFA_LOCAL && type != IFA_ADDRESS) || local) return;
                  if (payload.size() != AddressBytes(out.prefix.family)) return;
                  std::memcpy(out.prefix.bytes.data(), payload.data(), payload.size());
                  (type == IFA_LOCAL ? local : address) = true;
                });
  if (!local && !address) return std::nullopt;
  return out;
}

Result<int> WaitForLink(const std::string& ifname, reactor::Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (unsigned index = ::if_nametoindex(ifname.c_str()); index != 0) {
      return static_cast<int>(index);
    }
    if (errno != ENODEV && errno != ENXIO) {
      return Status::FromErrno(errno, "look up link " + ifname);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
      return Status(StatusCode::kDeadlineExceeded,
                    "link " + ifname + " did not appear within " + std::to_string(ms) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

Status SetLinkUp(const std::string& ifname) {
  const std::string what = "bring up link " + ifname;
  auto nl = RtNetlink::Open();
  if (!nl.ok()) return nl.status().WithContext(what);
  Status s = nl->Transact(LinkUpRequest(ifname, nl->NextSeq()), what);
  if (!s.ok() && nl->last_errno() == ENODEV) return NotFound(what + ": no such link");
  return s;
}

Status SetAddresses(const std::string& ifname, const std::vector<std::string>& cidrs) {
  std::vector<IpPrefix> wanted;
  for (const std::string& c : cidrs) {
    auto p = ParseInterfaceAddress(c);
    if (!p.ok()) return p.status();
    wanted.push_back(*p);
  }
  const std::string what = "set the addresses of " + ifname;
  const unsigned index = ::if_nametoindex(ifname.c_str());
  if (index == 0) return NotFound(what + ": no such link");
  auto nl = RtNetlink::Open();
  if (!nl.ok()) return nl.status().WithContext(what);
  auto have = ListAddresses(*nl, static_cast<int>(index), what);
  if (!have.ok()) return have.status();
  for (const InterfaceAddress& a : *have) {
    if (a.scope != RT_SCOPE_UNIVERSE) continue;
    if (std::find(wanted.begin(), wanted.end(), a.prefix) != wanted.end()) continue;
    LABVIRT_RETURN_IF_ERROR(nl->Transact(DeleteAddressRequest(a.ifindex, a.prefix, nl->NextSeq()),
                                         what + ": remove " + FormatPrefix(a.prefix)));
  }
  // Every wanted address is sent, held or not: deleting a primary IPv4 address can take its
  // secondaries with it, and NLM_F_REPLACE makes re-adding one it still has harmless.
  for (const IpPrefix& p : wanted) {
    LABVIRT_RETURN_IF_ERROR(
        nl->Transact(AddAddressRequest(static_cast<int>(index), p, nl->NextSeq()),
                     what + ": add " + FormatPrefix(p)));
  }
  return Status::Ok();
}

}  // namespace labvirt::providers
