// CaptureSession: one live capture of one host network interface (a NIC's tap), streamed as
// pcapng to one client socket: section header and interface description first, one enhanced
// packet block per frame, and an interface statistics block (kernel drops, frames delivered,
// and why the capture ended in its comment) last. Then the socket is closed.
//
// Frames come from its own AF_PACKET socket (engine/capture/packet_socket.h), read on the reactor
// when it is readable, in batches. Several sessions on one interface are independent sockets.
//
// Never blocks anything: a client whose queue of unsent pcapng bytes would exceed
// max_queue_bytes is cut off — the queued frames are dropped, the statistics block says "reader
// fell behind" and the socket closes once that is sent (or after close_grace). A client that
// hangs up ends the session at once.
//
// Directions are the node's: a frame the host sends into the tap (PACKET_OUTGOING) is one the
// node receives (pcapng inbound), a frame the tap hands to the host is one the node sent.
//
// Owns its packet socket and client socket; does not own the reactor (must outlive it). Loop
// thread only. The end callback may destroy the session only through Reactor::DeferDelete.
#ifndef LABVIRT_ENGINE_CAPTURE_CAPTURE_SESSION_H_
#define LABVIRT_ENGINE_CAPTURE_CAPTURE_SESSION_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "engine/capture/packet_socket.h"
#include "reactor/base/unique_fd.h"
#include "reactor/reactor.h"

namespace labvirt::engine {

// Frames are read into buffers of the snap length, so it is bounded (a jumbo frame fits).
inline constexpr uint32_t kMaxSnaplen = 65535;
inline constexpr uint32_t kMinSnaplen = 64;

struct CaptureSpec {
  std::string ifname;       // the host interface (a tap) to capture on
  std::string name;         // the pcapng if_name: "lab/node:interface"
  std::string description;  // the pcapng if_description
  std::string filter;       // tcpdump syntax; empty: every frame
  uint32_t snaplen = kMaxSnaplen;
  uint64_t max_packets = 0;  // end after this many frames; 0: no limit
  uint64_t max_bytes = 0;    // end once this many captured bytes were written; 0: no limit
  std::chrono::milliseconds duration{0};  // end after this long; 0: no limit
};

struct CaptureOptions {
  size_t max_queue_bytes = 4 << 20;  // unsent pcapng bytes before the client is cut off
  int rcvbuf_bytes = 4 << 20;        // the packet socket's kernel queue
  size_t batch_bytes = 1 << 20;      // read buffer: frames per recvmmsg = this / snaplen
  size_t batches_per_wake = 8;       // then yield to the rest of the loop
  size_t max_send_bytes = 256 * 1024;
  reactor::Duration close_grace = std::chrono::seconds(5);
};

class CaptureSession {
 public:
  using EndCallback = std::function<void(const std::string& reason)>;
  // `on_end` runs once, when the client socket has been closed, with why the capture ended.
  CaptureSession(reactor::Reactor& reactor, CaptureSpec spec, CaptureOptions options,
                 EndCallback on_end);
  // Closes both sockets without calling on_end.
  ~CaptureSession();
  CaptureSession(const CaptureSession&) = delete;
  CaptureSession& operator=(const CaptureSession&) = delete;

  // Takes `client` (a connected stream socket), opens the packet socket and starts streaming.
  // When the packet socket cannot be opened (the interface went away since the request was
  // checked) the stream carries only the headers and the reason.
  void Start(UniqueFd client);
  // Ends the capture with `reason` (the statistics block is still sent, within close_grace).
  void Stop(const std::string& reason);

  uint64_t frames_delivered() const { return delivered_; }
  // Frames the kernel dropped for this capture (its socket queue was full); known once it ended.
  uint64_t kernel_drops() const { return counters_.dropped; }
  bool capturing() const { return packet_fd_.valid(); }
  const CaptureSpec& spec() const { return spec_; }

 private:
  void ArmPoll();
  void OnReadable(Result<uint32_t> events);
  // Appends the frames of one batch; false once a limit is reached.
  bool AppendFrames(const std::vector<CapturedFrame>& frames, std::string& out);
  void Enqueue(std::string bytes);
  void StartSend();
  void OnSent(Result<size_t> sent);
  void ArmClientRecv();
  // Stops capturing, appends the statistics block with `reason` and closes once it is sent.
  void Finish(const std::string& reason, bool drop_queued);
  void Close(const std::string& reason);

  reactor::Reactor& reactor_;
  const CaptureSpec spec_;
  const CaptureOptions options_;
  EndCallback on_end_;
  UniqueFd client_fd_;
  UniqueFd packet_fd_;
  PacketBatch batch_;
  std::deque<std::string> queue_;
  size_t queued_ = 0;
  size_t in_flight_ = 0;
  uint64_t delivered_ = 0;
  uint64_t bytes_ = 0;
  uint64_t start_ns_ = 0;
  PacketCounters counters_;
  bool finishing_ = false;
  bool closed_ = false;
  std::string reason_;
  // Handles last: they die first.
  reactor::OpHandle poll_op_;
  reactor::OpHandle send_op_;
  reactor::OpHandle recv_op_;
  reactor::OpHandle duration_timer_;
  reactor::OpHandle grace_timer_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CAPTURE_CAPTURE_SESSION_H_
