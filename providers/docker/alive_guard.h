// Guard: a callback that runs only while its owner lives, for answers that may come after the
// owner (the docker provider) is gone: client replies and worker results. The owner holds the
// shared_ptr<bool>; the callback holds a weak_ptr to it. Loop thread only.
#ifndef LABVIRT_PROVIDERS_DOCKER_ALIVE_GUARD_H_
#define LABVIRT_PROVIDERS_DOCKER_ALIVE_GUARD_H_

#include <memory>
#include <utility>

namespace labvirt::providers::docker {

// `f` wrapped to do nothing once `alive` has died.
template <typename F>
auto Guard(const std::shared_ptr<bool>& alive, F f) {
  return [weak = std::weak_ptr<bool>(alive), f = std::move(f)](auto&&... args) mutable {
    if (weak.expired()) return;
    f(std::forward<decltype(args)>(args)...);
  };
}

}  // namespace labvirt::providers::docker

#endif  // LABVIRT_PROVIDERS_DOCKER_ALIVE_GUARD_H_
