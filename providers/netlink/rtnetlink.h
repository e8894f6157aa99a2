// rtnetlink without an `ip` or `tc` process: helpers that build request messages (pure, for tests
// byte by byte) and a blocking NETLINK_ROUTE socket that sends one request and reads its answer.
//
// Blocking: rtnetlink handles a request inside the send and queues the acknowledgement, so the
// wait is the kernel's rtnl lock (bounded by a 2 s receive timeout). Worker threads only, never
// the reactor's loop.
#ifndef LABVIRT_PROVIDERS_NETLINK_RTNETLINK_H_
#define LABVIRT_PROVIDERS_NETLINK_RTNETLINK_H_

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "reactor/base/status.h"
#include "reactor/base/unique_fd.h"

namespace labvirt::providers {

// ---- Message building: a message is a std::string of bytes. ----
// Appends the bytes of `v` (a kernel struct) to `out`.
template <typename T>
void NlPut(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
// Pads `out` to the 4-byte netlink alignment.
void NlAlign(std::string& out);
// Starts a message: an nlmsghdr (length set by NlFinish) followed by the family header `fam`.
template <typename T>
std::string NlBegin(uint16_t type, uint16_t flags, uint32_t seq, const T& fam) {
  std::string out;
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  h.nlmsg_seq = seq;
  NlPut(out, h);
  NlPut(out, fam);
  NlAlign(out);
  return out;
}
// Appends attribute `type` with `len` bytes of `payload`; returns its offset.
size_t NlPutAttr(std::string& out, uint16_t type, const void* payload, size_t len);
// A NUL-terminated string attribute (IFLA_IFNAME, TCA_KIND, ...).
size_t NlPutString(std::string& out, uint16_t type, std::string_view s);
template <typename T>
size_t NlPutValue(std::string& out, uint16_t type, const T& v) {
  return NlPutAttr(out, type, &v, sizeof v);
}
// Opens a nested attribute; close it with NlEndNest(out, returned offset) after its contents.
size_t NlBeginNest(std::string& out, uint16_t type);
void NlEndNest(std::string& out, size_t nest);
// Sets nlmsg_len to the message's size; the message is complete.
void NlFinish(std::string& msg);

// Calls `fn(type, payload)` for each attribute in `region` (stops at a malformed one).
void NlForEachAttr(std::string_view region,
                   const std::function<void(uint16_t, std::string_view)>& fn);

// ---- The socket ----
class RtNetlink {
 public:
  // Opens a NETLINK_ROUTE socket in the calling thread's network namespace, with extended acks
  // and a 2 s receive timeout.
  static Result<RtNetlink> Open();
  // Opens one in the network namespace of process `pid` (a socket stays in the namespace it was
  // created in): a short-lived thread joins the namespace, creates the socket and ends, so no
  // thread of labvirt stays in a foreign namespace. NotFound if `pid` is gone.
  static Result<RtNetlink> OpenInNetnsOf(int pid);

  // A sequence number for the next request (unique within this socket).
  uint32_t NextSeq() { return ++seq_; }

  // Sends `request` (built with NLM_F_ACK) and waits for its acknowledgement. The kernel's error
  // as Status::FromErrno(-error, "<what>: <strerror>[: <extack message>]"); DeadlineExceeded if
  // no answer within the timeout.
  Status Transact(std::string_view request, std::string_view what);
  // The kernel's errno (positive) of the last failed Transact, 0 if it was not the kernel's.
  int last_errno() const { return last_errno_; }

  // Sends a dump request (NLM_F_DUMP) and calls `on_message` for each answer until NLMSG_DONE.
  Status Dump(std::string_view request, std::string_view what,
              const std::function<void(const nlmsghdr&)>& on_message);

 private:
  explicit RtNetlink(UniqueFd fd) : fd_(std::move(fd)) {}
  Status Send(std::string_view request, std::string_view what);
  // Sends `request`, then reads the answers to it until one ends the exchange: an error message
  // (the acknowledgement; 0 is success), or NLMSG_DONE when `dump`. Other answers go to
  // `on_message`.
  Status Exchange(std::string_view request, std::string_view what, bool dump,
                  const std::function<void(const nlmsghdr&)>& on_message);

  UniqueFd fd_;
  uint32_t seq_ = 0;
  int last_errno_ = 0;
};

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_NETLINK_RTNETLINK_H_
