// The reactor's I/O verbs: each records its arguments in a slot, then Arm() turns the slot into
// an SQE. Multishot ops are re-armed from the same record.
#include <poll.h>

#include <cerrno>
#include <cstring>

#include "reactor/base/log.h"
#include "reactor/buffer_ring.h"
#include "reactor/reactor.h"
#include "reactor/slot.h"

namespace labvirt::reactor {
namespace {

Status ErrorFor(int32_t res, const char* verb, int fd) {
  return Status::FromErrno(-res, std::string(verb) + " fd " + std::to_string(fd));
}

std::vector<iovec> IovecsFor(std::vector<std::string>& strings) {
  std::vector<iovec> iov;
  iov.reserve(strings.size());
  for (auto& s : strings) iov.push_back({s.data(), s.size()});
  return iov;
}

}  // namespace

OpHandle Reactor::Start(uint32_t index) {
  Arm(index);
  return OpHandle(this, UserData(index));
}

void Reactor::Arm(uint32_t index) {
  Slot& s = *slots_[index];
  io_uring_sqe* sqe = GetSqe();
  switch (s.kind) {
    case OpKind::kPoll:  // 5.1
      io_uring_prep_poll_add(sqe, s.fd, s.events);
      break;
    case OpKind::kPollMultishot:  // 5.13
      io_uring_prep_poll_multishot(sqe, s.fd, s.events);
      break;
    case OpKind::kAccept:  // 5.5
      io_uring_prep_accept(sqe, s.fd, nullptr, nullptr, SOCK_CLOEXEC);
      break;
    case OpKind::kAcceptMultishot:  // 5.19
      io_uring_prep_multishot_accept(sqe, s.fd, nullptr, nullptr, SOCK_CLOEXEC);
      break;
    case OpKind::kConnect:  // 5.5
      io_uring_prep_connect(sqe, s.fd, reinterpret_cast<sockaddr*>(&s.addr), s.addrlen);
      break;
    case OpKind::kNop:  // 5.1
      io_uring_prep_nop(sqe);
      break;
    default:
      PrepTransfer(sqe, s);
  }
  if (s.kind != OpKind::kNop) UseRegisteredFile(sqe, s.fd);
  io_uring_sqe_set_data64(sqe, UserData(index));
}

void Reactor::PrepTransfer(io_uring_sqe* sqe, Slot& s) {
  const auto iov_count = static_cast<unsigned>(s.iov.size());
  switch (s.kind) {
    case OpKind::kRead:  // 5.6
      io_uring_prep_read(sqe, s.fd, s.buffer.data(), static_cast<unsigned>(s.buffer.size()),
                         s.offset);
      break;
    case OpKind::kReadv:  // 5.1
      io_uring_prep_readv(sqe, s.fd, s.iov.data(), iov_count, s.offset);
      break;
    case OpKind::kRecv:  // 5.6
      io_uring_prep_recv(sqe, s.fd, s.buffer.data(), s.buffer.size(), s.flags);
      break;
    case OpKind::kRecvMultishot:  // 6.0, into the buffer ring (5.19)
      if (buffers_) {
        io_uring_prep_recv_multishot(sqe, s.fd, nullptr, 0, s.flags);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = BufferRing::kGroup;
      } else {  // re-armed by Dispatch after each chunk
        io_uring_prep_recv(sqe, s.fd, s.buffer.data(), s.buffer.size(), s.flags);
      }
      break;
    case OpKind::kWrite:  // 5.6
      io_uring_prep_write(sqe, s.fd, s.data.data(), static_cast<unsigned>(s.data.size()), s.offset);
      break;
    case OpKind::kWritev:  // 5.1
      io_uring_prep_writev(sqe, s.fd, s.iov.data(), iov_count, s.offset);
      break;
    case OpKind::kSend:  // 5.6
      io_uring_prep_send(sqe, s.fd, s.data.data(), s.data.size(), s.flags);
      break;
    case OpKind::kSendMsg:  // 5.3
      io_uring_prep_sendmsg(sqe, s.fd, &s.msg, static_cast<unsigned>(s.flags));
      break;
    default:
      LABVIRT_CHECK(false && "PrepTransfer: not a transfer op");
  }
}

void Reactor::UseRegisteredFile(io_uring_sqe* sqe, int fd) const {
  if (fd < 0 || static_cast<size_t>(fd) >= fixed_index_.size() || fixed_index_[fd] < 0) return;
  sqe->fd = fixed_index_[fd];
  sqe->flags |= IOSQE_FIXED_FILE;
}

bool Reactor::RegisterFile(int fd) {
  LABVIRT_CHECK(IsLoopThread());
  if (fd < 0) return false;
  if (!file_table_tried_) {
    // One sparse table for the ring's life, sized so that it never needs to grow.
    constexpr unsigned kFileTableSlots = 4096;
    file_table_tried_ = true;
    LABVIRT_CHECK(BindToThisThread());
    file_table_ = io_uring_register_files_sparse(&ring_, kFileTableSlots) == 0;
    for (unsigned i = kFileTableSlots; file_table_ && i > 0; --i) free_file_slots_.push_back(i - 1);
  }
  if (!file_table_ || free_file_slots_.empty()) return false;
  // Already registered: that registration has an owner already (who will unregister it).
  if (static_cast<size_t>(fd) < fixed_index_.size() && fixed_index_[fd] >= 0) return false;
  const uint32_t slot = free_file_slots_.back();
  int fds[1] = {fd};
  if (io_uring_register_files_update(&ring_, slot, fds, 1) != 1) return false;
  free_file_slots_.pop_back();
  if (static_cast<size_t>(fd) >= fixed_index_.size()) fixed_index_.resize(fd + 1, -1);
  fixed_index_[fd] = static_cast<int32_t>(slot);
  ++registered_files_;
  return true;
}

void Reactor::UnregisterFile(int fd) {
  if (fd < 0 || static_cast<size_t>(fd) >= fixed_index_.size() || fixed_index_[fd] < 0) return;
  const uint32_t slot = static_cast<uint32_t>(fixed_index_[fd]);
  // The table drops its reference; ops still in flight on the file keep theirs.
  int fds[1] = {-1};
  io_uring_register_files_update(&ring_, slot, fds, 1);
  fixed_index_[fd] = -1;
  free_file_slots_.push_back(slot);
  --registered_files_;
}

OpHandle Reactor::StartPoll(int fd, uint32_t events, PollCallback cb, bool multishot) {
  const uint32_t index = AcquireSlot(multishot ? OpKind::kPollMultishot : OpKind::kPoll, fd);
  Slot& s = *slots_[index];
  s.events = events;
  s.poll_cb = std::move(cb);
  return Start(index);
}

OpHandle Reactor::Poll(int fd, uint32_t events, PollCallback cb) {
  return StartPoll(fd, events, std::move(cb), /*multishot=*/false);
}

OpHandle Reactor::PollMultishot(int fd, uint32_t events, PollCallback cb) {
  return StartPoll(fd, events, std::move(cb), /*multishot=*/true);
}

OpHandle Reactor::StartRead(int fd, size_t max, ReadCallback cb, bool recv, uint64_t offset,
                            int flags) {
  const uint32_t index = AcquireSlot(recv ? OpKind::kRecv : OpKind::kRead, fd);
  Slot& s = *slots_[index];
  s.offset = offset;
  s.flags = flags;
  s.buffer.resize(max);
  s.read_cb = std::move(cb);
  return Start(index);
}

OpHandle Reactor::Read(int fd, size_t max, ReadCallback cb, uint64_t offset) {
  return StartRead(fd, max, std::move(cb), /*recv=*/false, offset, 0);
}

OpHandle Reactor::Recv(int fd, size_t max, ReadCallback cb, int flags) {
  return StartRead(fd, max, std::move(cb), /*recv=*/true, kCurrentPosition, flags);
}

OpHandle Reactor::RecvMultishot(int fd, ReadCallback cb, int flags) {
  constexpr size_t kFallbackRecvBytes = 64 * 1024;
  if (!buffers_tried_) SetUpBufferRing();
  const uint32_t index = AcquireSlot(OpKind::kRecvMultishot, fd);
  Slot& s = *slots_[index];
  s.flags = flags;
  if (!buffers_) s.buffer.resize(kFallbackRecvBytes);
  s.read_cb = std::move(cb);
  return Start(index);
}

OpHandle Reactor::Readv(int fd, std::vector<size_t> sizes, ReadvCallback cb, uint64_t offset) {
  const uint32_t index = AcquireSlot(OpKind::kReadv, fd);
  Slot& s = *slots_[index];
  s.offset = offset;
  s.buffers.resize(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    s.buffers[i].resize(sizes[i]);
    s.iov.push_back({s.buffers[i].data(), sizes[i]});
  }
  s.readv_cb = std::move(cb);
  return Start(index);
}

OpHandle Reactor::StartWrite(int fd, std::string data, SizeCallback cb, bool send, uint64_t offset,
                             int flags) {
  const uint32_t index = AcquireSlot(send ? OpKind::kSend : OpKind::kWrite, fd);
  Slot& s = *slots_[index];
  s.offset = offset;
  s.flags = flags;
  s.data = std::move(data);
  s.size_cb = std::move(cb);
  return Start(index);
}

OpHandle Reactor::Write(int fd, std::string data, SizeCallback cb, uint64_t offset) {
  return StartWrite(fd, std::move(data), std::move(cb), /*send=*/false, offset, 0);
}

OpHandle Reactor::Send(int fd, std::string data, SizeCallback cb, int flags) {
  return StartWrite(fd, std::move(data), std::move(cb), /*send=*/true, kCurrentPosition, flags);
}

OpHandle Reactor::Writev(int fd, std::vector<std::string> buffers, SizeCallback cb,
                         uint64_t offset) {
  const uint32_t index = AcquireSlot(OpKind::kWritev, fd);
  Slot& s = *slots_[index];
  s.offset = offset;
  s.strings = std::move(buffers);
  s.iov = IovecsFor(s.strings);
  s.size_cb = std::move(cb);
  return Start(index);
}

OpHandle Reactor::SendChunks(int fd, std::vector<SharedBytes> chunks, SizeCallback cb, int flags) {
  const uint32_t index = AcquireSlot(OpKind::kSendMsg, fd);
  Slot& s = *slots_[index];
  s.flags = flags;
  s.chunks = std::move(chunks);
  s.iov.clear();
  for (const auto& c : s.chunks) s.iov.push_back({const_cast<char*>(c->data()), c->size()});
  s.msg = {};
  s.msg.msg_iov = s.iov.data();
  s.msg.msg_iovlen = s.iov.size();
  s.size_cb = std::move(cb);
  return Start(index);
}

OpHandle Reactor::Accept(int listen_fd, AcceptCallback cb, bool multishot) {
  const uint32_t index =
      AcquireSlot(multishot ? OpKind::kAcceptMultishot : OpKind::kAccept, listen_fd);
  Slot& s = *slots_[index];
  s.accept_cb = std::move(cb);
  return Start(index);
}

OpHandle Reactor::Connect(int fd, std::string path, StatusCallback cb) {
  const uint32_t index = AcquireSlot(OpKind::kConnect, fd);
  Slot& s = *slots_[index];
  s.addr = {};
  s.addr.sun_family = AF_UNIX;
  s.status_cb = std::move(cb);
  if (path.empty() || path.size() >= sizeof(s.addr.sun_path)) {
    // Report through a NOP so the error, like every result, arrives as a callback on the loop.
    s.kind = OpKind::kNop;
    s.nop_status = InvalidArgument("unix socket path must be 1-107 bytes: " + path);
  } else {
    std::memcpy(s.addr.sun_path, path.data(), path.size());
    s.addrlen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  }
  return Start(index);
}

void Reactor::Complete(Slot& s, int32_t res) {
  switch (s.kind) {
    case OpKind::kPoll:
    case OpKind::kPollMultishot:
      if (res < 0) return s.poll_cb(ErrorFor(res, "poll", s.fd));
      return s.poll_cb(static_cast<uint32_t>(res));
    case OpKind::kRead:
    case OpKind::kRecv:
      if (res < 0) return s.read_cb(ErrorFor(res, s.kind == OpKind::kRecv ? "recv" : "read", s.fd));
      return s.read_cb(std::span<const char>(s.buffer.data(), static_cast<size_t>(res)));
    case OpKind::kRecvMultishot: {
      if (res == -ENOBUFS) return;  // backpressure: Dispatch re-arms once buffers are back
      if (res < 0) return s.read_cb(ErrorFor(res, "recv", s.fd));
      const size_t n = static_cast<size_t>(res);
      if (s.cqe_flags & IORING_CQE_F_BUFFER) return s.read_cb(buffers_->Data(s.cqe_flags, n));
      return s.read_cb(std::span<const char>(s.buffer.data(), n));  // the fallback, or EOF
    }
    case OpKind::kReadv: {
      if (res < 0) return s.readv_cb(ErrorFor(res, "readv", s.fd));
      std::vector<std::span<const char>> views;
      size_t left = static_cast<size_t>(res);
      for (const auto& b : s.buffers) {
        const size_t n = std::min(left, b.size());
        views.emplace_back(b.data(), n);
        left -= n;
      }
      return s.readv_cb(std::move(views));
    }
    case OpKind::kWrite:
    case OpKind::kWritev:
    case OpKind::kSend:
    case OpKind::kSendMsg: {
      static constexpr const char* kVerb[] = {"write", "writev", "send", "sendmsg"};
      const int verb = s.kind == OpKind::kWrite    ? 0
                       : s.kind == OpKind::kWritev ? 1
                       : s.kind == OpKind::kSend   ? 2
                                                   : 3;
      if (res < 0) return s.size_cb(ErrorFor(res, kVerb[verb], s.fd));
      return s.size_cb(static_cast<size_t>(res));
    }
    case OpKind::kAccept:
    case OpKind::kAcceptMultishot:
      if (res < 0) return s.accept_cb(ErrorFor(res, "accept", s.fd));
      return s.accept_cb(UniqueFd(res));
    case OpKind::kConnect:
      // sun_path holds the path NUL-terminated (the address was zeroed before the copy).
      if (res < 0)
        return s.status_cb(Status::FromErrno(-res, "connect " + std::string(s.addr.sun_path)));
      return s.status_cb(Status::Ok());
    case OpKind::kNop:
      return s.status_cb(s.nop_status);
  }
}

}  // namespace labvirt::reactor
