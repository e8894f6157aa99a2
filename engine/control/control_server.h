// ControlServer: the Unix-socket JSON-RPC 2.0 endpoint of labvirtd (one JSON object per line). The
// wire format (framing, envelopes, error codes, answers) is engine/control/jsonrpc.h's; this is the
// socket, the clients and the method table.
//
// It owns the listening socket and every client connection; it does not own the reactor (which
// must outlive it) or what method handlers capture. Loop thread only.
//
// Bad input never hurts anyone else: malformed JSON, a wrong envelope, an unknown method or an
// oversized line is answered with the standard JSON-RPC error (with a `data` object naming what
// was wrong) and only that client is affected. Requests on one connection are answered in order.
// A client whose unsent output exceeds its bound is disconnected instead of growing memory.
#ifndef LABVIRT_ENGINE_CONTROL_CONTROL_SERVER_H_
#define LABVIRT_ENGINE_CONTROL_CONTROL_SERVER_H_

#include <simdjson.h>
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/control/jsonrpc.h"
#include "reactor/base/status.h"
#include "reactor/base/unique_fd.h"
#include "reactor/reactor.h"

namespace labvirt::engine {

// A method's result (JSON text) or its error.
using RpcResult = std::variant<std::string, RpcError>;
// `params` is the request's params member, or a null element when absent.
using RpcHandler = std::function<RpcResult(simdjson::dom::element params)>;
// Who is calling: the connection's id (for subscriptions and console take-over).
struct RpcContext {
  uint64_t client = 0;  // 0 for HandleLine (no connection)
};
// Answers a request; call it exactly once, now or later, on the loop thread.
using RpcReply = std::function<void(RpcResult)>;
// An asynchronous method. `params` is valid only until the handler returns: copy what you need.
using AsyncRpcHandler =
    std::function<void(simdjson::dom::element params, RpcContext ctx, RpcReply reply)>;
// The named parameters a method takes. The server refuses, before the handler runs, a request
// whose params object has any other member (-32602, `data.field` naming it) or whose params are a
// non-empty array (labvirt's methods take named parameters only).
using ParamNames = std::vector<std::string>;

struct ControlServerOptions {
  size_t max_line_bytes = kMaxRequestLineBytes;
  size_t max_clients = 1024;
  size_t max_output_bytes = 8 << 20;
  // Requests of one client awaiting their answers (slow asynchronous ones, e.g. node.start with
  // wait): beyond this the client gets one error line and is disconnected, so one client cannot
  // grow labvirtd's memory without bound.
  size_t max_pending_requests = 1024;
};

class ControlServer {
 public:
  ControlServer(reactor::Reactor& reactor, ControlServerOptions options);
  // Closes every client and removes the socket file it created.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Binds `path` (mode 0660, group `labvirt` when that group exists) and starts accepting. Each
  // connection whose peer is neither root, this process's user nor in group labvirt is told so
  // and closed (peer_access.h), its pid, uid and gid logged.
  // Refuses if another server answers on `path`; removes a stale socket file.
  Status Listen(const std::string& path);
  // Registers `name`, taking the parameters `params` (see ParamNames).
  void AddMethod(std::string name, ParamNames params, RpcHandler handler);
  void AddAsyncMethod(std::string name, ParamNames params, AsyncRpcHandler handler);
  size_t client_count() const { return clients_.size(); }

  // Sends a JSON-RPC notification ({"method": method, "params": params_json}) to `client`, after
  // the answers already queued for it. Unknown clients are ignored.
  void Notify(uint64_t client, std::string_view method, std::string_view params_json);
  // The same with the notification already built (jsonrpc.h's Notification()): one event sent
  // to many subscribers is serialised once.
  void NotifyLine(uint64_t client, std::string_view notification);
  // Once everything queued for `client` is sent, removes the connection from the server and hands
  // its socket to `take` (console.attach: raw bytes from then on).
  void TakeOver(uint64_t client, std::function<void(UniqueFd)> take);
  // Called when a client leaves (or is taken over), so owners can drop its subscriptions.
  void SetClientClosedHandler(std::function<void(uint64_t client)> handler) {
    client_closed_ = std::move(handler);
  }

  // Handles one request line and returns the response line (without '\n'), or an empty string for
  // a notification. Synchronous methods only. Exposed for tests.
  std::string HandleLine(std::string_view line);

 private:
  struct Client;
  struct Method {
    ParamNames params;
    AsyncRpcHandler handler;
  };
  void StartAccept();
  void OnAccept(Result<UniqueFd> fd);
  // Tells a connection about to be closed why (one error line, id null), without waiting.
  // Stops reading `id`, drops its pending requests, queues the "too many requests" error line and
  // closes once it is sent.
  void CutOff(uint64_t id);
  static void Refuse(const UniqueFd& fd, std::string summary, std::string_view field,
                     std::string_view reason);
  // Parses and runs one request; `respond` gets the response line ("" for a notification).
  void Invoke(uint64_t client, std::string_view line, std::function<void(std::string)> respond);
  void Respond(uint64_t client, uint64_t seq, std::string line);
  void StartRecv(uint64_t id);
  void OnRecv(uint64_t id, Result<std::span<const char>> data);
  void Enqueue(uint64_t id, std::string line);
  void Flush(uint64_t id);
  void Close(uint64_t id, const std::string& reason);

  reactor::Reactor& reactor_;
  const ControlServerOptions options_;
  std::string path_;
  UniqueFd listen_fd_;
  RequestDecoder decoder_;
  std::map<std::string, Method, std::less<>> methods_;
  std::function<void(uint64_t)> client_closed_;
  std::map<uint64_t, std::unique_ptr<Client>> clients_;
  uint64_t next_client_id_ = 1;
  uid_t own_uid_ = 0;                  // the daemon's user: may connect (see peer_access.h)
  std::optional<gid_t> access_group_;  // group labvirt, when the host has it
  bool accept_failing_ = false;
  reactor::OpHandle accept_retry_;
  reactor::OpHandle accept_op_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONTROL_CONTROL_SERVER_H_
