#include "reactor/reactor.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "reactor/base/log.h"
#include "reactor/buffer_ring.h"
#include "reactor/slot.h"

namespace labvirt::reactor {
namespace {

// user_data of CQEs that answer our own IORING_OP_ASYNC_CANCEL requests; never a slot.
constexpr uint64_t kCancelUserData = ~uint64_t{0};
constexpr uint64_t kTimerIdBit = uint64_t{1} << 63;
constexpr unsigned kReapBatch = 64;

// The setup flags of each task-run mode.
unsigned SetupFlags(TaskRun mode) {
  switch (mode) {
    case TaskRun::kDeferred:
      // Disabled until the loop thread's first entry: the submitter is whoever enables it, so a
      // reactor may be created on one thread and run on another.
      return IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
             IORING_SETUP_R_DISABLED;
    case TaskRun::kCooperative:
      // TASKRUN_FLAG tells the loop when it owes the kernel an entry to collect completions.
      return IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    case TaskRun::kInterrupt:
      return 0;
  }
  return 0;
}

// Memory the kernel may still write into after a reactor is gone (ops it never completed, or a
// ring destroyed off its thread). Kept reachable so that it is visibly parked, not leaked.
std::vector<std::shared_ptr<void>>& ParkedMemory() {
  static auto* parked = new std::vector<std::shared_ptr<void>>;
  return *parked;
}

template <typename T>
void Park(std::unique_ptr<T> object) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  ParkedMemory().push_back(std::shared_ptr<T>(object.release(), [](T*) {}));
}

}  // namespace

Result<std::unique_ptr<Reactor>> Reactor::Create(const ReactorOptions& options) {
  io_uring ring;
  io_uring_params params{};
  TaskRun mode = options.task_run;
  int ret;
  while (true) {
    params = {};
    params.flags = IORING_SETUP_CQSIZE | SetupFlags(mode);
    params.cq_entries = options.sq_entries * 2;
    ret = io_uring_queue_init_params(options.sq_entries, &ring, &params);
    // An older kernel refuses flags it does not know with EINVAL: fall back to the next mode.
    if (ret != -EINVAL || mode == TaskRun::kInterrupt) break;
    mode = static_cast<TaskRun>(static_cast<int>(mode) + 1);
  }
  if (ret < 0) return Status::FromErrno(-ret, "io_uring_queue_init");
  // NODROP (5.5) makes a full CQ a backlog rather than lost completions; EXT_ARG (5.11) lets us
  // submit and wait with a timeout in one syscall.
  if (!(params.features & IORING_FEAT_NODROP) || !(params.features & IORING_FEAT_EXT_ARG)) {
    io_uring_queue_exit(&ring);
    return FailedPrecondition("io_uring lacks NODROP/EXT_ARG: kernel 5.11 or newer required");
  }
  auto reactor = std::unique_ptr<Reactor>(new Reactor(options, ring, mode));
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return Status::FromErrno(errno, "eventfd");
  reactor->wake_fd_.Reset(efd);
  reactor->ArmWakeup();
  return reactor;
}

Reactor::Reactor(const ReactorOptions& options, io_uring ring, TaskRun task_run)
    : ring_(ring),
      task_run_(task_run),
      clock_(options.clock ? options.clock : &steady_clock_),
      loop_thread_(CurrentThreadId()),
      ring_enabled_(task_run != TaskRun::kDeferred),
      buffers_tried_(!options.multishot_recv),
      recv_buffers_(options.recv_buffers) {}

Reactor::~Reactor() {
  wake_op_.Cancel();
  signals_.clear();
  DrainOnDestroy();
  // The kernel may still write into recv buffers of ops that never completed: park them too.
  if (live_slots_ > 0) Park(std::move(buffers_));
  buffers_.reset();
  if (ring_enabled_ && ring_owner_ != CurrentThreadId() && task_run_ == TaskRun::kDeferred) {
    // liburing 2.3's queue_exit would unregister the ring fd's index from *this* thread's table,
    // which may hold another ring of ours at that index. Forget the registration instead (the
    // owner thread's table keeps the ring until that thread ends).
    constexpr unsigned char kLiburingRegRingFlag = 1;  // INT_FLAG_REG_RING in liburing's source
    ring_.int_flags &= static_cast<unsigned char>(~kLiburingRegRingFlag);
  }
  io_uring_queue_exit(&ring_);
}

