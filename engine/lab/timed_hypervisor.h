// TimedHypervisor: a Hypervisor that forwards every verb to another one and records how long
// each took (submission to completion, so worker-pool queueing counts) in a LatencyTable keyed
// by verb — labvirt_libvirt_call_seconds{verb=...} in `metrics`.
//
// Does not own `inner` or `table`, which must outlive it. Loop thread.
#ifndef LABVIRT_ENGINE_LAB_TIMED_HYPERVISOR_H_
#define LABVIRT_ENGINE_LAB_TIMED_HYPERVISOR_H_

#include <chrono>

#include "engine/lab/metrics.h"
#include "providers/hypervisor.h"

namespace labvirt::engine {

class TimedHypervisor final : public providers::Hypervisor {
 public:
  TimedHypervisor(providers::Hypervisor& inner, LatencyTable& table)
      : inner_(inner), table_(table) {}

  bool connected() const override { return inner_.connected(); }
  void SetEventHandler(EventHandler handler) override {
    inner_.SetEventHandler(std::move(handler));
  }
  void SetConnectedHandler(std::function<void()> handler) override {
    inner_.SetConnectedHandler(std::move(handler));
  }
  void Define(std::string xml, Done done) override {
    inner_.Define(std::move(xml), Timed("define", std::move(done)));
  }
  void Start(std::string name, bool paused, Done done) override {
    inner_.Start(std::move(name), paused, Timed("start", std::move(done)));
  }
  void Resume(std::string name, Done done) override {
    inner_.Resume(std::move(name), Timed("resume", std::move(done)));
  }
  void Shutdown(std::string name, Done done) override {
    inner_.Shutdown(std::move(name), Timed("shutdown", std::move(done)));
  }
  void Destroy(std::string name, Done done) override {
    inner_.Destroy(std::move(name), Timed("destroy", std::move(done)));
  }
  void Undefine(std::string name, Done done) override {
    inner_.Undefine(std::move(name), Timed("undefine", std::move(done)));
  }
  void GetXml(std::string name, bool live, std::function<void(Result<std::string>)> done) override {
    inner_.GetXml(std::move(name), live, Timed("get_xml", std::move(done)));
  }
  void SetMetadata(std::string name, std::string xml, Done done) override {
    inner_.SetMetadata(std::move(name), std::move(xml), Timed("set_metadata", std::move(done)));
  }
  void AttachDevice(std::string name, std::string xml, Done done) override {
    inner_.AttachDevice(std::move(name), std::move(xml), Timed("attach_device", std::move(done)));
  }
  void DetachDevice(std::string name, std::string xml, Done done) override {
    inner_.DetachDevice(std::move(name), std::move(xml), Timed("detach_device", std::move(done)));
  }
  void ListDomains(std::function<void(Result<std::vector<providers::DomainInfo>>)> done) override {
    inner_.ListDomains(Timed("list_domains", std::move(done)));
  }
  void ListMacs(std::function<void(Result<std::vector<std::string>>)> done) override {
    inner_.ListMacs(Timed("list_macs", std::move(done)));
  }
  void GetHostCapabilities(std::string virttype,
                           std::function<void(Result<providers::HostCapabilities>)> done) override {
    inner_.GetHostCapabilities(std::move(virttype), Timed("host_capabilities", std::move(done)));
  }

 private:
  // Wraps `done` so that its call records the time since now under `verb`.
  template <typename Callback>
  Callback Timed(const char* verb, Callback done) {
    auto t0 = std::chrono::steady_clock::now();
    LatencyTable* table = &table_;
    return [table, verb, t0, done = std::move(done)](auto result) {
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
      table->Observe(verb, took.count());
      done(std::move(result));
    };
  }

  providers::Hypervisor& inner_;
  LatencyTable& table_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_TIMED_HYPERVISOR_H_
