#include "engine/capture/capture_session.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>

#include "engine/capture/bpf_filter.h"
#include "engine/capture/pcapng_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {
namespace {

uint64_t NowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

size_t BatchOf(const CaptureOptions& o, uint32_t snaplen) {
  return std::max<size_t>(1, std::min<size_t>(256, o.batch_bytes / std::max<uint32_t>(snaplen, 1)));
}

}  // namespace

CaptureSession::CaptureSession(reactor::Reactor& reactor, CaptureSpec spec, CaptureOptions options,
                               EndCallback on_end)
    : reactor_(reactor),
      spec_(std::move(spec)),
      options_(options),
      on_end_(std::move(on_end)),
      batch_(spec_.snaplen, BatchOf(options, spec_.snaplen)) {}

CaptureSession::~CaptureSession() {
  poll_op_.Cancel();
  send_op_.Cancel();
  recv_op_.Cancel();
}

void CaptureSession::Start(UniqueFd client) {
  // io_uring answers a send on an O_NONBLOCK socket with EAGAIN instead of waiting for room.
  int fl = ::fcntl(client.get(), F_GETFL);
  if (fl >= 0) (void)::fcntl(client.get(), F_SETFL, fl & ~O_NONBLOCK);
  client_fd_ = std::move(client);
  start_ns_ = NowNs();
  std::string head;
  pcapng::AppendSectionHeader(head, "labvirt " LABVIRT_VERSION);
  pcapng::AppendInterfaceDescription(head,
                                     {spec_.name, spec_.description, spec_.filter, spec_.snaplen});
  Enqueue(std::move(head));
  ArmClientRecv();
  auto filter = CompileFilter(spec_.filter, spec_.snaplen);
  Result<UniqueFd> fd = filter.ok() ? OpenPacketSocket(spec_.ifname, *filter, options_.rcvbuf_bytes)
                                    : Result<UniqueFd>(filter.status());
  if (!fd.ok()) return Finish("capture could not start: " + fd.status().message(), false);
  packet_fd_ = std::move(fd).value();
  LogInfo("capture started", {{"interface", spec_.name}, {"tap", spec_.ifname}});
  if (spec_.duration.count() > 0) {
    duration_timer_ = reactor_.After(spec_.duration, [this] { Stop("duration reached"); });
  }
  ArmPoll();
}

void CaptureSession::Stop(const std::string& reason) { Finish(reason, false); }

void CaptureSession::ArmPoll() {
  // One-shot and re-armed after each batch: level-triggered, so frames left for the next pass
  // wake it again at once, and other work gets the loop in between.
  poll_op_ = reactor_.Poll(packet_fd_.get(), POLLIN,
                           [this](Result<uint32_t> ev) { OnReadable(std::move(ev)); });
}

void CaptureSession::OnReadable(Result<uint32_t> events) {
  poll_op_.Detach();
  if (!packet_fd_) return;
  std::string out;
  for (size_t i = 0; i < options_.batches_per_wake; ++i) {
    Result<size_t> n = batch_.Read(packet_fd_.get());
    if (!n.ok()) {
      // ENETDOWN/ENXIO: the tap was deleted (its node stopped or its NIC was unplugged).
      Enqueue(std::move(out));
      return Finish("interface " + spec_.ifname + " went away: " + n.status().message(), false);
    }
    if (*n == 0) break;
    if (!AppendFrames(batch_.frames(), out)) {
      Enqueue(std::move(out));
      if (finishing_) return;  // cut off while queueing
      return Finish(spec_.max_packets != 0 && delivered_ >= spec_.max_packets
                        ? "packet limit reached"
                        : "byte limit reached",
                    false);
    }
  }
  if (!events.ok()) {
    Enqueue(std::move(out));
    return Finish("packet socket failed: " + events.status().message(), false);
  }
  Enqueue(std::move(out));
  if (!finishing_ && packet_fd_) ArmPoll();
}

bool CaptureSession::AppendFrames(const std::vector<CapturedFrame>& frames, std::string& out) {
  for (const CapturedFrame& f : frames) {
    pcapng::AppendEnhancedPacket(
        out, 0, f.timestamp_ns, f.data, f.original_length,
        f.outgoing ? pcapng::Direction::kInbound : pcapng::Direction::kOutbound,
        pcapng::ReceptionOf(f.data));
    ++delivered_;
    bytes_ += f.data.size();
    if (spec_.max_packets != 0 && delivered_ >= spec_.max_packets) return false;
    if (spec_.max_bytes != 0 && bytes_ >= spec_.max_bytes) return false;
  }
  return true;
}

