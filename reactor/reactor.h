// Reactor: one io_uring ring driven by one thread; every labvirt subsystem runs its I/O, timers
// and callbacks here.
//
// What it does not own: the fds passed to it (callers keep them open until the op's callback ran
// or its handle was cancelled — closing early is safe for the kernel, which holds its own file
// reference, but the op then completes against the old file), and the objects callbacks capture
// (callers cancel the handle before those die).
//
// Threads: everything is loop-thread-only except Post(), which any thread may call. The loop
// thread is the thread that called Create() until Run() is entered, then the one running Run().
// In the deferred task-run mode (the default where the kernel has it) the ring belongs to the
// first thread that enters the kernel through it (the first pass, or a full SQ): only that thread
// may run passes and should destroy the reactor. Destroyed elsewhere, the reactor cannot cancel
// its ops and parks their memory for the life of the process instead of freeing it under the
// kernel.
//
// Completions: each op owns its buffers in a slot of the reactor's table; user_data packs the
// slot index and a generation, so a completion for a cancelled or recycled slot is recognised
// and dropped. CQEs are reaped in batches. When the SQ is full the reactor submits and retries;
// when the kernel reports a CQ backlog (-EBUSY) it reaps before submitting again.
#ifndef LABVIRT_REACTOR_REACTOR_H_
#define LABVIRT_REACTOR_REACTOR_H_

#include <liburing.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "reactor/base/clock.h"
#include "reactor/base/status.h"
#include "reactor/base/unique_fd.h"
#include "reactor/op_handle.h"
#include "reactor/timer_queue.h"

namespace labvirt::reactor {

// Readable bytes delivered to a read/recv callback; valid only during the callback.
using ReadCallback = std::function<void(Result<std::span<const char>>)>;
// Bytes written by a write/send, or the error.
using SizeCallback = std::function<void(Result<size_t>)>;
// Poll result: the revents mask (POLLIN, POLLOUT, POLLHUP, …), or the error.
using PollCallback = std::function<void(Result<uint32_t>)>;
using AcceptCallback = std::function<void(Result<UniqueFd>)>;
using StatusCallback = std::function<void(Status)>;
// Bytes shared, read-only, between several sends (one console read fanned out to every viewer).
using SharedBytes = std::shared_ptr<const std::string>;
// Scattered read: total bytes and one view per requested buffer (the last ones may be short).
using ReadvCallback = std::function<void(Result<std::vector<std::span<const char>>>)>;

inline constexpr uint64_t kCurrentPosition = ~uint64_t{0};

// The calling thread's kernel id, asked of the kernel once per thread (gettid is a syscall). The
// reactor's notion of "the loop thread": pthread ids (std::thread::id) are reused at once by the
// next thread created after one is joined, kernel ids are not.
inline pid_t CurrentThreadId() {
  thread_local const pid_t tid = ::gettid();
  return tid;
}

enum class OpKind : uint8_t;  // slot.h

// How the kernel finishes ops whose result arrives while the loop thread is busy, best first.
enum class TaskRun : uint8_t {
  // SINGLE_ISSUER + DEFER_TASKRUN (6.1): only when the loop thread asks for completions, all of
  // a pass's in one entry, and the sleeping loop is woken once per wait rather than per
  // completion. Binds the ring to one thread (see Threads above); the ring's fd is registered
  // with that thread so each entry skips the fd lookup.
  kDeferred,
  // COOP_TASKRUN (5.19): at the loop thread's next entry into the kernel, without interrupting
  // it.
  kCooperative,
  // By interrupting the loop thread (an IPI when it is running): every kernel.
  kInterrupt,
};

struct ReactorOptions {
  // Submission queue entries (the CQ gets twice as many). Small values are for tests.
  unsigned sq_entries = 256;
  // Time source; nullptr means a SteadyClock owned by the reactor. Must outlive the reactor.
  const Clock* clock = nullptr;
  // False makes RecvMultishot re-arm a one-shot recv, as on kernels before 6.0 (tests).
  bool multishot_recv = true;
  // Buffers in RecvMultishot's pool, a power of two: at most this many are posted, the first 16
  // at once and more as bursts run the ring dry. Small values are for tests.
  unsigned recv_buffers = 512;
  // The best mode to try; Create() falls back to the next one when the kernel refuses it.
  TaskRun task_run = TaskRun::kDeferred;
};

class Reactor {
 public:
  // Sets up the ring. Fails with the kernel's reason when io_uring is unavailable (see probe.h for
  // a diagnosis fit for users).
  static Result<std::unique_ptr<Reactor>> Create(const ReactorOptions& options = {});
  // Cancels every pending op without running its callback and waits for the kernel's final
  // completions before freeing buffers. Posted but unrun tasks are dropped.
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // ---- The loop ----
  // Runs passes until Stop(). Each pass: reap completions, fire due timers, run posted tasks, run
  // deferred tasks, then sleep in the kernel until a completion or the next deadline.
  void Run();
  // Makes Run() return after the current pass. Loop thread only; from elsewhere Post() it.
  void Stop();
  // One pass; sleeps only if `block` and nothing is ready. Returns the number of callbacks run.
  size_t RunOnce(bool block);
  // Runs non-blocking passes until one runs nothing. For tests (manual clock, no sleeping).
  void RunUntilIdle();
  bool IsLoopThread() const { return CurrentThreadId() == loop_thread_; }
  const Clock& clock() const { return *clock_; }

