// Hypervisor decorators: WrappedHypervisor passes every callback through a wrapping;
// TimedHypervisor times libvirt calls for `metrics`.
#ifndef LABVIRT_ENGINE_LAB_WRAPPED_HYPERVISOR_H_
#define LABVIRT_ENGINE_LAB_WRAPPED_HYPERVISOR_H_

#include <chrono>
#include <utility>

#include "engine/lab/metrics.h"
#include "providers/hypervisor.h"

namespace labvirt::engine {

// A Hypervisor that forwards every verb to `inner` with its callback passed through
// `wrap(verb, callback)`, which returns the callback to hand on. Timing (TimedHypervisor below)
// and LabEngine's lifetime rule (engine/lab/lifeline.h) are such wrappings.
//
// Does not own `inner`, which must outlive it. Loop thread.
template <typename Wrap>
class WrappedHypervisor final : public providers::Hypervisor {
 public:
  WrappedHypervisor(providers::Hypervisor& inner, Wrap wrap)
      : inner_(inner), wrap_(std::move(wrap)) {}

  bool connected() const override { return inner_.connected(); }
  // Handlers are not calls: they pass as they are (their owner sets and clears them).
  void SetEventHandler(EventHandler handler) override {
    inner_.SetEventHandler(std::move(handler));
  }
  void SetConnectedHandler(std::function<void()> handler) override {
    inner_.SetConnectedHandler(std::move(handler));
  }
  void Define(std::string xml, Done done) override {
    inner_.Define(std::move(xml), wrap_("define", std::move(done)));
  }
  void Start(std::string name, bool paused, Done done) override {
    inner_.Start(std::move(name), paused, wrap_("start", std::move(done)));
  }
  void Resume(std::string name, Done done) override {
    inner_.Resume(std::move(name), wrap_("resume", std::move(done)));
  }
  void Shutdown(std::string name, Done done) override {
    inner_.Shutdown(std::move(name), wrap_("shutdown", std::move(done)));
  }
  void Destroy(std::string name, Done done) override {
    inner_.Destroy(std::move(name), wrap_("destroy", std::move(done)));
  }
  void Undefine(std::string name, Done done) override {
    inner_.Undefine(std::move(name), wrap_("undefine", std::move(done)));
  }
  void GetXml(std::string name, bool live, std::function<void(Result<std::string>)> done) override {
    inner_.GetXml(std::move(name), live, wrap_("get_xml", std::move(done)));
  }
  void SetMetadata(std::string name, std::string xml, Done done) override {
    inner_.SetMetadata(std::move(name), std::move(xml), wrap_("set_metadata", std::move(done)));
  }
  void AttachDevice(std::string name, std::string xml, Done done) override {
    inner_.AttachDevice(std::move(name), std::move(xml), wrap_("attach_device", std::move(done)));
  }
  void DetachDevice(std::string name, std::string xml, Done done) override {
    inner_.DetachDevice(std::move(name), std::move(xml), wrap_("detach_device", std::move(done)));
  }
  void ListDomains(std::function<void(Result<std::vector<providers::DomainInfo>>)> done) override {
    inner_.ListDomains(wrap_("list_domains", std::move(done)));
  }
  void ListMacs(std::function<void(Result<std::vector<std::string>>)> done) override {
    inner_.ListMacs(wrap_("list_macs", std::move(done)));
  }
  void GetHostCapabilities(std::string virttype,
                           std::function<void(Result<providers::HostCapabilities>)> done) override {
    inner_.GetHostCapabilities(std::move(virttype), wrap_("host_capabilities", std::move(done)));
  }

 private:
  providers::Hypervisor& inner_;
  Wrap wrap_;
};

// Records how long each verb took (submission to completion, so worker-pool queueing counts) in
// a LatencyTable keyed by verb: labvirt_libvirt_call_seconds{verb=...} in `metrics`. `table`
// must outlive it.
struct TimeCalls {
  LatencyTable* table;
  template <typename Callback>
  Callback operator()(const char* verb, Callback done) const {
    auto t0 = std::chrono::steady_clock::now();
    return [table = table, verb, t0, done = std::move(done)](auto&&... result) {
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
      table->Observe(verb, took.count());
      done(std::forward<decltype(result)>(result)...);
    };
  }
};
using TimedHypervisor = WrappedHypervisor<TimeCalls>;

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_WRAPPED_HYPERVISOR_H_
