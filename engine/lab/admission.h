// Admission: boots are admitted against a budget of concurrent weighted starts, so a 50-VM lab
// does not boot-storm the host (peers' users report random boot failures when everything starts
// at once). A node holds its slot from admission until it is ready, failed or stopped.
//
// First come, first served: a heavy node at the head waits for room rather than being overtaken
// forever. A node heavier than the whole budget is admitted alone. Pure logic, loop thread only;
// the callback runs synchronously inside Request() or Release().
#ifndef LABVIRT_ENGINE_LAB_ADMISSION_H_
#define LABVIRT_ENGINE_LAB_ADMISSION_H_

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace labvirt::engine {

// The budget when none is configured: one weighted boot per host core.
double DefaultBootBudget();

class Admission {
 public:
  // `budget` > 0: the sum of weights that may boot at once.
  explicit Admission(double budget) : budget_(budget) {}

  // Queues `key` (unique among queued and admitted keys) with `weight`; `on_admitted` runs when it
  // gets its slot — possibly at once, before Request returns. Returns false if `key` is known.
  bool Request(const std::string& key, double weight, std::function<void()> on_admitted);
  // Frees the slot of `key`, or drops it from the queue. Admits whoever now fits. Unknown keys are
  // ignored (a node may release twice, e.g. ready then stopped).
  void Release(const std::string& key);

  bool IsQueued(const std::string& key) const;
  bool IsAdmitted(const std::string& key) const { return admitted_.count(key) > 0; }
  // Keys waiting, in admission order.
  std::vector<std::string> Queue() const;
  double in_use() const { return in_use_; }
  double budget() const { return budget_; }
  void set_budget(double budget);

 private:
  struct Waiter {
    std::string key;
    double weight;
    std::function<void()> on_admitted;
  };
  void AdmitWhatFits();

  double budget_;
  double in_use_ = 0;
  std::deque<Waiter> queue_;
  std::map<std::string, double> admitted_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_ADMISSION_H_