  // ---- I/O ops (loop thread only). Each callback runs at most once, on the loop thread. ----
  // One-shot poll for `events` (POLLIN, …).
  [[nodiscard]] OpHandle Poll(int fd, uint32_t events, PollCallback cb);
  // Poll that reports every readiness until cancelled or an error (then the callback gets the
  // error once). Re-armed by the reactor if the kernel ends it without an error.
  [[nodiscard]] OpHandle PollMultishot(int fd, uint32_t events, PollCallback cb);
  // Reads up to `max` bytes; 0 bytes means end of file.
  [[nodiscard]] OpHandle Read(int fd, size_t max, ReadCallback cb,
                              uint64_t offset = kCurrentPosition);
  [[nodiscard]] OpHandle Readv(int fd, std::vector<size_t> sizes, ReadvCallback cb,
                               uint64_t offset = kCurrentPosition);
  // Writes `data` (owned by the reactor until the op completes); may write less than all of it.
  [[nodiscard]] OpHandle Write(int fd, std::string data, SizeCallback cb,
                               uint64_t offset = kCurrentPosition);
  [[nodiscard]] OpHandle Writev(int fd, std::vector<std::string> buffers, SizeCallback cb,
                                uint64_t offset = kCurrentPosition);
  [[nodiscard]] OpHandle Recv(int fd, size_t max, ReadCallback cb, int flags = 0);
  // Receives until end of file, an error or cancellation: `cb` gets every chunk as it arrives,
  // then once either an empty span (end of file) or the error, after which the op is over. One
  // armed op serves the socket's whole life (multishot recv, kernel 6.0) into a pool of buffers
  // the reactor provides to the kernel (a buffer ring, 5.19); a chunk's buffer returns to the
  // pool when `cb` returns. When the pool runs dry the kernel ends the op with -ENOBUFS and the
  // reactor re-arms it (backpressure, not an error). On older kernels the reactor re-arms a
  // one-shot recv after each chunk instead.
  [[nodiscard]] OpHandle RecvMultishot(int fd, ReadCallback cb, int flags = 0);
  [[nodiscard]] OpHandle Send(int fd, std::string data, SizeCallback cb, int flags = MSG_NOSIGNAL);
  // Sends `chunks` in order with one sendmsg (a vectored send), holding a reference to each until
  // the op completes: many sends may share the same bytes without a copy each.
  [[nodiscard]] OpHandle SendChunks(int fd, std::vector<SharedBytes> chunks, SizeCallback cb,
                                    int flags = MSG_NOSIGNAL);
  // Accepts connections as blocking, close-on-exec sockets (io_uring makes every op on them
  // asynchronous anyway). One-shot unless `multishot`.
  [[nodiscard]] OpHandle Accept(int listen_fd, AcceptCallback cb, bool multishot = false);
  // Connects socket `fd` to the Unix socket at `path`.
  [[nodiscard]] OpHandle Connect(int fd, std::string path, StatusCallback cb);

