#include "reactor/timer_queue.h"

#include <vector>

#include "gtest/gtest.h"

namespace labvirt::reactor {
namespace {

TimePoint At(int ms) { return TimePoint(std::chrono::milliseconds(ms)); }

TEST(TimerQueueTest, FiresInDeadlineOrder) {
  TimerQueue q;
  std::vector<int> order;
  q.Add(At(30), std::nullopt, [&] { order.push_back(30); });
  q.Add(At(10), std::nullopt, [&] { order.push_back(10); });
  q.Add(At(20), std::nullopt, [&] { order.push_back(20); });
  EXPECT_EQ(q.NextDeadline(), At(10));
  EXPECT_EQ(q.FireDue(At(25)), 2u);
  EXPECT_EQ(order, (std::vector<int>{10, 20}));
  EXPECT_EQ(q.size(), 1u);
}

TEST(TimerQueueTest, CancelUnknownOrFiredIsHarmless) {
  TimerQueue q;
  uint64_t id = q.Add(At(1), std::nullopt, [] {});
  q.FireDue(At(1));
  EXPECT_FALSE(q.Cancel(id));
  EXPECT_FALSE(q.Cancel(12345));
}

TEST(TimerQueueTest, CallbackMayCancelALaterDueTimer) {
  TimerQueue q;
  uint64_t second = 0;
  bool second_ran = false;
  q.Add(At(1), std::nullopt, [&] { q.Cancel(second); });
  second = q.Add(At(2), std::nullopt, [&] { second_ran = true; });
  q.FireDue(At(5));
  EXPECT_FALSE(second_ran);
}

TEST(TimerQueueTest, PeriodicRearmsFromNowWithoutBurst) {
  TimerQueue q;
  int ticks = 0;
  q.Add(At(10), std::chrono::milliseconds(10), [&] { ++ticks; });
  q.FireDue(At(100));  // late by 9 periods: fires once, not nine times
  EXPECT_EQ(ticks, 1);
  EXPECT_EQ(q.NextDeadline(), At(110));
}

TEST(TimerQueueTest, PeriodicTimerMayCancelItself) {
  TimerQueue q;
  uint64_t id = 0;
  int ticks = 0;
  id = q.Add(At(1), std::chrono::milliseconds(1), [&] {
    ++ticks;
    q.Cancel(id);
  });
  q.FireDue(At(1));
  q.FireDue(At(10));
  EXPECT_EQ(ticks, 1);
  EXPECT_EQ(q.size(), 0u);
}

TEST(TimerQueueTest, TimerAddedDuringFireWaitsForNextPass) {
  TimerQueue q;
  int inner = 0;
  q.Add(At(1), std::nullopt, [&] { q.Add(At(1), std::nullopt, [&] { ++inner; }); });
  q.FireDue(At(1));
  EXPECT_EQ(inner, 0);
  q.FireDue(At(1));
  EXPECT_EQ(inner, 1);
}

}  // namespace
}  // namespace labvirt::reactor
