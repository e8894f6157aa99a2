#include "engine/lab/admission.h"

#include <algorithm>
#include <thread>

namespace labvirt::engine {

double DefaultBootBudget() {
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 2.0 : static_cast<double>(cores);
}

bool Admission::Request(const std::string& key, double weight, std::function<void()> on_admitted) {
  if (IsQueued(key) || IsAdmitted(key)) return false;
  queue_.push_back({key, std::max(weight, 0.0), std::move(on_admitted)});
  AdmitWhatFits();
  return true;
}

void Admission::Release(const std::string& key) {
  if (auto it = admitted_.find(key); it != admitted_.end()) {
    in_use_ -= it->second;
    if (in_use_ < 1e-9) in_use_ = 0;
    admitted_.erase(it);
  } else {
    auto q =
        std::find_if(queue_.begin(), queue_.end(), [&](const Waiter& w) { return w.key == key; });
    if (q == queue_.end()) return;
    queue_.erase(q);
  }
  AdmitWhatFits();
}

bool Admission::IsQueued(const std::string& key) const {
  return std::any_of(queue_.begin(), queue_.end(), [&](const Waiter& w) { return w.key == key; });
}

std::vector<std::string> Admission::Queue() const {
  std::vector<std::string> keys;
  for (const auto& w : queue_) keys.push_back(w.key);
  return keys;
}

void Admission::set_budget(double budget) {
  budget_ = budget;
  AdmitWhatFits();
}

void Admission::AdmitWhatFits() {
  // Callbacks may call back into Request/Release; take each waiter off the queue before calling.
  while (!queue_.empty()) {
    Waiter& head = queue_.front();
    bool fits = in_use_ + head.weight <= budget_ + 1e-9;
    bool alone = admitted_.empty();  // heavier than the budget: boot it by itself
    if (!fits && !alone) return;
    Waiter w = std::move(head);
    queue_.pop_front();
    in_use_ += w.weight;
    admitted_[w.key] = w.weight;
    if (w.on_admitted) w.on_admitted();
  }
}

}  // namespace labvirt::engine