  // ---- Registered files (loop thread only) ----
  // Registers `fd` in the ring's file table (a sparse table, 5.19): later ops on `fd` skip the
  // kernel's per-op fd lookup and file reference count. Callers keep passing the plain fd. The
  // table holds its own reference to the file, so UnregisterFile(fd) must come before the fd is
  // closed (or the socket stays open, and a reused fd number would reach the old file): hold a
  // RegisteredFile to make that automatic. False when the kernel lacks it, the table is full or
  // `fd` is registered already (by another owner); ops then work as before.
  bool RegisterFile(int fd);
  void UnregisterFile(int fd);
  size_t registered_files() const { return registered_files_; }

  // ---- Timers (loop thread only) ----
  [[nodiscard]] OpHandle After(Duration delay, std::function<void()> cb);
  // Fires every `period` (first after one period) until cancelled. A zero period fires once per
  // loop pass and keeps the loop from sleeping.
  [[nodiscard]] OpHandle Every(Duration period, std::function<void()> cb);

  // ---- Signals ----
  // Blocks `signo` for the calling thread (threads started later inherit the mask) and delivers
  // it to `cb` on the loop. Call before starting worker threads.
  Status OnSignal(int signo, std::function<void(int)> cb);

  // ---- Tasks ----
  // Any thread. Runs `task` on the loop in a later pass; tasks run in posting order.
  void Post(std::function<void()> task);
  // Loop thread. Runs `task` at the end of the current pass, from a clean stack: the way to
  // destroy an object from inside its own callback.
  void Defer(std::function<void()> task);
  template <typename T>
  void DeferDelete(std::unique_ptr<T> object) {
    Defer([p = object.release()] { delete p; });
  }

  // Ops whose final completion has not arrived yet (cancelled ones included).
  size_t pending_ops() const { return live_slots_; }
  // The mode Create() got from the kernel.
  TaskRun task_run() const { return task_run_; }
  // True when RecvMultishot uses the kernel's multishot recv (set up on its first use).
  bool multishot_recv() const { return buffers_ != nullptr; }
  // Recv buffers handed to the kernel so far (0 before the first RecvMultishot or without
  // multishot recv): only these are ever written, so they bound the pool's share of RSS.
  unsigned recv_buffers_posted() const;
  // Bytes of read buffers that free slots keep for their next read (each at most 16 KiB).
  size_t kept_read_buffer_bytes() const;

 private:
  friend class OpHandle;
  enum class SlotState : uint8_t { kFree, kInFlight, kCancelling, kCompleting };
  struct Slot;
  class BufferRing;
  struct Completion {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
  };