void Reactor::DrainOnDestroy() {
  if (live_slots_ > 0 && !BindToThisThread()) {
    LogError(
        "reactor destroyed off the thread its ring belongs to: its ops cannot be cancelled; "
        "parking their buffers",
        {{"ops", std::to_string(live_slots_)}});
    for (auto& s : slots_) {
      if (s->state != SlotState::kFree) Park(std::move(s));
    }
    return;
  }
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    Slot& s = *slots_[i];
    if (s.state == SlotState::kInFlight) Cancel(UserData(i));
  }
  // Wait (bounded) for the final completion of every op: only then may buffers be freed.
  for (int round = 0; live_slots_ > 0 && round < 1000; ++round) {
    Submit();
    __kernel_timespec ts{.tv_sec = 0, .tv_nsec = 10'000'000};
    SubmitAndWait(&ts);
    Reap();
    std::vector<Completion> batch;
    batch.swap(ready_);
    for (const Completion& c : batch) Dispatch(c);
  }
  if (live_slots_ > 0) {
    // Freeing now could let the kernel write into freed memory; parking is the safe choice.
    LogError("reactor destroyed with ops the kernel never completed; parking their buffers",
             {{"ops", std::to_string(live_slots_)}});
    for (auto& s : slots_) {
      if (s->state != SlotState::kFree) Park(std::move(s));
    }
  }
}

void Reactor::Run() {
  loop_thread_ = CurrentThreadId();
  stopping_ = false;
  while (!stopping_) RunOnce(/*block=*/true);
}

void Reactor::Stop() { stopping_ = true; }

void Reactor::RunUntilIdle() {
  while (RunOnce(/*block=*/false) > 0) {
  }
}

size_t Reactor::RunOnce(bool block) {
  bool busy =
      !ready_.empty() || !deferred_.empty() || wake_pending_.load(std::memory_order_acquire);
  // The clock is read only when a timer is armed: a pass without timers makes no clock call.
  std::optional<TimePoint> deadline = timers_.NextDeadline();
  std::optional<TimePoint> now;
  if (deadline) now = clock_->Now();
  bool timer_due = deadline && *deadline <= *now;
  if (block && !busy && !timer_due && !stopping_) {
    if (deadline && !clock_->IsManual()) {
      auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(*deadline - *now).count();
      __kernel_timespec ts{.tv_sec = wait / 1'000'000'000, .tv_nsec = wait % 1'000'000'000};
      SubmitAndWait(&ts);
    } else {
      SubmitAndWait(nullptr);
    }
  } else {
    Submit();
  }
  Reap();
  size_t ran = DispatchReady();
  if (timers_.NextDeadline()) ran += timers_.FireDue(clock_->Now());
  ran += RunPosted();
  ran += DispatchReady();
  ran += RunDeferred();
  return ran;
}

// ---- Completions ----

bool Reactor::TaskWorkOwed() const {
  return IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN;
}

size_t Reactor::Reap() {
  size_t total = 0;
  io_uring_cqe* cqes[kReapBatch];
  while (true) {
    unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kReapBatch);
    for (unsigned i = 0; i < n; ++i) {
      ready_.push_back({cqes[i]->user_data, cqes[i]->res, cqes[i]->flags});
    }
    io_uring_cq_advance(&ring_, n);
    total += n;
    if (n < kReapBatch) break;
  }
  return total;
}

size_t Reactor::DispatchReady() {
  // Callbacks may reap more completions into ready_ (through GetSqe); re-read its size each turn
  // and copy each entry out before dispatching, since the vector may grow.
  size_t ran = 0;
  for (size_t i = 0; i < ready_.size(); ++i) {
    Completion c = ready_[i];
    Dispatch(c);
    ++ran;
  }
  ready_.clear();
  return ran;
}

