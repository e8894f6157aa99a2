// LibvirtHypervisor: the Hypervisor seam on libvirt. Owns the libvirt connection (keepalive,
// reconnect) and the lifecycle-event registration, which it renews after every reconnect and
// drops before the connection closes (libvirt never closes a connection with callbacks left).
//
// Every verb takes a reference on the connection on the loop thread, runs its RPCs on the worker
// pool, and posts the result back; a verb issued while disconnected fails with kUnavailable.
// Does not own the reactor or the pool, which must outlive it. Loop thread only.
#ifndef LABVIRT_PROVIDERS_LIBVIRT_HYPERVISOR_H_
#define LABVIRT_PROVIDERS_LIBVIRT_HYPERVISOR_H_

#include <libvirt/libvirt.h>

#include <atomic>
#include <memory>
#include <string>

#include "providers/hypervisor.h"
#include "providers/libvirt_connection.h"
#include "reactor/reactor.h"
#include "reactor/worker_pool.h"

namespace labvirt::providers {

class LibvirtHypervisor final : public Hypervisor {
 public:
  LibvirtHypervisor(reactor::Reactor& reactor, reactor::WorkerPool& pool, std::string uri);
  // Deregisters the event callback and closes the connection (blocking, once, at shutdown).
  ~LibvirtHypervisor() override;

  // Opens the connection (asynchronously; the connected handler runs when it is up).
  void Start();
  const LibvirtConnection& connection() const { return *connection_; }

  bool connected() const override { return connection_->connected(); }
  void SetEventHandler(EventHandler handler) override { event_handler_ = std::move(handler); }
  void SetConnectedHandler(std::function<void()> handler) override {
    connected_handler_ = std::move(handler);
  }
  void Define(std::string xml, Done done) override;
  void Start(std::string name, bool paused, Done done) override;
  void Resume(std::string name, Done done) override;
  void Shutdown(std::string name, Done done) override;
  void Destroy(std::string name, Done done) override;
  void Undefine(std::string name, Done done) override;
  void GetXml(std::string name, bool live, std::function<void(Result<std::string>)> done) override;
  void SetMetadata(std::string name, std::string metadata_xml, Done done) override;
  void AttachDevice(std::string name, std::string device_xml, Done done) override;
  void DetachDevice(std::string name, std::string device_xml, Done done) override;
  void ListDomains(std::function<void(Result<std::vector<DomainInfo>>)> done) override;
  void ListMacs(std::function<void(Result<std::vector<std::string>>)> done) override;
  void GetHostCapabilities(std::string virttype,
                           std::function<void(Result<HostCapabilities>)> done) override;

  // Maps a libvirt lifecycle event and detail to ours. Exposed for tests.
  static DomainEventInfo TranslateEvent(const char* name, int event, int detail);

 private:
  // Runs `call` on a worker with a referenced connection; `done` gets its result on the loop.
  template <typename T>
  void Run(std::function<Result<T>(virConnectPtr)> call, std::function<void(Result<T>)> done);
  // Runs `call` on the domain `name` (looked up on the worker).
  void RunOnDomain(std::string name, std::function<Status(virDomainPtr)> call, Done done);
  void OnConnected();
  // The connection was lost: its lifecycle registration is dropped on a worker, which lets
  // libvirt free the dead connection.
  void ForgetDeadEvents();
  static int OnLifecycle(virConnectPtr, virDomainPtr dom, int event, int detail, void* opaque);

  reactor::Reactor& reactor_;
  reactor::WorkerPool& pool_;
  EventHandler event_handler_;
  std::function<void()> connected_handler_;
  // The connection the callback is registered on, and its id (-1: none).
  virConnectPtr event_conn_ = nullptr;
  int event_callback_id_ = -1;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  std::unique_ptr<LibvirtConnection> connection_;
};

// The Status for the calling thread's last libvirt error, with `context`: kNotFound for a missing
// domain, kUnavailable for a broken connection, kFailedPrecondition for an invalid operation.
Status LibvirtError(const std::string& context);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_LIBVIRT_HYPERVISOR_H_
