// ControlPlane: the control socket as labvirtd's composition root sees it: the JSON-RPC server
// with every method registered (the engine's, the catalog's, and the daemon's own host.info and
// metrics through hooks), behind a header that carries no JSON-RPC type.
//
// Does not own the reactor, engine, catalog or pool, which must outlive it. Loop thread.
#ifndef LABVIRT_ENGINE_CONTROL_CONTROL_PLANE_H_
#define LABVIRT_ENGINE_CONTROL_CONTROL_PLANE_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "engine/catalog/catalog.h"
#include "engine/lab/lab_engine.h"
#include "reactor/base/status.h"
#include "reactor/reactor.h"
#include "reactor/worker_pool.h"

namespace labvirt::engine {

class ControlServer;
class RpcMethods;
class CaptureMethods;

// What the daemon answers itself: host.info's JSON object and the Prometheus text of `metrics`.
struct DaemonHooks {
  std::function<std::string()> host_info_json;
  std::function<std::string()> metrics_text;
};

class ControlPlane {
 public:
  ControlPlane(reactor::Reactor& reactor, LabEngine& engine, const Catalog& catalog,
               reactor::WorkerPool& pool, DaemonHooks hooks);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Listens on the Unix socket at `path` (docs/protocol.md).
  Status Listen(const std::string& path);
  size_t client_count() const;

 private:
  std::unique_ptr<ControlServer> server_;
  std::unique_ptr<RpcMethods> rpc_;
  std::unique_ptr<CaptureMethods> captures_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONTROL_CONTROL_PLANE_H_
