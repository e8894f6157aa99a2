// RestartPolicy: whether and when to restart a node that crashed or stopped unexpectedly. Bounded
// retries with exponential backoff; the count resets once the node has stayed ready long enough.
#ifndef LABVIRT_ENGINE_LAB_RESTART_POLICY_H_
#define LABVIRT_ENGINE_LAB_RESTART_POLICY_H_

#include <chrono>
#include <optional>

namespace labvirt::engine {

struct RestartPolicy {
  int max_restarts = 3;
  std::chrono::milliseconds base_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
  // A node that stayed ready this long before it crashed starts counting its restarts afresh:
  // a crash a week after the last one is not a crash loop.
  std::chrono::milliseconds stable_after{300000};

  // The delay before restart number `attempt` (1-based), or nullopt once the retries are spent.
  std::optional<std::chrono::milliseconds> Delay(int attempt) const {
    if (attempt < 1 || attempt > max_restarts) return std::nullopt;
    auto d = base_backoff;
    for (int i = 1; i < attempt && d < max_backoff; ++i) d *= 2;
    return std::min(d, max_backoff);
  }
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_RESTART_POLICY_H_
