#include "reactor/timer_queue.h"

#include <vector>

namespace labvirt::reactor {

uint64_t TimerQueue::Add(TimePoint deadline, std::optional<Duration> period, Callback cb) {
  uint64_t id = next_id_++;
  by_deadline_.emplace(Key{deadline, id}, Entry{std::move(cb), period});
  by_id_.emplace(id, deadline);
  return id;
}

bool TimerQueue::Cancel(uint64_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  by_deadline_.erase(Key{it->second, id});
  by_id_.erase(it);
  return true;
}

std::optional<TimePoint> TimerQueue::NextDeadline() const {
  if (by_deadline_.empty()) return std::nullopt;
  return by_deadline_.begin()->first.first;
}

size_t TimerQueue::FireDue(TimePoint now) {
  // Snapshot the due ids first: callbacks may change the queue, and a timer re-armed with a zero
  // period must not run twice in one pass.
  std::vector<uint64_t> due;
  for (const auto& [key, entry] : by_deadline_) {
    if (key.first > now) break;
    due.push_back(key.second);
  }
  size_t fired = 0;
  for (uint64_t id : due) {
    auto idit = by_id_.find(id);
    if (idit == by_id_.end()) continue;  // cancelled by an earlier callback in this pass
    auto node = by_deadline_.extract(Key{idit->second, id});
    Entry entry = std::move(node.mapped());
    Callback cb;
    if (entry.period) {
      // Re-arm from now, not from the old deadline: a late loop must not fire a burst.
      TimePoint next = now + *entry.period;
      cb = entry.cb;  // keep a copy; the stored one stays for later periods
      by_deadline_.emplace(Key{next, id}, std::move(entry));
      idit->second = next;
    } else {
      cb = std::move(entry.cb);
      by_id_.erase(idit);
    }
    ++fired;
    cb();
  }
  return fired;
}

}  // namespace labvirt::reactor