void CaptureSession::Enqueue(std::string bytes) {
  if (bytes.empty() || closed_ || !client_fd_) return;
  if (!finishing_ && queued_ + in_flight_ + bytes.size() > options_.max_queue_bytes) {
    return Finish("reader fell behind: more than " + std::to_string(options_.max_queue_bytes) +
                      " bytes of capture queued for it",
                  true);
  }
  queued_ += bytes.size();
  queue_.push_back(std::move(bytes));
  if (!send_op_.engaged()) StartSend();
}

void CaptureSession::StartSend() {
  if (queue_.empty()) {
    if (finishing_) Close(reason_);
    return;
  }
  std::string chunk = std::move(queue_.front());
  queue_.pop_front();
  while (!queue_.empty() && chunk.size() + queue_.front().size() <= options_.max_send_bytes) {
    chunk += queue_.front();
    queue_.pop_front();
  }
  queued_ -= chunk.size();
  in_flight_ = chunk.size();
  // MSG_WAITALL: a send takes the whole chunk or fails, so the stream never splits a block.
  send_op_ = reactor_.Send(
      client_fd_.get(), std::move(chunk), [this](Result<size_t> r) { OnSent(std::move(r)); },
      MSG_NOSIGNAL | MSG_WAITALL);
}

void CaptureSession::OnSent(Result<size_t> sent) {
  send_op_.Detach();
  if (!sent.ok() && sent.status().code() == StatusCode::kUnavailable) {
    // EPIPE or ECONNRESET: the client went away while a send was in flight, before (or instead
    // of) its receive side reading end-of-file. Both are the same event for the user.
    return Close("client hung up");
  }
  if (!sent.ok() || *sent < in_flight_) {
    return Close(sent.ok() ? "client socket took only part of a send"
                           : "send to client failed: " + sent.status().message());
  }
  in_flight_ = 0;
  StartSend();
}

void CaptureSession::ArmClientRecv() {
  // The client sends nothing; a read returning 0 or an error is how its hang-up shows.
  recv_op_ = reactor_.Recv(client_fd_.get(), 512, [this](Result<std::span<const char>> r) {
    recv_op_.Detach();
    if (!r.ok() || r->empty()) return Close("client hung up");
    ArmClientRecv();
  });
}

void CaptureSession::Finish(const std::string& reason, bool drop_queued) {
  if (finishing_ || closed_) return;
  finishing_ = true;
  reason_ = reason;
  poll_op_.Cancel();
  duration_timer_.Cancel();
  if (packet_fd_) {
    if (auto c = ReadCounters(packet_fd_.get()); c.ok()) counters_ = *c;
    packet_fd_.Reset();
  }
  if (drop_queued) {
    queue_.clear();  // whole blocks only: the chunk in flight is never split
    queued_ = 0;
  }
  pcapng::Statistics stats{start_ns_,         NowNs(),    counters_.accepted,
                           counters_.dropped, delivered_, "capture ended: " + reason};
  std::string isb;
  pcapng::AppendInterfaceStatistics(isb, 0, stats);
  queued_ += isb.size();
  queue_.push_back(std::move(isb));
  grace_timer_ = reactor_.After(options_.close_grace, [this] { Close(reason_ + " (unsent)"); });
  if (!send_op_.engaged()) StartSend();
}

void CaptureSession::Close(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  poll_op_.Cancel();
  send_op_.Cancel();
  recv_op_.Cancel();
  duration_timer_.Cancel();
  grace_timer_.Cancel();
  if (packet_fd_ && !finishing_) {
    if (auto c = ReadCounters(packet_fd_.get()); c.ok()) counters_ = *c;
  }
  packet_fd_.Reset();
  client_fd_.Reset();
  LogInfo("capture ended", {{"interface", spec_.name},
                            {"reason", reason},
                            {"frames", std::to_string(delivered_)},
                            {"kernel_drops", std::to_string(counters_.dropped)}});
  if (on_end_) on_end_(reason);
}

}  // namespace labvirt::engine
