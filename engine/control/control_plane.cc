#include "engine/control/control_plane.h"

#include "engine/control/capture_methods.h"
#include "engine/control/control_server.h"
#include "engine/control/rpc_methods.h"
#include "reactor/base/json_writer.h"

namespace labvirt::engine {

ControlPlane::ControlPlane(reactor::Reactor& reactor, LabEngine& engine, const Catalog& catalog,
                           reactor::WorkerPool& pool, DaemonHooks hooks)
    : server_(std::make_unique<ControlServer>(reactor, ControlServerOptions{})) {
  server_->AddMethod("host.info", {},
                     [info = std::move(hooks.host_info_json)](simdjson::dom::element) -> RpcResult {
                       return info();
                     });
  // Prometheus text, as one JSON string (the protocol carries JSON only).
  server_->AddMethod("metrics", {},
                     [text = std::move(hooks.metrics_text)](simdjson::dom::element) -> RpcResult {
                       JsonWriter w;
                       w.String(text());
                       return w.Take();
                     });
  rpc_ = std::make_unique<RpcMethods>(*server_, engine, catalog, pool);
  rpc_->Register();
  captures_ = std::make_unique<CaptureMethods>(reactor, *server_, engine);
  captures_->Register();
}

// Methods first: they hold the server.
ControlPlane::~ControlPlane() {
  captures_.reset();
  rpc_.reset();
}

Status ControlPlane::Listen(const std::string& path) { return server_->Listen(path); }

size_t ControlPlane::client_count() const { return server_->client_count(); }

}  // namespace labvirt::engine
