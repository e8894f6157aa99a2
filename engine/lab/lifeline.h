// Lifeline: the one lifetime rule above the reactor. An object that hands callbacks to something
// that may outlive it (the hypervisor's worker pool, the plumber's OVSDB client, the reactor)
// owns a Lifeline and passes every such callback through Bind(): once the object is destroyed,
// the bound callbacks do nothing when they are finally called. Timers it starts are OpHandles it
// owns (reactor/op_handle.h), cancelled by their destruction. Nothing else checks liveness.
//
// Declare the Lifeline as the owner's last member, so it dies first. Loop thread only.
#ifndef LABVIRT_ENGINE_LAB_LIFELINE_H_
#define LABVIRT_ENGINE_LAB_LIFELINE_H_

#include <memory>
#include <utility>

namespace labvirt::engine {

class Lifeline {
 public:
  Lifeline() = default;
  ~Lifeline() { *alive_ = false; }
  Lifeline(const Lifeline&) = delete;
  Lifeline& operator=(const Lifeline&) = delete;

  // `f`, called only while the owner lives (then with the same arguments); returns nothing.
  template <typename F>
  auto Bind(F f) const {
    return [alive = alive_, f = std::move(f)](auto&&... args) mutable {
      if (*alive) f(std::forward<decltype(args)>(args)...);
    };
  }

 private:
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The wrapping for WrappedHypervisor and WrappedPlumber that binds every callback to `life`.
struct BindToLifeline {
  const Lifeline* life;
  template <typename Callback>
  Callback operator()(const char* /*verb*/, Callback done) const {
    return life->Bind(std::move(done));
  }
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_LIFELINE_H_
