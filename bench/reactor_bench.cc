// Reactor round trips beside a plain epoll loop doing the same work, in the same run:
// socketpair ping-pong, cross-thread posted tasks, and zero-delay timer chains.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "bench/epoll_loop.h"
#include "bench/reactor_options.h"
#include "reactor/reactor.h"

namespace labvirt::bench {
namespace {

using reactor::OpHandle;
using reactor::Reactor;

constexpr int kRoundTrips = 20000;
constexpr int kTasks = 200000;
constexpr int kTimers = 50000;

std::unique_ptr<Reactor> NewReactor() {
  return std::move(Reactor::Create(BenchReactorOptions())).value();
}

// ---- Ping-pong: one byte bounces between the two ends of a socketpair. ----
// Both ends read as labvirt's stream readers do (the control server's clients, OVSDB): one
// multishot recv armed for the socket's life.

struct ReactorPingPong {
  Reactor& r;
  int a, b;
  int left;
  OpHandle ra, rb, sa, sb;
  void Start() {
    rb = r.RecvMultishot(b, [this](Result<std::span<const char>> d) {  // b echoes
      if (!d.ok() || d->empty()) return;
      sb = r.Send(b, std::string(d->data(), d->size()), [](Result<size_t>) {});
    });
    ra = r.RecvMultishot(a, [this](Result<std::span<const char>> d) {
      if (!d.ok() || d->empty()) return;
      if (--left > 0) Ping();
    });
    Ping();
  }
  void Ping() {
    sa = r.Send(a, "x", [](Result<size_t>) {});
  }
};

void BM_PingPong_Reactor(benchmark::State& state) {
  auto r = NewReactor();
  int fds[2];
  ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
  for (auto _ : state) {
    ReactorPingPong pp{*r, fds[0], fds[1], kRoundTrips, {}, {}, {}, {}};
    pp.Start();
    while (pp.left > 0) r->RunOnce(true);
  }
  state.SetItemsProcessed(state.iterations() * kRoundTrips);
  ::close(fds[0]);
  ::close(fds[1]);
}

void BM_PingPong_Epoll(benchmark::State& state) {
  int fds[2];
  ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds);
  for (auto _ : state) {
    EpollLoop loop;
    int left = kRoundTrips;
    char buf[64];
    loop.Watch(fds[1], [&] {
      ssize_t n = ::read(fds[1], buf, sizeof buf);
      if (n > 0) benchmark::DoNotOptimize(::write(fds[1], buf, static_cast<size_t>(n)));
    });
    loop.Watch(fds[0], [&] {
      if (::read(fds[0], buf, sizeof buf) > 0 && --left > 0) {
        benchmark::DoNotOptimize(::write(fds[0], "x", 1));
      }
    });
    benchmark::DoNotOptimize(::write(fds[0], "x", 1));
    while (left > 0) loop.RunOnce();
  }
  state.SetItemsProcessed(state.iterations() * kRoundTrips);
  ::close(fds[0]);
  ::close(fds[1]);
}

// ---- Posted tasks: one producer thread, the loop runs them. ----

void BM_Post_Reactor(benchmark::State& state) {
  auto r = NewReactor();
  for (auto _ : state) {
    int done = 0;
    std::thread producer([&] {
      for (int i = 0; i < kTasks; ++i) r->Post([&done] { ++done; });
    });
    while (done < kTasks) r->RunOnce(true);
    producer.join();
  }
  state.SetItemsProcessed(state.iterations() * kTasks);
}

void BM_Post_Epoll(benchmark::State& state) {
  for (auto _ : state) {
    EpollLoop loop;
    int done = 0;
    std::thread producer([&] {
      for (int i = 0; i < kTasks; ++i) loop.Post([&done] { ++done; });
    });
    while (done < kTasks) loop.RunOnce();
    producer.join();
  }
  state.SetItemsProcessed(state.iterations() * kTasks);
}

// ---- Timer chains: each zero-delay timer arms the next. ----

void BM_Timer_Reactor(benchmark::State& state) {
  auto r = NewReactor();
  for (auto _ : state) {
    int left = kTimers;
    OpHandle t;
    std::function<void()> next = [&] {
      if (--left > 0) t = r->After(reactor::Duration(0), next);
    };
    t = r->After(reactor::Duration(0), next);
    while (left > 0) r->RunOnce(true);
  }
  state.SetItemsProcessed(state.iterations() * kTimers);
}

void BM_Timer_Epoll(benchmark::State& state) {
  for (auto _ : state) {
    EpollLoop loop;
    int left = kTimers;
    std::function<void()> next = [&] {
      if (--left > 0) loop.After(std::chrono::nanoseconds(0), next);
    };
    loop.After(std::chrono::nanoseconds(0), next);
    while (left > 0) loop.RunOnce();
  }
  state.SetItemsProcessed(state.iterations() * kTimers);
}

BENCHMARK(BM_PingPong_Reactor)->Name("pingpong/reactor")->UseRealTime();
BENCHMARK(BM_PingPong_Epoll)->Name("pingpong/epoll")->UseRealTime();
BENCHMARK(BM_Post_Reactor)->Name("post/reactor")->UseRealTime();
BENCHMARK(BM_Post_Epoll)->Name("post/epoll")->UseRealTime();
BENCHMARK(BM_Timer_Reactor)->Name("timer/reactor")->UseRealTime();
BENCHMARK(BM_Timer_Epoll)->Name("timer/epoll")->UseRealTime();

}  // namespace
}  // namespace labvirt::bench

BENCHMARK_MAIN();