void Reactor::Dispatch(const Completion& c) {
  if (c.user_data == kCancelUserData) return;
  // A recv buffer the kernel filled goes back to the pool once this completion is handled,
  // whatever became of its op (cancelled, stale, or its callback ran).
  struct BufferReturn {
    BufferRing* buffers;
    uint32_t flags;
    ~BufferReturn() {
      if (buffers != nullptr) buffers->Recycle(flags);
    }
  } buffer_return{buffers_.get(), c.flags};
  uint32_t index = static_cast<uint32_t>(c.user_data);
  uint32_t generation = static_cast<uint32_t>(c.user_data >> 32);
  LABVIRT_CHECK(index < slots_.size());
  Slot& s = *slots_[index];
  if (s.state == SlotState::kFree || s.generation != generation) return;  // stale
  s.cqe_flags = c.flags;
  bool final = !(c.flags & IORING_CQE_F_MORE);
  if (s.state == SlotState::kCancelling) {
    if (final) ReleaseSlot(index);
    return;
  }
  if (!final) {  // a multishot op that goes on: the callback may cancel it (-> kCancelling)
    Complete(s, c.res);
    return;
  }
  s.state = SlotState::kCompleting;
  Complete(s, c.res);
  // A recv goes on after data (a one-shot fallback recv, or a multishot one the kernel ended)
  // and after -ENOBUFS (the buffer pool ran dry); it ends at end of file or on an error.
  bool goes_on = s.kind == OpKind::kRecvMultishot ? c.res > 0 || c.res == -ENOBUFS : c.res >= 0;
  // The ring ran dry: post more of the pool before re-arming (only posted buffers are charged).
  if (c.res == -ENOBUFS && buffers_ != nullptr) buffers_->Grow();
  bool rearm = s.multishot() && goes_on && !s.cancel_requested && s.has_callback();
  if (rearm) {
    // The kernel ended a multishot op without an error (e.g. CQ overflow): keep it going.
    s.state = SlotState::kInFlight;
    Arm(index);
  } else {
    ReleaseSlot(index);
  }
}

void Reactor::Cancel(uint64_t id) {
  if (id & kTimerIdBit) {
    timers_.Cancel(id & ~kTimerIdBit);
    return;
  }
  uint32_t index = static_cast<uint32_t>(id);
  uint32_t generation = static_cast<uint32_t>(id >> 32);
  if (index >= slots_.size()) return;
  Slot& s = *slots_[index];
  if (s.generation != generation) return;
  switch (s.state) {
    case SlotState::kInFlight: {
      s.state = SlotState::kCancelling;
      io_uring_sqe* sqe = GetSqe();
      io_uring_prep_cancel64(sqe, id, 0);
      io_uring_sqe_set_data64(sqe, kCancelUserData);
      break;
    }
    case SlotState::kCompleting:
      s.cancel_requested = true;
      break;
    case SlotState::kCancelling:
    case SlotState::kFree:
      break;
  }
}

void OpHandle::Cancel() {
  if (reactor_ != nullptr) std::exchange(reactor_, nullptr)->Cancel(id_);
}

// ---- Slots and submission ----

uint32_t Reactor::AcquireSlot(OpKind kind, int fd) {
  LABVIRT_CHECK(IsLoopThread());
  uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<uint32_t>(slots_.size());
    slots_.push_back(std::make_unique<Slot>());
  }
  Slot& s = *slots_[index];
  s.state = SlotState::kInFlight;
  s.kind = kind;
  s.fd = fd;
  ++live_slots_;
  return index;
}

void Reactor::ReleaseSlot(uint32_t index) {
  Slot& s = *slots_[index];
  // Generations stay within 31 bits and skip 0, so user_data never equals kCancelUserData.
  s.generation = (s.generation + 1) & 0x7fffffffu;
  if (s.generation == 0) s.generation = 1;
  s.state = SlotState::kFree;
  // Clearing may run destructors of captured state; the slot is already free by then.
  s.Clear();
  free_slots_.push_back(index);
  --live_slots_;
}

