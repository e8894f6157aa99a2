#include "reactor/buffer_ring.h"

#include <sys/mman.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace labvirt::reactor {
namespace {

bool KernelAtLeast(int major, int minor) {
  utsname uts{};
  int have_major = 0, have_minor = 0;
  if (uname(&uts) != 0 || std::sscanf(uts.release, "%d.%d", &have_major, &have_minor) != 2) {
    return false;
  }
  return have_major > major || (have_major == major && have_minor >= minor);
}

uint16_t BufferId(uint32_t cqe_flags) {
  return static_cast<uint16_t>(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
}

}  // namespace

Result<std::unique_ptr<Reactor::BufferRing>> Reactor::BufferRing::Create(io_uring& ring,
                                                                         unsigned entries,
                                                                         size_t buffer_size) {
  // Buffer rings came in 5.19, but recv learned IORING_RECV_MULTISHOT only in 6.0; a 5.19 kernel
  // would accept the ring and then fail every multishot recv with EINVAL.
  if (!KernelAtLeast(6, 0)) return FailedPrecondition("multishot recv needs kernel 6.0");
  size_t ring_bytes = entries * sizeof(io_uring_buf);
  void* ring_mem =
      ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring_mem == MAP_FAILED) return Status::FromErrno(errno, "mmap buffer ring");
  // Buffer memory is touched (and so charged) only as the kernel first writes each buffer.
  void* storage = ::mmap(nullptr, entries * buffer_size, PROT_READ | PROT_WRITE,
                         MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (storage == MAP_FAILED) {
    int err = errno;
    ::munmap(ring_mem, ring_bytes);
    return Status::FromErrno(err, "mmap recv buffers");
  }
  auto* br = static_cast<io_uring_buf_ring*>(ring_mem);
  io_uring_buf_ring_init(br);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(ring_mem);
  reg.ring_entries = entries;
  reg.bgid = kGroup;
  if (int ret = io_uring_register_buf_ring(&ring, &reg, 0); ret < 0) {
    ::munmap(storage, entries * buffer_size);
    ::munmap(ring_mem, ring_bytes);
    return Status::FromErrno(-ret, "io_uring_register_buf_ring");
  }
  auto self = std::unique_ptr<BufferRing>(
      new BufferRing(ring, br, static_cast<char*>(storage), entries, buffer_size));
  self->PostUpTo(std::min(entries, kFirstPosted));
  return self;
}

bool Reactor::BufferRing::Grow() {
  if (posted_ == entries_) return false;
  PostUpTo(posted_ + 1);
  return true;
}

void Reactor::BufferRing::PostUpTo(unsigned count) {
  // Buffers posted_..count-1 have never been in the ring; the ring has room for them since it
  // holds at most posted_ of its `entries_` slots.
  const int mask = io_uring_buf_ring_mask(entries_);
  const unsigned adding = count - posted_;
  for (unsigned i = 0; i < adding; ++i) {
    const unsigned bid = posted_ + i;
    io_uring_buf_ring_add(br_, storage_ + size_t{bid} * buffer_size_,
                          static_cast<unsigned>(buffer_size_), static_cast<uint16_t>(bid), mask,
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(br_, static_cast<int>(adding));
  posted_ = count;
}

Reactor::BufferRing::BufferRing(io_uring& ring, io_uring_buf_ring* br, char* storage,
                                unsigned entries, size_t buffer_size)
    : ring_(ring), br_(br), storage_(storage), entries_(entries), buffer_size_(buffer_size) {}

Reactor::BufferRing::~BufferRing() {
  io_uring_unregister_buf_ring(&ring_, kGroup);
  ::munmap(storage_, entries_ * buffer_size_);
  ::munmap(br_, entries_ * sizeof(io_uring_buf));
}

std::span<const char> Reactor::BufferRing::Data(uint32_t cqe_flags, size_t len) const {
  return {storage_ + size_t{BufferId(cqe_flags)} * buffer_size_, len};
}

void Reactor::BufferRing::Recycle(uint32_t cqe_flags) {
  if (!(cqe_flags & IORING_CQE_F_BUFFER)) return;
  uint16_t bid = BufferId(cqe_flags);
  io_uring_buf_ring_add(br_, storage_ + size_t{bid} * buffer_size_,
                        static_cast<unsigned>(buffer_size_), bid, io_uring_buf_ring_mask(entries_),
                        0);
  io_uring_buf_ring_advance(br_, 1);
}

}  // namespace labvirt::reactor
