#include "reactor/worker_pool.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"

namespace labvirt::reactor {
namespace {

TEST(WorkerPoolTest, ResultComesBackOnTheLoopThread) {
  auto r = std::move(Reactor::Create()).value();
  WorkerPool pool(*r, 2, 16);
  std::thread::id worker_thread;
  std::thread::id done_thread;
  int value = 0;
  ASSERT_TRUE(pool.Submit<int>(
                      [&] {
                        worker_thread = std::this_thread::get_id();
                        return 42;
                      },
                      [&](int v) {
                        done_thread = std::this_thread::get_id();
                        value = v;
                      })
                  .ok());
  for (int i = 0; i < 1000 && value == 0; ++i) r->RunOnce(true);
  EXPECT_EQ(value, 42);
  EXPECT_EQ(done_thread, std::this_thread::get_id());
  EXPECT_NE(worker_thread, std::this_thread::get_id());
}

TEST(WorkerPoolTest, BoundedQueueRefusesWhenFull) {
  auto r = std::move(Reactor::Create()).value();
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> started{0};
  WorkerPool pool(*r, 1, 2);
  auto blocker = [&] {
    ++started;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return release; });
  };
  ASSERT_TRUE(pool.Enqueue(blocker).ok());
  while (started.load() == 0) std::this_thread::yield();  // the one thread is now busy
  ASSERT_TRUE(pool.Enqueue([] {}).ok());
  ASSERT_TRUE(pool.Enqueue([] {}).ok());
  Status full = pool.Enqueue([] {});
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(pool.queued(), 2u);
  EXPECT_EQ(pool.pending(), 3u) << "two waiting and the running one";
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
}

TEST(WorkerPoolTest, PendingReachesZeroOnlyWithTheResultOnTheLoop) {
  auto r = std::move(Reactor::Create()).value();
  WorkerPool pool(*r, 2, 16);
  int got = 0;
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(pool.Submit<int>([i] { return i; }, [&](int v) { got += v; }).ok());
  }
  while (pool.pending() > 0) std::this_thread::yield();
  EXPECT_EQ(got, 0) << "results run on the loop, not yet run";
  r->RunUntilIdle();
  EXPECT_EQ(got, 6) << "every result was queued by the time pending() said 0";
}

TEST(WorkerPoolTest, DestructionDropsQueuedJobsAndJoins) {
  auto r = std::move(Reactor::Create()).value();
  std::atomic<int> ran{0};
  {
    WorkerPool pool(*r, 1, 100);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(pool.Enqueue([&] {
                        std::this_thread::sleep_for(std::chrono::milliseconds(1));
                        ++ran;
                      })
                      .ok());
    }
  }
  int after = ran.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(ran.load(), after);  // nothing runs after the pool is gone
  EXPECT_LT(after, 50);
}

}  // namespace
}  // namespace labvirt::reactor