uint64_t Reactor::UserData(uint32_t index) const {
  return (uint64_t{slots_[index]->generation} << 32) | index;
}

io_uring_sqe* Reactor::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    // SQ full: hand what we have to the kernel and retry.
    Submit();
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

bool Reactor::BindToThisThread() {
  if (!ring_enabled_) {
    // liburing 2.3 declares io_uring_enable_rings but does not export it.
    int ret = static_cast<int>(
        ::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0));
    if (ret < 0) ret = -errno;
    if (ret < 0) {
      LogError("io_uring_enable_rings failed", {{"error", std::strerror(-ret)}});
      LABVIRT_CHECK(false && "io_uring_enable_rings failed");
    }
    ring_enabled_ = true;
    ring_owner_ = CurrentThreadId();
    // Registered ring fd (5.18): each entry skips the fd table lookup. Optional.
    (void)io_uring_register_ring_fd(&ring_);
  }
  return task_run_ != TaskRun::kDeferred || ring_owner_ == CurrentThreadId();
}

void Reactor::Submit() {
  // Entering costs a syscall; do it only with SQEs to hand over or task work to run (COOP and
  // DEFER task run finish completions only when this thread enters).
  if (io_uring_sq_ready(&ring_) == 0 && !TaskWorkOwed()) return;
  LABVIRT_CHECK(BindToThisThread() && "reactor driven from a thread its ring does not belong to");
  for (int attempt = 0;; ++attempt) {
    int ret = io_uring_submit_and_get_events(&ring_);
    if (ret >= 0 || ret == -EINTR) return;
    if ((ret == -EBUSY || ret == -EAGAIN) && attempt < 10000) {
      // CQ backlog (NODROP): completions must be reaped before the kernel takes more SQEs.
      // They are queued in ready_ and dispatched by the loop, never from here.
      Reap();
      continue;
    }
    LogError("io_uring_submit failed", {{"error", std::strerror(-ret)}});
    LABVIRT_CHECK(false && "io_uring_submit failed");
  }
}

void Reactor::SubmitAndWait(__kernel_timespec* timeout) {
  LABVIRT_CHECK(BindToThisThread() && "reactor driven from a thread its ring does not belong to");
  io_uring_cqe* cqe = nullptr;
  int ret = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, timeout, nullptr);
  // A CQ backlog refuses the submission (-EBUSY): reap; the next pass submits again.
  if (ret == -EBUSY || ret == -EAGAIN) Reap();
}

void Reactor::SetUpBufferRing() {
  buffers_tried_ = true;
  // Up to 512 x 8 KiB by default: more buffers than completions a pass usually holds at once (one
  // per client with a request in). Only the first few are posted until a burst needs more, since
  // the kernel writes every posted buffer in turn (buffer_ring.h).
  constexpr size_t kRecvBufferBytes = 8 * 1024;
  auto buffers = BufferRing::Create(ring_, recv_buffers_, kRecvBufferBytes);
  if (buffers.ok()) {
    buffers_ = std::move(buffers).value();
  } else {
    LogInfo("multishot recv unavailable; using one-shot recv",
            {{"reason", buffers.status().ToString()}});
  }
}

size_t Reactor::kept_read_buffer_bytes() const {
  size_t n = 0;
  for (const auto& s : slots_) {
    if (s->state == SlotState::kFree) n += s->buffer.capacity();
  }
  return n;
}

unsigned Reactor::recv_buffers_posted() const {
  return buffers_ != nullptr ? buffers_->posted() : 0;
}

// ---- Timers ----

OpHandle Reactor::After(Duration delay, std::function<void()> cb) {
  LABVIRT_CHECK(IsLoopThread());
  uint64_t id = timers_.Add(clock_->Now() + delay, std::nullopt, std::move(cb));
  return OpHandle(this, id | kTimerIdBit);
}

OpHandle Reactor::Every(Duration period, std::function<void()> cb) {
  LABVIRT_CHECK(IsLoopThread());
  uint64_t id = timers_.Add(clock_->Now() + period, period, std::move(cb));
  return OpHandle(this, id | kTimerIdBit);
}

}  // namespace labvirt::reactor
