#include "providers/netlink/veth.h"

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "providers/netlink/rtnetlink.h"

namespace labvirt::providers {
namespace {

Status ValidateName(const std::string& name, const char* field) {
  // IFNAMSIZ includes the NUL: 15 characters; dev_valid_name refuses '/', ':' and blanks.
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") {
    return InvalidField(
        field, std::string(field) + " '" + name + "' must be 1 to 15 characters long (IFNAMSIZ)");
  }
  for (char c : name) {
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n') {
      return InvalidField(field, std::string(field) + " '" + name + "' holds '/', ':' or a blank");
    }
  }
  return Status::Ok();
}

ifinfomsg Link(bool up) {
  ifinfomsg i{};
  i.ifi_family = AF_UNSPEC;
  i.ifi_flags = up ? IFF_UP : 0;
  i.ifi_change = up ? IFF_UP : 0;
  return i;
}

Status BringUpInNetns(int pid, const std::string& name) {
  const std::string what = "bring up " + name + " in the netns of pid " + std::to_string(pid);
  auto nl = RtNetlink::OpenInNetnsOf(pid);
  if (!nl.ok()) return nl.status().WithContext(what);
  return nl->Transact(LinkUpRequest(name, nl->NextSeq()), what);
}

}  // namespace

std::optional<std::array<uint8_t, 6>> ParseMac(const std::string& mac) {
  std::array<unsigned, 6> v{};
  char tail = 0;
  if (mac.size() != 17 || std::sscanf(mac.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2],
                                      &v[3], &v[4], &v[5], &tail) != 6) {
    return std::nullopt;
  }
  std::array<uint8_t, 6> out{};
  for (size_t i = 0; i < 6; ++i) out[i] = static_cast<uint8_t>(v[i]);
  return out;
}

Status ValidateVethSpec(const VethSpec& spec) {
  LABVIRT_RETURN_IF_ERROR(ValidateName(spec.host_name, "host_name"));
  LABVIRT_RETURN_IF_ERROR(ValidateName(spec.guest_name, "guest_name"));
  if (!spec.guest_mac.empty() && !ParseMac(spec.guest_mac)) {
    return InvalidField("guest_mac", "guest_mac '" + spec.guest_mac + "' is not a MAC address");
  }
  if (spec.netns_pid <= 0) return InvalidField("netns_pid", "netns_pid must be a process id");
  if (spec.mtu < 0) return InvalidField("mtu", "mtu must not be negative");
  return Status::Ok();
}

std::string VethCreateRequest(const VethSpec& spec, uint32_t seq) {
  std::string msg =
      NlBegin(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, Link(true));
  NlPutString(msg, IFLA_IFNAME, spec.host_name);
  if (spec.mtu > 0) NlPutValue(msg, IFLA_MTU, static_cast<uint32_t>(spec.mtu));
  const size_t linkinfo = NlBeginNest(msg, IFLA_LINKINFO);
  NlPutString(msg, IFLA_INFO_KIND, "veth");
  const size_t data = NlBeginNest(msg, IFLA_INFO_DATA);
  // VETH_INFO_PEER is not a plain nest: the peer's ifinfomsg first, then its attributes, which
  // veth_newlink reads like a link of its own (name, address, netns, MTU). Down: see the header.
  const size_t peer = NlBeginNest(msg, VETH_INFO_PEER);
  NlPut(msg, Link(false));
  NlPutString(msg, IFLA_IFNAME, spec.guest_name);
  if (auto mac = ParseMac(spec.guest_mac)) NlPutAttr(msg, IFLA_ADDRESS, mac->data(), mac->size());
  if (spec.mtu > 0) NlPutValue(msg, IFLA_MTU, static_cast<uint32_t>(spec.mtu));
  NlPutValue(msg, IFLA_NET_NS_PID, static_cast<uint32_t>(spec.netns_pid));
  NlEndNest(msg, peer);
  NlEndNest(msg, data);
  NlEndNest(msg, linkinfo);
  NlFinish(msg);
  return msg;
}

std::string LinkUpRequest(const std::string& name, uint32_t seq) {
  std::string msg = NlBegin(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, Link(true));
  NlPutString(msg, IFLA_IFNAME, name);
  NlFinish(msg);
  return msg;
}

std::string LinkDeleteRequest(const std::string& name, uint32_t seq) {
  ifinfomsg i{};
  i.ifi_family = AF_UNSPEC;
  std::string msg = NlBegin(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, seq, i);
  NlPutString(msg, IFLA_IFNAME, name);
  NlFinish(msg);
  return msg;
}

Status CreateVeth(const VethSpec& spec) {
  LABVIRT_RETURN_IF_ERROR(ValidateVethSpec(spec));
  const std::string what = "create veth " + spec.host_name + " (peer " + spec.guest_name +
                           " in the netns of pid " + std::to_string(spec.netns_pid) + ")";
  auto nl = RtNetlink::Open();
  if (!nl.ok()) return nl.status().WithContext(what);
  Status s = nl->Transact(VethCreateRequest(spec, nl->NextSeq()), what);
  if (s.ok()) {
    s = BringUpInNetns(spec.netns_pid, spec.guest_name);
    if (s.ok()) return s;
    // A half-made pair would hold the host name; the peer goes with it.
    (void)nl->Transact(LinkDeleteRequest(spec.host_name, nl->NextSeq()), "undo " + what);
    return s.WithContext(what);
  }
  switch (nl->last_errno()) {
    case EEXIST:
      // One of the two names is taken; the kernel does not say which.
      if (::if_nametoindex(spec.host_name.c_str()) != 0) {
        return Status(StatusCode::kAlreadyExists,
                      what + ": host link " + spec.host_name + " exists already");
      }
      return Status(StatusCode::kAlreadyExists,
                    what + ": " + spec.guest_name + " exists already in the namespace");
    case ESRCH:
      return NotFound(what + ": no process " + std::to_string(spec.netns_pid) +
                      " (the container is gone)");
    default:
      return s;
  }
}

Status DeleteLink(const std::string& name) {
  LABVIRT_RETURN_IF_ERROR(ValidateName(name, "name"));
  auto nl = RtNetlink::Open();
  if (!nl.ok()) return nl.status().WithContext("delete link " + name);
  Status s = nl->Transact(LinkDeleteRequest(name, nl->NextSeq()), "delete link " + name);
  if (!s.ok() && nl->last_errno() == ENODEV) return Status::Ok();  // gone already
  return s;
}

Result<std::vector<std::string>> ListLinks(const std::string& prefix) {
  auto nl = RtNetlink::Open();
  if (!nl.ok()) return nl.status().WithContext("list links");
  ifinfomsg i{};
  i.ifi_family = AF_UNSPEC;
  std::string req = NlBegin(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, nl->NextSeq(), i);
  NlFinish(req);
  std::vector<std::string> names;
  Status s = nl->Dump(req, "list links", [&](const nlmsghdr& h) {
    if (h.nlmsg_type != RTM_NEWLINK || h.nlmsg_len < NLMSG_SPACE(sizeof(ifinfomsg))) return;
    const char* base = reinterpret_cast<const char*>(&h);
    const size_t off = NLMSG_SPACE(sizeof(ifinfomsg));
    NlForEachAttr(std::string_view(base + off, h.nlmsg_len - off),
                  [&](uint16_t type, std::string_view payload) {
                    if (type != IFLA_IFNAME) return;
                    std::string name(payload.data(), strnlen(payload.data(), payload.size()));
                    if (name.starts_with(prefix)) names.push_back(std::move(name));
                  });
  });
  if (!s.ok()) return s;
  return names;
}

}  // namespace labvirt::providers
