// FakeHypervisor: an in-process Hypervisor with no domains behind it, so benchmarks can drive the
// real LabEngine + RpcMethods without libvirtd. Every verb succeeds and its callback runs on the
// reactor in a later pass (as the libvirt one would, minus the worker pool). It keeps no state:
// ListDomains and ListMacs answer empty lists, GetXml an empty domain.
//
// Does not own the reactor, which must outlive it. Loop thread only. Benchmarks only.
#ifndef LABVIRT_BENCH_FAKE_HYPERVISOR_H_
#define LABVIRT_BENCH_FAKE_HYPERVISOR_H_

#include <string>
#include <utility>
#include <vector>

#include "providers/hypervisor.h"
#include "reactor/reactor.h"

namespace labvirt::bench {

class FakeHypervisor final : public providers::Hypervisor {
 public:
  explicit FakeHypervisor(reactor::Reactor& reactor) : reactor_(reactor) {}

  bool connected() const override { return true; }
  void SetEventHandler(EventHandler handler) override { events_ = std::move(handler); }
  void SetConnectedHandler(std::function<void()> handler) override {
    connected_ = std::move(handler);
  }
  void Define(std::string, Done done) override { Ok(std::move(done)); }
  void Start(std::string, bool, Done done) override { Ok(std::move(done)); }
  void Resume(std::string, Done done) override { Ok(std::move(done)); }
  void Shutdown(std::string, Done done) override { Ok(std::move(done)); }
  void Destroy(std::string, Done done) override { Ok(std::move(done)); }
  void Undefine(std::string, Done done) override { Ok(std::move(done)); }
  void GetXml(std::string, bool, std::function<void(Result<std::string>)> done) override {
    reactor_.Post([done = std::move(done)] { done(std::string("<domain/>")); });
  }
  void SetMetadata(std::string, std::string, Done done) override { Ok(std::move(done)); }
  void AttachDevice(std::string, std::string, Done done) override { Ok(std::move(done)); }
  void DetachDevice(std::string, std::string, Done done) override { Ok(std::move(done)); }
  void ListDomains(std::function<void(Result<std::vector<providers::DomainInfo>>)> done) override {
    reactor_.Post([done = std::move(done)] { done(std::vector<providers::DomainInfo>{}); });
  }
  void ListMacs(std::function<void(Result<std::vector<std::string>>)> done) override {
    reactor_.Post([done = std::move(done)] { done(std::vector<std::string>{}); });
  }
  void GetHostCapabilities(std::string,
                           std::function<void(Result<providers::HostCapabilities>)> done) override {
    reactor_.Post([done = std::move(done)] { done(providers::HostCapabilities{}); });
  }

 private:
  void Ok(Done done) {
    reactor_.Post([done = std::move(done)] { done(Status::Ok()); });
  }

  reactor::Reactor& reactor_;
  EventHandler events_;
  std::function<void()> connected_;
};

}  // namespace labvirt::bench

#endif  // LABVIRT_BENCH_FAKE_HYPERVISOR_H_
