// LibvirtConnection: one connection to libvirtd, kept alive and re-opened when it drops.
//
// Opening and closing run on the worker pool (they are blocking RPCs); state changes are reported
// on the reactor thread. Liveness comes from libvirt itself: keepalive probes (so a hung libvirtd
// is noticed) and the close callback (so a dead one is noticed at once); there is no polling.
// After a loss it re-opens with exponential backoff (0.5 s doubling to 30 s).
//
// Requires LibvirtEventImpl to be installed. Does not own the reactor or the pool, which must
// outlive it. Loop thread only, except conn_for_worker().
#ifndef LABVIRT_PROVIDERS_LIBVIRT_CONNECTION_H_
#define LABVIRT_PROVIDERS_LIBVIRT_CONNECTION_H_

#include <libvirt/libvirt.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "reactor/op_handle.h"
#include "reactor/reactor.h"
#include "reactor/worker_pool.h"

namespace labvirt::providers {

struct LibvirtConnectionEvents {
  // The connection is open (first time or after a reconnect). Loop thread.
  std::function<void()> on_connected;
  // The connection was lost; `reason` says why. Loop thread.
  std::function<void(const std::string& reason)> on_lost;
};

class LibvirtConnection {
 public:
  LibvirtConnection(reactor::Reactor& reactor, reactor::WorkerPool& pool, std::string uri,
                    LibvirtConnectionEvents events);
  // Closes the connection synchronously (a blocking call, made once at shutdown).
  ~LibvirtConnection();
  LibvirtConnection(const LibvirtConnection&) = delete;
  LibvirtConnection& operator=(const LibvirtConnection&) = delete;

  // Starts the first open attempt.
  void Start();
  bool connected() const { return conn_ != nullptr; }
  const std::string& uri() const { return uri_; }
  // libvirt's version of the daemon (e.g. 9000000), 0 if unknown.
  unsigned long version() const { return version_; }
  // Times the connection was re-established after a loss.
  uint64_t reconnects() const { return reconnects_; }
  // The handle for blocking calls on worker threads. May be nullptr. The connection object stays
  // valid while a worker uses it (libvirt reference-counts it; we take a reference per job).
  virConnectPtr conn_for_worker() const { return conn_; }

  // The last libvirt error on this thread, as text ("unknown libvirt error" if none).
  static std::string LastError();
  // Routes libvirt's own error printing away from stderr (we log errors where handled).
  static void SilenceDefaultErrorPrinting();

 private:
  struct OpenResult {
    virConnectPtr conn = nullptr;
    unsigned long version = 0;
    std::string error;
  };
  void TryOpen();
  void OnOpened(OpenResult result);
  void OnClosed(int reason);
  void ScheduleRetry();
  static void CloseCallback(virConnectPtr conn, int reason, void* opaque);

  reactor::Reactor& reactor_;
  reactor::WorkerPool& pool_;
  const std::string uri_;
  LibvirtConnectionEvents events_;
  virConnectPtr conn_ = nullptr;
  unsigned long version_ = 0;
  uint64_t reconnects_ = 0;
  bool ever_connected_ = false;
  reactor::Duration backoff_ = std::chrono::milliseconds(500);
  // Guards against a worker result arriving after destruction.
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  reactor::OpHandle retry_timer_;
};

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_LIBVIRT_CONNECTION_H_
