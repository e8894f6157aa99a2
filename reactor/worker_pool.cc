#include "reactor/worker_pool.h"

#include <signal.h>

namespace labvirt::reactor {

WorkerPool::WorkerPool(Reactor& reactor, size_t threads, size_t max_queued)
    : reactor_(reactor), max_queued_(max_queued) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { WorkerMain(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

Status WorkerPool::Enqueue(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return FailedPrecondition("worker pool is shutting down");
    if (jobs_.size() >= max_queued_) {
      return ResourceExhausted("worker pool queue is full (" + std::to_string(max_queued_) +
                               " jobs waiting)");
    }
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
  return Status::Ok();
}

size_t WorkerPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.size();
}

size_t WorkerPool::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.size() + running_;
}

void WorkerPool::WorkerMain() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      ++running_;
    }
    job();
    job = nullptr;  // what it captured goes before the job stops counting
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
  }
}

}  // namespace labvirt::reactor
