// EpollLoop: the baseline a user would otherwise write — a plain epoll event loop with an eventfd
// for cross-thread tasks (mutex + vector, one eventfd write per post, as muduo and libevent-style
// loops do) and a binary-heap timer queue checked each pass. Benchmarks only.
#ifndef LABVIRT_BENCH_EPOLL_LOOP_H_
#define LABVIRT_BENCH_EPOLL_LOOP_H_

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <queue>
#include <unordered_map>
#include <vector>

namespace labvirt::bench {

class EpollLoop {
 public:
  EpollLoop()
      : epfd_(::epoll_create1(EPOLL_CLOEXEC)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    Watch(wake_, [this] {
      uint64_t v;
      while (::read(wake_, &v, sizeof v) > 0) {
      }
    });
  }
  ~EpollLoop() {
    ::close(wake_);
    ::close(epfd_);
  }

  void Watch(int fd, std::function<void()> on_readable) {
    handlers_[fd] = std::move(on_readable);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  }

  void Post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      posted_.push_back(std::move(task));
    }
    uint64_t one = 1;
    ssize_t ignored = ::write(wake_, &one, sizeof one);
    (void)ignored;
  }

  void After(std::chrono::nanoseconds delay, std::function<void()> cb) {
    timers_.push({std::chrono::steady_clock::now() + delay, seq_++, std::move(cb)});
  }

  // One pass: wait for I/O (not past the next timer), dispatch, fire due timers, run posts.
  void RunOnce() {
    int timeout_ms = -1;
    if (!timers_.empty()) {
      auto wait = timers_.top().deadline - std::chrono::steady_clock::now();
      timeout_ms = wait.count() <= 0
                       ? 0
                       : static_cast<int>(
                             std::chrono::duration_cast<std::chrono::milliseconds>(wait).count());
    }
    epoll_event events[64];
    int n = ::epoll_wait(epfd_, events, 64, timeout_ms);
    for (int i = 0; i < n; ++i) handlers_[events[i].data.fd]();
    auto now = std::chrono::steady_clock::now();
    while (!timers_.empty() && timers_.top().deadline <= now) {
      auto cb = timers_.top().cb;
      timers_.pop();
      cb();
    }
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks.swap(posted_);
    }
    for (auto& t : tasks) t();
  }

 private:
  struct Timer {
    std::chrono::steady_clock::time_point deadline;
    uint64_t seq;
    std::function<void()> cb;
    bool operator>(const Timer& o) const {
      return deadline != o.deadline ? deadline > o.deadline : seq > o.seq;
    }
  };
  int epfd_;
  int wake_;
  std::unordered_map<int, std::function<void()>> handlers_;
  std::mutex mu_;
  std::vector<std::function<void()>> posted_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  uint64_t seq_ = 0;
};

}  // namespace labvirt::bench

#endif  // LABVIRT_BENCH_EPOLL_LOOP_H_
