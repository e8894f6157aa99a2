// TimerQueue: monotonic one-shot and periodic timers ordered by deadline.
//
// Pure data structure (no fds, no threads): the reactor asks it for the next deadline and calls
// FireDue() once per loop pass. Ids carry a sequence number, so cancelling a fired or unknown
// timer is harmless. Callbacks may add or cancel any timer, including themselves; a timer added
// or re-armed during FireDue() runs in a later pass at the earliest, which is what makes a
// period of zero mean "once per loop pass" (libvirt's interval-0 timeouts rely on that).
#ifndef LABVIRT_REACTOR_TIMER_QUEUE_H_
#define LABVIRT_REACTOR_TIMER_QUEUE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "reactor/base/clock.h"

namespace labvirt::reactor {

class TimerQueue {
 public:
  using Callback = std::function<void()>;

  // Adds a timer that fires at `deadline`; if `period` is set it then re-arms every period after
  // it fired. Returns its id (never 0).
  uint64_t Add(TimePoint deadline, std::optional<Duration> period, Callback cb);
  // Removes timer `id`. Returns false if it is unknown (fired one-shot or cancelled).
  bool Cancel(uint64_t id);
  // The earliest deadline, if any timer is armed.
  std::optional<TimePoint> NextDeadline() const;
  // Runs every timer whose deadline is <= now, earliest first. Returns how many ran.
  size_t FireDue(TimePoint now);
  size_t size() const { return by_id_.size(); }

 private:
  struct Entry {
    Callback cb;
    std::optional<Duration> period;
  };
  using Key = std::pair<TimePoint, uint64_t>;

  std::map<Key, Entry> by_deadline_;
  std::unordered_map<uint64_t, TimePoint> by_id_;
  uint64_t next_id_ = 1;
};

}  // namespace labvirt::reactor

#endif  // LABVIRT_REACTOR_TIMER_QUEUE_H_
