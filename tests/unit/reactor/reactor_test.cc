#include "reactor/reactor.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/reactor/reactor_test_util.h"

namespace labvirt::reactor {
namespace {

TEST(ReactorTest, ReadDeliversBytesWrittenToPipe) {
  auto r = MakeReactor();
  Pipe p;
  p.Put("hello");
  std::string got;
  OpHandle h = r->Read(p.read_end.get(), 64, [&](Result<std::span<const char>> data) {
    ASSERT_TRUE(data.ok());
    got.assign(data->data(), data->size());
  });
  RunUntil(*r, [&] { return !got.empty(); });
  EXPECT_EQ(got, "hello");
  EXPECT_EQ(r->pending_ops(), 1u);  // only the internal wake-up poll is left
}

TEST(ReactorTest, PostedTasksRunInOrderThenDeferredTasks) {
  auto r = MakeReactor();
  std::vector<std::string> order;
  r->Post([&] {
    order.push_back("post1");
    r->Defer([&] { order.push_back("defer"); });
  });
  r->Post([&] { order.push_back("post2"); });
  r->RunUntilIdle();
  EXPECT_EQ(order, (std::vector<std::string>{"post1", "post2", "defer"}));
}

TEST(ReactorTest, CancelledOpNeverRunsBeforeCompletion) {
  auto r = MakeReactor();
  Pipe p;
  bool ran = false;
  OpHandle h = r->Poll(p.read_end.get(), POLLIN, [&](Result<uint32_t>) { ran = true; });
  r->RunOnce(/*block=*/false);  // submitted, not complete
  h.Cancel();
  p.Put("x");
  r->RunUntilIdle();
  for (int i = 0; i < 5; ++i) r->RunOnce(false);
  EXPECT_FALSE(ran);
  RunUntil(*r, [&] { return r->pending_ops() == 1; });  // the slot is freed by its final CQE
}

TEST(ReactorTest, CancelledOpNeverRunsAfterItsCompletionWasReaped) {
  // Both ops complete in the same batch; whichever callback runs first cancels the other, whose
  // completion is already reaped. Exactly one callback may run.
  auto r = MakeReactor();
  Pipe p;
  p.Put("ready");
  int ran = 0;
  OpHandle a, b;
  a = r->Poll(p.read_end.get(), POLLIN, [&](Result<uint32_t>) {
    ++ran;
    b.Cancel();
  });
  b = r->Poll(p.read_end.get(), POLLIN, [&](Result<uint32_t>) {
    ++ran;
    a.Cancel();
  });
  RunUntil(*r, [&] { return ran > 0; });
  for (int i = 0; i < 5; ++i) r->RunOnce(false);
  EXPECT_EQ(ran, 1);
}

TEST(ReactorTest, DestroyingHandleCancels) {
  auto r = MakeReactor();
  Pipe p;
  bool ran = false;
  {
    OpHandle h = r->Read(p.read_end.get(), 16, [&](Result<std::span<const char>>) { ran = true; });
  }
  p.Put("late");
  for (int i = 0; i < 10; ++i) r->RunOnce(false);
  EXPECT_FALSE(ran);
}

TEST(ReactorTest, CancelAfterCompletionIsHarmless) {
  auto r = MakeReactor();
  Pipe p;
  p.Put("a");
  int ran = 0;
  OpHandle h = r->Poll(p.read_end.get(), POLLIN, [&](Result<uint32_t>) { ++ran; });
  RunUntil(*r, [&] { return ran == 1; });
  // The slot may now be reused by another op; the stale handle must not cancel that one.
  int second = 0;
  OpHandle h2 = r->Poll(p.read_end.get(), POLLIN, [&](Result<uint32_t>) { ++second; });
  h.Cancel();
  RunUntil(*r, [&] { return second == 1; });
  EXPECT_EQ(ran, 1);
}

TEST(ReactorTest, MultishotPollReportsRepeatedlyUntilCancelled) {
  auto r = MakeReactor();
  UniqueFd efd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  int events = 0;
  OpHandle h = r->PollMultishot(efd.get(), POLLIN, [&](Result<uint32_t> rev) {
    ASSERT_TRUE(rev.ok());
    uint64_t v;
    ASSERT_EQ(::read(efd.get(), &v, sizeof v), 8);
    ++events;
  });
  for (int i = 1; i <= 3; ++i) {
    uint64_t one = 1;
    ASSERT_EQ(::write(efd.get(), &one, sizeof one), 8);
    RunUntil(*r, [&] { return events == i; });
  }
  h.Cancel();
  uint64_t one = 1;
  ASSERT_EQ(::write(efd.get(), &one, sizeof one), 8);
  for (int i = 0; i < 5; ++i) r->RunOnce(false);
  EXPECT_EQ(events, 3);
}

TEST(ReactorTest, SubmissionQueueExhaustionAndCompletionBacklog) {
  // A 4-entry SQ (8-entry CQ) given 500 ops that all complete at once: the reactor must flush the
  // SQ when full and reap the kernel's CQ backlog, delivering every callback exactly once.
  auto r = MakeReactor(ReactorOptions{.sq_entries = 4});
  Pipe p;
  p.Put("x");
  constexpr int kOps = 500;
  std::vector<int> ran(kOps, 0);
  std::vector<OpHandle> handles;
  for (int i = 0; i < kOps; ++i) {
    handles.push_back(r->Poll(p.read_end.get(), POLLIN, [&ran, i](Result<uint32_t> rev) {
      EXPECT_TRUE(rev.ok());
      ++ran[i];
    }));
  }
  RunUntil(*r, [&] {
    for (int v : ran) {
      if (v == 0) return false;
    }
    return true;
  });
  for (int i = 0; i < kOps; ++i) EXPECT_EQ(ran[i], 1) << i;
}

TEST(ReactorTest, FdClosedAndReusedWhileOpInFlight) {
  auto r = MakeReactor();
  auto old_pipe = std::make_unique<Pipe>();
  int old_fd = old_pipe->read_end.get();
  std::vector<std::string> seen;
  OpHandle old_op = r->Poll(old_fd, POLLIN, [&](Result<uint32_t>) { seen.push_back("old"); });
  r->RunOnce(false);
  // Close the fd under the in-flight op; the next pipe reuses its number.
  UniqueFd old_write = std::move(old_pipe->write_end);
  old_pipe->read_end.Reset();
  Pipe fresh;
  ASSERT_EQ(fresh.read_end.get(), old_fd);
  std::string got;
  OpHandle new_op = r->Read(fresh.read_end.get(), 16, [&](Result<std::span<const char>> d) {
    ASSERT_TRUE(d.ok());
    got.assign(d->data(), d->size());
    seen.push_back("new");
  });
  fresh.Put("fresh");
  RunUntil(*r, [&] { return !got.empty(); });
  EXPECT_EQ(got, "fresh");
  EXPECT_EQ(seen, std::vector<std::string>{"new"});  // the old op did not fire for the new fd
  old_op.Cancel();
  old_write.Reset();
  for (int i = 0; i < 5; ++i) r->RunOnce(false);
  EXPECT_EQ(seen, std::vector<std::string>{"new"});
}

// Every task-run mode (the kernel may grant a lower one than asked) completes I/O, posted tasks
// and timers, whether the loop sleeps or keeps busy.
class TaskRunTest : public ::testing::TestWithParam<TaskRun> {};

TEST_P(TaskRunTest, CompletesIoWhetherTheLoopSleepsOrNot) {
  ReactorOptions options;
  options.task_run = GetParam();
  auto r = MakeReactor(options);
  EXPECT_GE(static_cast<int>(r->task_run()), static_cast<int>(GetParam()));
  SocketPair sp;
  std::string got;
  OpHandle h = r->RecvMultishot(sp.b.get(), [&](Result<std::span<const char>> d) {
    if (d.ok()) got.append(d->data(), d->size());
  });
  OpHandle s = r->Send(sp.a.get(), "ping", [](Result<size_t>) {});
  RunUntil(*r, [&] { return got == "ping"; });
  // A zero-period timer keeps every pass non-blocking: completions must still arrive.
  OpHandle busy = r->Every(Duration::zero(), [] {});
  ASSERT_EQ(::send(sp.a.get(), "pong", 4, 0), 4);
  for (int i = 0; i < 100000 && got != "pingpong"; ++i) r->RunOnce(/*block=*/true);
  EXPECT_EQ(got, "pingpong");
}

INSTANTIATE_TEST_SUITE_P(Modes, TaskRunTest,
                         ::testing::Values(TaskRun::kDeferred, TaskRun::kCooperative,
                                           TaskRun::kInterrupt));

TEST(ReactorTest, CreatedOnOneThreadRunOnAnotherDestroyedOnAThird) {
  auto r = MakeReactor();
  SocketPair sp;
  std::string got;
  std::thread loop([&] {
    OpHandle h;
    r->Post([&] {
      h = r->RecvMultishot(sp.b.get(), [&](Result<std::span<const char>> d) {
        if (d.ok()) got.append(d->data(), d->size());
        if (got == "hi") r->Stop();
      });
      ASSERT_EQ(::send(sp.a.get(), "hi", 2, 0), 2);
    });
    r->Run();
    // Leave an op in flight for the destructor, which runs on another thread.
    h.Detach();
  });
  loop.join();
  EXPECT_EQ(got, "hi");
  std::thread([&] { r.reset(); }).join();
}

TEST(ReactorTest, TimersOnManualClock) {
  ManualClock clock;
  auto r = MakeReactor(ReactorOptions{.clock = &clock});
  std::vector<std::string> fired;
  OpHandle t1 = r->After(std::chrono::milliseconds(10), [&] { fired.push_back("10ms"); });
  OpHandle t2 = r->After(std::chrono::milliseconds(5), [&] { fired.push_back("5ms"); });
  int ticks = 0;
  OpHandle every = r->Every(std::chrono::milliseconds(4), [&] { ++ticks; });
  OpHandle cancelled = r->After(std::chrono::milliseconds(1), [&] { fired.push_back("no"); });
  cancelled.Cancel();
  r->RunUntilIdle();
  EXPECT_TRUE(fired.empty());
  clock.Advance(std::chrono::milliseconds(5));
  r->RunUntilIdle();
  EXPECT_EQ(fired, std::vector<std::string>{"5ms"});
  EXPECT_EQ(ticks, 1);
  clock.Advance(std::chrono::milliseconds(5));
  r->RunUntilIdle();
  EXPECT_EQ(fired, (std::vector<std::string>{"5ms", "10ms"}));
  EXPECT_EQ(ticks, 2);
  every.Cancel();
  clock.Advance(std::chrono::seconds(1));
  r->RunUntilIdle();
  EXPECT_EQ(ticks, 2);
}

TEST(ReactorTest, ZeroPeriodTimerFiresOncePerPass) {
  ManualClock clock;
  auto r = MakeReactor(ReactorOptions{.clock = &clock});
  int ticks = 0;
  OpHandle every = r->Every(Duration(0), [&] { ++ticks; });
  r->RunOnce(false);
  r->RunOnce(false);
  r->RunOnce(false);
  EXPECT_EQ(ticks, 3);
}

TEST(ReactorTest, PostFromManyThreadsKeepsPerThreadOrder) {
  auto r = MakeReactor();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<int> last(kThreads, -1);
  std::atomic<int> out_of_order{0};
  int total = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        r->Post([&, t, i] {
          if (last[t] != i - 1) ++out_of_order;
          last[t] = i;
          ++total;
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  RunUntil(*r, [&] { return total == kThreads * kPerThread; });
  EXPECT_EQ(out_of_order.load(), 0);
}

TEST(ReactorTest, PostWakesABlockedLoop) {
  auto r = MakeReactor();
  std::atomic<bool> ran{false};
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r->Post([&] { ran = true; });
  });
  RunUntil(*r, [&] { return ran.load(); });
  poster.join();
}

TEST(ReactorTest, DeferDeleteFromOwnCallback) {
  auto r = MakeReactor();
  struct SelfDeleting {
    Reactor* reactor;
    bool* destroyed;
    OpHandle timer;
    ~SelfDeleting() { *destroyed = true; }
  };
  bool destroyed = false;
  auto* obj = new SelfDeleting{r.get(), &destroyed, {}};
  obj->timer = r->After(Duration(0),
                        [obj] { obj->reactor->DeferDelete(std::unique_ptr<SelfDeleting>(obj)); });
  RunUntil(*r, [&] { return destroyed; });
}

TEST(ReactorTest, SignalsArriveOnTheLoop) {
  auto r = MakeReactor();
  int got = 0;
  ASSERT_TRUE(r->OnSignal(SIGUSR1, [&](int signo) { got = signo; }).ok());
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  RunUntil(*r, [&] { return got != 0; });
  EXPECT_EQ(got, SIGUSR1);
}

TEST(ReactorTest, StopEndsRun) {
  auto r = MakeReactor();
  OpHandle t = r->After(std::chrono::milliseconds(1), [&] { r->Stop(); });
  r->Run();  // returns only because of Stop()
  SUCCEED();
}

}  // namespace
}  // namespace labvirt::reactor
