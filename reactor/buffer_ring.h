// Internal to the reactor: the pool of buffers multishot recv reads into. Not part of the API.
//
// A ring of equally sized buffers registered with the kernel as one provided-buffer group
// (IORING_REGISTER_PBUF_RING, 5.19). For each multishot recv completion the kernel takes a buffer
// from the ring and names it in the CQE (IORING_CQE_F_BUFFER, the id in the upper 16 bits of the
// flags); the reactor gives it back with Recycle() once the completion's callback has run. It
// does not own the io_uring, which must outlive it. Loop thread only.
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

  // Registers `entries` (a power of two ≤ 32768) buffers of `buffer_size` bytes with `ring`.
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

 private:
  BufferRing(io_uring& ring, io_uring_buf_ring* br, char* storage, unsigned entries,
             size_t buffer_size);

  io_uring& ring_;
  io_uring_buf_ring* br_;
  char* storage_;
  const unsigned entries_;
  const size_t buffer_size_;
};

}  // namespace labvirt::reactor

#endif  // LABVIRT_REACTOR_BUFFER_RING_H_
