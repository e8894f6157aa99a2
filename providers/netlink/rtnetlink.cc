#include "providers/netlink/rtnetlink.h"

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

namespace labvirt::providers {
namespace {

// Big enough for any single rtnetlink message (the kernel sizes dump messages to a page, or up to
// 32 KiB); a dump answer holds several.
constexpr size_t kRecvBuffer = 64 * 1024;

// The kernel's own words ("Error: …") from an extended ack's attributes, or "".
std::string ExtackMessage(const nlmsghdr& h, size_t len) {
  if (!(h.nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(&h));
  // After the echoed request: only its header when capped, the whole request otherwise.
  const size_t off = NLMSG_HDRLEN + sizeof(nlmsgerr) +
                     ((h.nlmsg_flags & NLM_F_CAPPED) ? 0 : err->msg.nlmsg_len - NLMSG_HDRLEN);
  if (off >= len) return "";
  std::string out;
  NlForEachAttr(std::string_view(reinterpret_cast<const char*>(&h) + off, len - off),
                [&](uint16_t type, std::string_view payload) {
                  if (type == NLMSGERR_ATTR_MSG)
                    out = std::string(payload.data(), strnlen(payload.data(), payload.size()));
                });
  return out;
}

}  // namespace

void NlAlign(std::string& out) { out.append(NLMSG_ALIGN(out.size()) - out.size(), '\0'); }

size_t NlPutAttr(std::string& out, uint16_t type, const void* payload, size_t len) {
  const size_t at = out.size();
  rtattr a{static_cast<unsigned short>(RTA_LENGTH(len)), type};
  NlPut(out, a);
  if (len > 0) out.append(static_cast<const char*>(payload), len);
  NlAlign(out);
  return at;
}

size_t NlPutString(std::string& out, uint16_t type, std::string_view s) {
  std::string z(s);
  return NlPutAttr(out, type, z.c_str(), z.size() + 1);
}

size_t NlBeginNest(std::string& out, uint16_t type) { return NlPutAttr(out, type, nullptr, 0); }

void NlEndNest(std::string& out, size_t nest) {
  const auto len = static_cast<unsigned short>(out.size() - nest);
  std::memcpy(out.data() + nest, &len, sizeof len);  // rta_len is the first member
}

void NlFinish(std::string& msg) {
  const auto len = static_cast<uint32_t>(msg.size());
  std::memcpy(msg.data(), &len, sizeof len);  // nlmsg_len is the first member
}

void NlForEachAttr(std::string_view region,
                   const std::function<void(uint16_t, std::string_view)>& fn) {
  size_t at = 0;
  while (at + sizeof(rtattr) <= region.size()) {
    rtattr a;
    std::memcpy(&a, region.data() + at, sizeof a);
    if (a.rta_len < sizeof a || at + a.rta_len > region.size()) return;
    fn(a.rta_type, region.substr(at + RTA_LENGTH(0), a.rta_len - RTA_LENGTH(0)));
    at += RTA_ALIGN(a.rta_len);
  }
}

Result<RtNetlink> RtNetlink::Open() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return Status::FromErrno(errno, "socket(NETLINK_ROUTE)");
  int on = 1;
  (void)::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on);
  // The kernel answers from within the send; the timeout only bounds a stuck rtnl lock.
  timeval tv{2, 0};
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return RtNetlink(std::move(fd));
}

Result<RtNetlink> RtNetlink::OpenInNetnsOf(int pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) {
    if (errno == ENOENT) return NotFound("no process " + std::to_string(pid) + " (" + path + ")");
    return Status::FromErrno(errno, "open " + path);
  }
  Result<RtNetlink> out = Internal("rtnetlink in " + path + ": thread did not run");
  // setns changes only the calling thread's namespace; this thread is dropped right after.
  std::thread([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      out = Status::FromErrno(errno, "setns " + path);
      return;
    }
    out = Open();
  }).join();
  return out;
}

Status RtNetlink::Send(std::string_view request, std::string_view what) {
  last_errno_ = 0;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0) {
    return Status::FromErrno(errno, std::string(what) + ": rtnetlink send");
  }
  return Status::Ok();
}

Status RtNetlink::Transact(std::string_view request, std::string_view what) {
  return Exchange(request, what, /*dump=*/false, [](const nlmsghdr&) {});
}

Status RtNetlink::Dump(std::string_view request, std::string_view what,
                       const std::function<void(const nlmsghdr&)>& on_message) {
  return Exchange(request, what, /*dump=*/true, on_message);
}

Status RtNetlink::Exchange(std::string_view request, std::string_view what, bool dump,
                           const std::function<void(const nlmsghdr&)>& on_message) {
  LABVIRT_RETURN_IF_ERROR(Send(request, what));
  nlmsghdr req;
  std::memcpy(&req, request.data(), sizeof req);
  const std::string waited = dump ? "rtnetlink dump" : "rtnetlink acknowledgement";
  std::vector<char> buf(kRecvBuffer);
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return Status(StatusCode::kDeadlineExceeded,
                    std::string(what) + ": " + waited + " unfinished after 2 s");
    }
    if (n < 0) return Status::FromErrno(errno, std::string(what) + ": " + waited);
    auto len = static_cast<unsigned>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len);
         h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != req.nlmsg_seq) continue;  // not ours (a late answer)
      if (dump && h->nlmsg_type == NLMSG_DONE) return Status::Ok();
      if (h->nlmsg_type != NLMSG_ERROR) {
        if (dump) on_message(*h);
        continue;  // e.g. an echo; the acknowledgement follows
      }
      const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
      if (err->error == 0) return Status::Ok();
      last_errno_ = -err->error;
      std::string msg = std::string(what) + ": " + std::strerror(last_errno_);
      if (std::string ext = ExtackMessage(*h, h->nlmsg_len); !ext.empty()) msg += ": " + ext;
      // FromErrno for its errno-to-code mapping; the message is ours (with the extack text).
      return Status(Status::FromErrno(last_errno_, what).code(), std::move(msg));
    }
  }
}

}  // namespace labvirt::providers
