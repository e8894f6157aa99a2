// The capture methods of the control socket (docs/protocol.md, docs/capture.md): link.capture and
// node.nic.capture check everything a client can get wrong (lab, node, interface or link, a node
// that is not running, a filter that does not compile, limits), answer once in JSON, and then
// the connection carries a pcapng stream (engine/capture/capture_session.h) until the capture
// ends. Owns the running sessions.
//
// Does not own the reactor, server or engine, which must outlive it. Loop thread.
#ifndef LABVIRT_ENGINE_CONTROL_CAPTURE_METHODS_H_
#define LABVIRT_ENGINE_CONTROL_CAPTURE_METHODS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "engine/capture/capture_session.h"
#include "engine/control/control_server.h"
#include "engine/lab/lab_engine.h"
#include "reactor/reactor.h"

namespace labvirt::engine {

class CaptureMethods {
 public:
  // At most this many captures run at once (each holds a packet socket and up to
  // CaptureOptions::max_queue_bytes of queue).
  static constexpr size_t kMaxCaptures = 64;

  CaptureMethods(reactor::Reactor& reactor, ControlServer& server, LabEngine& engine,
                 CaptureOptions options = {});
  // Closes every capture's sockets.
  ~CaptureMethods();
  CaptureMethods(const CaptureMethods&) = delete;
  CaptureMethods& operator=(const CaptureMethods&) = delete;

  void Register();
  size_t active() const { return sessions_.size(); }

 private:
  // Checks the filter, the limits and the tap, answers, then streams `target` to the client.
  void Begin(simdjson::dom::element params, RpcContext ctx, RpcReply reply, const std::string& lab,
             Result<NicTarget> target);

  reactor::Reactor& reactor_;
  ControlServer& server_;
  LabEngine& engine_;
  const CaptureOptions options_;
  std::map<uint64_t, std::unique_ptr<CaptureSession>> sessions_;
  uint64_t next_id_ = 1;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONTROL_CAPTURE_METHODS_H_
