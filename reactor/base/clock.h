// Clock: the reactor's source of monotonic time. A seam so tests can drive timers by hand.
#ifndef LABVIRT_REACTOR_BASE_CLOCK_H_
#define LABVIRT_REACTOR_BASE_CLOCK_H_

#include <chrono>

namespace labvirt::reactor {

using TimePoint = std::chrono::steady_clock::time_point;
using Duration = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // True when time only moves when a test moves it; the reactor then never sleeps for a timer.
  virtual bool IsManual() const { return false; }
};

// CLOCK_MONOTONIC through std::chrono::steady_clock.
class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
};

// Time stands still until Advance() is called. Loop-thread only.
class ManualClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  bool IsManual() const override { return true; }
  void Advance(Duration d) { now_ += d; }

 private:
  TimePoint now_{std::chrono::seconds(1000)};
};

}  // namespace labvirt::reactor

#endif  // LABVIRT_REACTOR_BASE_CLOCK_H_
