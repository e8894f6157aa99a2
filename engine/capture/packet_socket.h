// The kernel side of a capture: an AF_PACKET socket on one network interface (a NIC's host-side
// tap), with a BPF program attached, and batched non-blocking reads of what it received.
//
// The socket sees both directions: frames the host sends into the interface (PACKET_OUTGOING:
// for a tap, what the node receives) and frames the interface hands to the host (what the node
// sends). The kernel copies frames to it beside the datapath; a full socket queue drops frames
// for this socket only (counted: Drops()) and never slows the interface.
#ifndef LABVIRT_ENGINE_CAPTURE_PACKET_SOCKET_H_
#define LABVIRT_ENGINE_CAPTURE_PACKET_SOCKET_H_

#include <linux/filter.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reactor/base/status.h"
#include "reactor/base/unique_fd.h"

namespace labvirt::engine {

// Opens a non-blocking AF_PACKET socket receiving every frame of interface `ifname` that
// `filter` accepts (the filter is attached before the socket is bound, so no unfiltered frame
// slips in), with nanosecond timestamps and the original length of truncated frames.
// `rcvbuf_bytes` sizes the kernel queue. NotFound when the interface does not exist.
Result<UniqueFd> OpenPacketSocket(const std::string& ifname, const std::vector<sock_filter>& filter,
                                  int rcvbuf_bytes);

struct CapturedFrame {
  uint64_t timestamp_ns = 0;
  std::span<const char> data;    // what was kept (at most the snap length)
  uint32_t original_length = 0;  // the frame's length on the wire
  bool outgoing = false;         // sent by the host into the interface (PACKET_OUTGOING)
};

// Kernel counters since the last call (reading them resets them): frames that passed the
// filter (drops included) and frames dropped because the socket queue was full.
struct PacketCounters {
  uint64_t accepted = 0;
  uint64_t dropped = 0;
};
Result<PacketCounters> ReadCounters(int fd);

// Reads up to `batch` frames per call with one recvmmsg. Owns its buffers; the spans of
// frames() are valid until the next Read(). Not thread-safe.
class PacketBatch {
 public:
  // `snaplen`: the largest frame part kept; `batch`: frames per Read().
  PacketBatch(uint32_t snaplen, size_t batch);
  // Reads what is queued on `fd` without waiting: 0 frames when none (EAGAIN). Errors are the
  // socket's (ENETDOWN once the interface went away).
  Result<size_t> Read(int fd);
  const std::vector<CapturedFrame>& frames() const { return frames_; }

 private:
  uint32_t snaplen_;
  std::vector<char> data_;     // batch * snaplen
  std::vector<char> control_;  // batch * kControlBytes
  std::vector<iovec> iov_;
  std::vector<mmsghdr> msgs_;
  std::vector<sockaddr_ll> names_;  // sll_pkttype says the direction
  std::vector<CapturedFrame> frames_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CAPTURE_PACKET_SOCKET_H_