  Reactor(const ReactorOptions& options, io_uring ring, TaskRun task_run);
  void Cancel(uint64_t id);
  // Takes a free slot for an op of `kind` on `fd`; the index is stable until ReleaseSlot.
  uint32_t AcquireSlot(OpKind kind, int fd);
  void ReleaseSlot(uint32_t index);
  uint64_t UserData(uint32_t index) const;
  // Returns an SQE, submitting (and reaping into the ready list) to make room when the SQ is full.
  io_uring_sqe* GetSqe();
  // Submits pending SQEs and collects completions the kernel owes us (task work) in one entry,
  // reaping first when the kernel reports a CQ backlog. Skips the syscall when there is neither.
  void Submit();
  // Submits and sleeps until a completion arrives or `timeout` (null: no limit) passes.
  void SubmitAndWait(__kernel_timespec* timeout);
  // Deferred mode: enables the ring on the calling thread at its first entry (and registers the
  // ring fd with it). False when the ring belongs to another thread.
  bool BindToThisThread();
  // The kernel owes this thread an entry to finish completions (COOP/DEFER task run).
  bool TaskWorkOwed() const;
  // Moves every available CQE into ready_ without dispatching.
  size_t Reap();
  size_t DispatchReady();
  void Dispatch(const Completion& c);
  // Hands completion `res` of slot `s` to its owner's callback (see reactor_ops.cc).
  void Complete(Slot& s, int32_t res);
  // Arms slot `index` and returns its handle.
  OpHandle Start(uint32_t index);
  OpHandle StartPoll(int fd, uint32_t events, PollCallback cb, bool multishot);
  OpHandle StartRead(int fd, size_t max, ReadCallback cb, bool recv, uint64_t offset, int flags);
  OpHandle StartWrite(int fd, std::string data, SizeCallback cb, bool send, uint64_t offset,
                      int flags);
  // Fills the SQE of slot `index` from its recorded kind and arguments and submits it lazily.
  void Arm(uint32_t index);
  // Arm's part for the ops that move bytes (read/recv/write/send and their vector forms).
  void PrepTransfer(io_uring_sqe* sqe, Slot& s);
  size_t RunPosted();
  size_t RunDeferred();
  void ArmWakeup();
  // Sets up the provided-buffer ring for RecvMultishot once; leaves buffers_ null if the kernel
  // lacks multishot recv.
  void SetUpBufferRing();
  // Points `sqe` at the registered copy of `fd`, if there is one.
  void UseRegisteredFile(io_uring_sqe* sqe, int fd) const;
  void DrainOnDestroy();

  io_uring ring_;
  const TaskRun task_run_;
  SteadyClock steady_clock_;
  const Clock* clock_;
  pid_t loop_thread_;  // kernel thread id, see CurrentThreadId()
  bool stopping_ = false;
  // Deferred mode: the ring starts disabled and is enabled by, and belongs to, the first thread
  // that enters the kernel.
  bool ring_enabled_;
  pid_t ring_owner_ = 0;

  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<uint32_t> free_slots_;
  size_t live_slots_ = 0;
  std::vector<Completion> ready_;
  TimerQueue timers_;
  std::vector<std::function<void()>> deferred_;
  // Buffers the kernel picks from for multishot recv; null until first needed or if unsupported.
  std::unique_ptr<BufferRing> buffers_;
  bool buffers_tried_;  // starts true when multishot recv is turned off
  unsigned recv_buffers_;

  // Cross-thread task queue, woken through an eventfd.
  std::mutex post_mu_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> wake_pending_{false};
  UniqueFd wake_fd_;
  OpHandle wake_op_;

  // Registered files: fixed_index_[fd] is fd's slot in the ring's table, or -1.
  bool file_table_tried_ = false;
  bool file_table_ = false;
  std::vector<int32_t> fixed_index_;
  std::vector<uint32_t> free_file_slots_;
  size_t registered_files_ = 0;

  struct SignalHandler {
    UniqueFd fd;
    std::function<void(int)> cb;
    OpHandle op;
  };
  std::unordered_map<int, std::unique_ptr<SignalHandler>> signals_;
};

// Keeps `fd` registered with `reactor` (Reactor::RegisterFile) for its lifetime; Reset() before
// closing the fd. Move-only.
class RegisteredFile {
 public:
  RegisteredFile() = default;
  RegisteredFile(Reactor& reactor, int fd) {
    if (reactor.RegisterFile(fd)) {
      reactor_ = &reactor;
      fd_ = fd;
    }
  }
  RegisteredFile(RegisteredFile&& o) noexcept
      : reactor_(std::exchange(o.reactor_, nullptr)), fd_(o.fd_) {}
  RegisteredFile& operator=(RegisteredFile&& o) noexcept {
    if (this != &o) {
      Reset();
      reactor_ = std::exchange(o.reactor_, nullptr);
      fd_ = o.fd_;
    }
    return *this;
  }
  ~RegisteredFile() { Reset(); }
  void Reset() {
    if (reactor_ != nullptr) std::exchange(reactor_, nullptr)->UnregisterFile(fd_);
  }
  bool registered() const { return reactor_ != nullptr; }

 private:
  Reactor* reactor_ = nullptr;
  int fd_ = -1;
};

}  // namespace labvirt::reactor

#endif  // LABVIRT_REACTOR_REACTOR_H_
