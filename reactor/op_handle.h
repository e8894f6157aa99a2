// OpHandle: move-only ownership of one pending reactor operation, timer or registration.
//
// Destroying the handle (or calling Cancel()) cancels the operation: from then on its callback
// never runs, whether the kernel completes it before or after. The reactor keeps the op's buffers
// alive until the kernel's final completion, so cancelling never frees memory the kernel may still
// write. Cancelling an op that already completed is harmless (the id carries a generation).
//
// A handle does not own the reactor: the Reactor must outlive every handle it issued. Declare
// handles last in their owner so they die first.
#ifndef LABVIRT_REACTOR_OP_HANDLE_H_
#define LABVIRT_REACTOR_OP_HANDLE_H_

#include <cstdint>
#include <utility>

namespace labvirt::reactor {

class Reactor;

class OpHandle {
 public:
  OpHandle() = default;
  OpHandle(OpHandle&& other) noexcept
      : reactor_(std::exchange(other.reactor_, nullptr)), id_(other.id_) {}
  OpHandle& operator=(OpHandle&& other) noexcept {
    if (this != &other) {
      Cancel();
      reactor_ = std::exchange(other.reactor_, nullptr);
      id_ = other.id_;
    }
    return *this;
  }
  OpHandle(const OpHandle&) = delete;
  OpHandle& operator=(const OpHandle&) = delete;
  ~OpHandle() { Cancel(); }

  // Cancels the op if it is still pending; the handle becomes empty. Loop thread only.
  void Cancel();
  // Lets the op run to completion unowned; the handle becomes empty.
  void Detach() { reactor_ = nullptr; }
  // True while the handle refers to an op (which may have completed already).
  bool engaged() const { return reactor_ != nullptr; }
  uint64_t id() const { return id_; }

 private:
  friend class Reactor;
  OpHandle(Reactor* reactor, uint64_t id) : reactor_(reactor), id_(id) {}

  Reactor* reactor_ = nullptr;
  uint64_t id_ = 0;
};

}  // namespace labvirt::reactor

#endif  // LABVIRT_REACTOR_OP_HANDLE_H_
