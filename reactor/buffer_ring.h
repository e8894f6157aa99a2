// Internal to the reactor: the pool of buffers multishot recv reads into. Not part of the API.
//
// A ring of equally sized buffers registered with the kernel as one provided-buffer group
// (IORING_REGISTER_PBUF_RING, 5.19). For each multishot recv completion the kernel takes a buffer
// from the ring and names it in the CQE (IORING_CQE_F_BUFFER, the id in the upper 16 bits of the
// flags); the reactor gives it back with Recycle() once the completion's callback has run. It
// does not own the io_uring, which must outlive it. Loop thread only.
//
// The kernel takes buffers in ring order and a recycled buffer goes to the back, so every buffer
// in the ring is written (and its pages charged to RSS) in turn, however few are in use at once:
// with all 512 posted, labvirtd's RSS grew 48 KiB a soak cycle until all 4 MiB were touched
// (issue 19). So only the first kFirstPosted buffers are posted at first, and Grow() posts one
// more each time the kernel finds the ring empty: the touched set is the largest burst seen.
#ifndef LABVIRT_REACTOR_BUFFER_RING_H_
#define LABVIRT_REACTOR_BUFFER_RING_H_

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "reactor/base/status.h"
#include "reactor/reactor.h"

namespace labvirt::reactor {

class Reactor::BufferRing {
 public:
  // The buffer group id recv SQEs name in sqe->buf_group.
  static constexpr uint16_t kGroup = 0;
  // Buffers posted at first: more than the recv completions one pass usually holds.
  static constexpr unsigned kFirstPosted = 16;

  // Registers a ring of `entries` (a power of two ≤ 32768) buffers of `buffer_size` bytes with
  // `ring` and posts the first min(entries, kFirstPosted) of them.
  // Fails with the kernel's reason (EINVAL before 5.19), or FailedPrecondition before 6.0, which
  // is the first kernel with multishot recv.
  static Result<std::unique_ptr<BufferRing>> Create(io_uring& ring, unsigned entries,
                                                    size_t buffer_size);
  // Unregisters the group. Only after the final completion of every op that reads into it.
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  // The `len` bytes the kernel wrote into the buffer named by CQE flags `cqe_flags`.
  std::span<const char> Data(uint32_t cqe_flags, size_t len) const;
  // Hands the buffer named by `cqe_flags` back to the kernel. A no-op without IORING_CQE_F_BUFFER.
  void Recycle(uint32_t cqe_flags);
  // Posts one more buffer, if any was never posted; for each recv the kernel ended with -ENOBUFS
  // (one recv found the ring empty), so the posted count follows the largest burst of completions
  // seen and never shrinks. Returns false when every buffer was posted already.
  bool Grow();
  // Buffers handed to the kernel so far; only these are ever written.
  unsigned posted() const { return posted_; }

 private:
  BufferRing(io_uring& ring, io_uring_buf_ring* br, char* storage, unsigned entries,
             size_t buffer_size);
  // Adds never-posted buffers at the ring's tail until `count` (≤ entries_) are posted.
  void PostUpTo(unsigned count);

  io_uring& ring_;
  io_uring_buf_ring* br_;
  char* storage_;
  const unsigned entries_;
  const size_t buffer_size_;
  unsigned posted_ = 0;
};

}  // namespace labvirt::reactor

#endif  // LABVIRT_REACTOR_BUFFER_RING_H_
