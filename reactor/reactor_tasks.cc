// The reactor's work that is not I/O on a caller's descriptor: tasks posted from other threads
// (and the eventfd that wakes the loop for them), tasks deferred to the end of a pass, and signals
// (a signalfd polled on the ring).
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

#include "reactor/base/log.h"
#include "reactor/reactor.h"

namespace labvirt::reactor {

void Reactor::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    posted_.push_back(std::move(task));
  }
  // Only the first post since the loop last drained pays for a wake-up write.
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    uint64_t one = 1;
    ssize_t ignored = ::write(wake_fd_.get(), &one, sizeof one);
    (void)ignored;
  }
}

void Reactor::ArmWakeup() {
  wake_op_ = PollMultishot(wake_fd_.get(), POLLIN, [this](Result<uint32_t>) {
    uint64_t count;
    while (::read(wake_fd_.get(), &count, sizeof count) > 0) {
    }
  });
}

size_t Reactor::RunPosted() {
  if (!wake_pending_.load(std::memory_order_acquire)) return 0;
  wake_pending_.store(false, std::memory_order_release);
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    tasks.swap(posted_);
  }
  for (auto& task : tasks) task();
  return tasks.size();
}

void Reactor::Defer(std::function<void()> task) {
  LABVIRT_CHECK(IsLoopThread());
  deferred_.push_back(std::move(task));
}

size_t Reactor::RunDeferred() {
  size_t ran = 0;
  while (!deferred_.empty()) {
    std::vector<std::function<void()>> tasks;
    tasks.swap(deferred_);
    for (auto& task : tasks) task();
    ran += tasks.size();
  }
  return ran;
}

Status Reactor::OnSignal(int signo, std::function<void(int)> cb) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  if (int err = pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
    return Status::FromErrno(err, "pthread_sigmask");
  }
  int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return Status::FromErrno(errno, "signalfd");
  auto handler = std::make_unique<SignalHandler>();
  handler->fd.Reset(fd);
  handler->cb = std::move(cb);
  SignalHandler* h = handler.get();
  handler->op = PollMultishot(fd, POLLIN, [h](Result<uint32_t>) {
    signalfd_siginfo info;
    while (::read(h->fd.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      h->cb(static_cast<int>(info.ssi_signo));
    }
  });
  signals_[signo] = std::move(handler);
  return Status::Ok();
}

}  // namespace labvirt::reactor
