// Join: waits for a set of asynchronous branches started in a loop, then runs one callback.
//
//   auto join = Join::Create([reply](Status st) { ... });   // st: the first branch error
//   for (...) plumber.SetLink(..., join->Branch());           // or join->Step() for void()
//   join->Seal();                                             // no more branches
//
// `done` runs exactly once, after Seal() and after every branch handed out has ended (in
// whichever order those happen: a branch that ends synchronously, inside the loop that hands them
// out, cannot fire it early). A branch's callback must be called at most once; one that is never
// called keeps `done` from running (and the Join alive only as long as that callback lives).
// Single-threaded: the loop thread's tool, like everything it joins.
#ifndef LABVIRT_REACTOR_BASE_JOIN_H_
#define LABVIRT_REACTOR_BASE_JOIN_H_

#include <functional>
#include <memory>
#include <utility>

#include "reactor/base/status.h"

namespace labvirt {

class Join : public std::enable_shared_from_this<Join> {
 public:
  using Done = std::function<void(Status)>;

  static std::shared_ptr<Join> Create(Done done) {
    return std::shared_ptr<Join>(new Join(std::move(done)));
  }
  // One more branch; the returned callback ends it with its status (the first error is kept).
  std::function<void(Status)> Branch() {
    ++open_;
    return [self = shared_from_this()](Status st) { self->End(std::move(st)); };
  }
  // One more branch that ends without a status.
  std::function<void()> Step() {
    ++open_;
    return [self = shared_from_this()] { self->End(Status::Ok()); };
  }
  // No more branches will be handed out.
  void Seal() { End(Status::Ok()); }

 private:
  explicit Join(Done done) : done_(std::move(done)) {}
  void End(Status st) {
    if (!st.ok() && first_error_.ok()) first_error_ = std::move(st);
    if (--open_ == 0) done_(first_error_);
  }

  Done done_;
  size_t open_ = 1;  // the seal
  Status first_error_;
};

}  // namespace labvirt

#endif  // LABVIRT_REACTOR_BASE_JOIN_H_
