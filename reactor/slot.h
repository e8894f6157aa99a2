// Internal to the reactor: one entry of the op table. Not part of the public API.
//
// A slot holds everything the kernel may touch while its op is in flight (buffers, iovecs, the
// socket address) so that the memory outlives every completion, including the final one that
// follows a cancel.
#ifndef LABVIRT_REACTOR_SLOT_H_
#define LABVIRT_REACTOR_SLOT_H_

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "reactor/reactor.h"

namespace labvirt::reactor {

// Default-initialises instead of value-initialising, so growing a read buffer does not zero it:
// the kernel fills it and callbacks see only the bytes it wrote. (Zeroing a 64 KiB console read
// buffer before every read was the largest user-space cost of console fan-out.)
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

enum class OpKind : uint8_t {
  kPoll,
  kPollMultishot,
  kRead,
  kReadv,
  kWrite,
  kWritev,
  kRecv,
  kRecvMultishot,
  kSend,
  kSendMsg,  // SendChunks
  kAccept,
  kAcceptMultishot,
  kConnect,
  kNop,  // completes at once; carries a pre-computed error (e.g. a bad socket path)
};

// The largest read buffer a free slot keeps for reuse (a console's 4 KiB PTY reads fit).
inline constexpr size_t kKeptReadBufferBytes = 16 * 1024;

struct Reactor::Slot {
  uint32_t generation = 1;
  SlotState state = SlotState::kFree;
  // Set when the owner cancels while the slot's callback is running on a final completion.
  bool cancel_requested = false;
  OpKind kind = OpKind::kNop;
  int fd = -1;
  uint32_t events = 0;
  int flags = 0;
  uint64_t offset = kCurrentPosition;
  // The flags of the completion being dispatched (IORING_CQE_F_BUFFER and its buffer id).
  uint32_t cqe_flags = 0;
  // The owner's callback, held as given: the member that `kind` names is set (Reactor::Complete
  // turns a completion into its argument). Not wrapped in a closure of our own, which cost a heap
  // allocation per op.
  PollCallback poll_cb;      // kPoll, kPollMultishot
  ReadCallback read_cb;      // kRead, kRecv, kRecvMultishot
  ReadvCallback readv_cb;    // kReadv
  SizeCallback size_cb;      // kWrite, kWritev, kSend, kSendMsg
  AcceptCallback accept_cb;  // kAccept, kAcceptMultishot
  StatusCallback status_cb;  // kConnect, kNop
  Status nop_status;         // kNop: the result it reports

  std::vector<char, DefaultInitAllocator<char>> buffer;  // read/recv target
  std::string data;                                      // write/send source (moved in)
  std::vector<std::string> strings;                      // writev sources
  std::vector<std::vector<char>> buffers;                // readv targets
  std::vector<SharedBytes> chunks;                       // SendChunks sources
  msghdr msg{};                                          // SendChunks: points at iov
  std::vector<iovec> iov;
  sockaddr_un addr{};
  socklen_t addrlen = 0;

  bool multishot() const {
    return kind == OpKind::kPollMultishot || kind == OpKind::kAcceptMultishot ||
           kind == OpKind::kRecvMultishot;
  }
  // Drops the callback and the data, keeping buffer capacity for reuse.
  bool has_callback() const {
    return poll_cb || read_cb || readv_cb || size_cb || accept_cb || status_cb;
  }
  void Clear() {
    poll_cb = nullptr;
    read_cb = nullptr;
    readv_cb = nullptr;
    size_cb = nullptr;
    accept_cb = nullptr;
    status_cb = nullptr;
    nop_status = Status::Ok();
    // A read buffer stays for the slot's next read, but not a large one: any op may take any
    // free slot, so each slot would come to hold the largest read it ever served. A 50-VM
    // deploy left 48 slots holding an OVSDB client's 256 KiB each (12.5 MB, most of labvirtd's
    // RSS per VM, found by heaptrack).
    if (buffer.capacity() > kKeptReadBufferBytes) {
      decltype(buffer)().swap(buffer);
    } else {
      buffer.clear();
    }
    data = std::string();
    strings.clear();
    buffers.clear();
    chunks.clear();
    iov.clear();
    cancel_requested = false;
    fd = -1;
  }
};

}  // namespace labvirt::reactor

#endif  // LABVIRT_REACTOR_SLOT_H_
