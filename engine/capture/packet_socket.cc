#include "engine/capture/packet_socket.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <time.h>

#include <cerrno>
#include <cstring>

namespace labvirt::engine {
namespace {

// Room for SCM_TIMESTAMPNS and PACKET_AUXDATA, the two control messages asked for.
constexpr size_t kControlBytes =
    CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(tpacket_auxdata)) + 64;

uint64_t NowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

Result<UniqueFd> OpenPacketSocket(const std::string& ifname, const std::vector<sock_filter>& filter,
                                  int rcvbuf_bytes) {
  const unsigned index = ::if_nametoindex(ifname.c_str());
  if (index == 0) return NotFound("no network interface " + ifname + " on this host");
  // Protocol 0: the socket receives nothing until bind() names ETH_P_ALL, after the filter is on.
  UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return Status::FromErrno(errno, "socket(AF_PACKET)");
  if (!filter.empty()) {
    sock_fprog prog{static_cast<unsigned short>(filter.size()),
                    const_cast<sock_filter*>(filter.data())};
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
      return Status::FromErrno(errno, "SO_ATTACH_FILTER");
    }
  }
  int on = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0 ||
      ::setsockopt(fd.get(), SOL_PACKET, PACKET_AUXDATA, &on, sizeof on) < 0) {
    return Status::FromErrno(errno, "packet socket options");
  }
  // SO_RCVBUFFORCE passes rmem_max (root); SO_RCVBUF is the capped fallback.
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf_bytes, sizeof rcvbuf_bytes) < 0) {
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof rcvbuf_bytes);
  }
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = static_cast<int>(index);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    if (errno == ENODEV) return NotFound("network interface " + ifname + " went away");
    return Status::FromErrno(errno, "bind packet socket to " + ifname);
  }
  return fd;
}

Result<PacketCounters> ReadCounters(int fd) {
  tpacket_stats st{};
  socklen_t len = sizeof st;
  if (::getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0) {
    return Status::FromErrno(errno, "PACKET_STATISTICS");
  }
  // The kernel's tp_packets already includes the drops.
  return PacketCounters{st.tp_packets, st.tp_drops};
}

PacketBatch::PacketBatch(uint32_t snaplen, size_t batch)
    : snaplen_(snaplen),
      data_(static_cast<size_t>(snaplen) * batch),
      control_(kControlBytes * batch),
      iov_(batch),
      msgs_(batch),
      names_(batch) {
  frames_.reserve(batch);
}

Result<size_t> PacketBatch::Read(int fd) {
  frames_.clear();
  for (size_t i = 0; i < msgs_.size(); ++i) {
    iov_[i] = {data_.data() + i * snaplen_, snaplen_};
    msgs_[i] = {};
    msgs_[i].msg_hdr.msg_iov = &iov_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
    msgs_[i].msg_hdr.msg_name = &names_[i];
    msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_ll);
    msgs_[i].msg_hdr.msg_control = control_.data() + i * kControlBytes;
    msgs_[i].msg_hdr.msg_controllen = kControlBytes;
  }
  const int n =
      ::recvmmsg(fd, msgs_.data(), static_cast<unsigned>(msgs_.size()), MSG_DONTWAIT, nullptr);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return Status::FromErrno(errno, "recvmmsg on packet socket");
  }
  for (int i = 0; i < n; ++i) {
    msghdr& h = msgs_[i].msg_hdr;
    const size_t kept = std::min<size_t>(msgs_[i].msg_len, snaplen_);
    CapturedFrame f;
    f.data = {data_.data() + static_cast<size_t>(i) * snaplen_, kept};
    f.original_length = static_cast<uint32_t>(kept);
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts;
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        f.timestamp_ns =
            static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
      } else if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
        tpacket_auxdata aux;
        std::memcpy(&aux, CMSG_DATA(c), sizeof aux);
        f.original_length = aux.tp_len;  // before the filter and snaplen cut it
      }
    }
    if (f.timestamp_ns == 0) f.timestamp_ns = NowNs();
    f.outgoing = names_[i].sll_pkttype == PACKET_OUTGOING;
    frames_.push_back(f);
  }
  return static_cast<size_t>(n);
}

}  // namespace labvirt::engine
