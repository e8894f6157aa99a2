// WorkerPool: a few threads for blocking calls (libvirt RPCs, file I/O) whose results come back to
// the reactor as callbacks.
//
// What it does not own: the reactor (which must outlive the pool) and whatever `done` captures —
// a done callback runs on the loop later, possibly after its requester is gone, so capture ids
// and look the requester up, never a raw `this` of a shorter-lived object.
//
// The queue is bounded: Submit() fails with kResourceExhausted instead of growing without limit.
// Worker threads block every signal, so SIGTERM/SIGINT reach the reactor's signalfd.
#ifndef LABVIRT_REACTOR_WORKER_POOL_H_
#define LABVIRT_REACTOR_WORKER_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "reactor/base/status.h"
#include "reactor/reactor.h"

namespace labvirt::reactor {

class WorkerPool {
 public:
  WorkerPool(Reactor& reactor, size_t threads, size_t max_queued);
  // Drops queued jobs (their done callbacks never run), waits for running ones, joins threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Any thread. Runs `work` on a worker, then `done(result)` on the reactor thread.
  template <typename T>
  Status Submit(std::function<T()> work, std::function<void(T)> done) {
    return Enqueue([this, work = std::move(work), done = std::move(done)]() mutable {
      auto result = std::make_shared<T>(work());
      reactor_.Post([done = std::move(done), result] { done(std::move(*result)); });
    });
  }
  // Any thread. Runs `job` on a worker; the job posts its own results.
  Status Enqueue(std::function<void()> job);

  size_t threads() const { return threads_.size(); }
  // Jobs waiting for a thread (not counting running ones).
  size_t queued() const;
  // Jobs waiting or running. A job posts its result before it stops counting, so once this is 0
  // every result is on the reactor's queue: a harness can tell "idle" from "a worker is busy".
  size_t pending() const;

 private:
  void WorkerMain();

  Reactor& reactor_;
  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace labvirt::reactor

#endif  // LABVIRT_REACTOR_WORKER_POOL_H_
