// ControlServer: the Unix-socket JSON-RPC 2.0 endpoint of labvirtd (one JSON object per line).
//
// It owns the listening socket and every client connection; it does not own the reactor (which
// must outlive it) or what method handlers capture. Loop thread only.
//
// Bad input never hurts anyone else: malformed JSON, a wrong envelope, an unknown method or an
// oversized line is answered with the standard JSON-RPC error (with a `data` object naming what
// was wrong) and only that client is affected. Requests on one connection are answered in order.
// A client whose unsent output exceeds its bound is disconnected instead of growing memory.
#ifndef LABVIRT_ENGINE_CONTROL_SERVER_H_
#define LABVIRT_ENGINE_CONTROL_SERVER_H_

#include <simdjson.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>

#include "reactor/reactor.h"
#include "reactor/status.h"
#include "reactor/unique_fd.h"

namespace labvirt::engine {

// JSON-RPC 2.0 error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;

struct RpcError {
  int code;
  std::string message;
  std::string data_json;  // a JSON object text, or empty
};

// A method's result (JSON text) or its error.
using RpcResult = std::variant<std::string, RpcError>;
// `params` is the request's params member, or a null element when absent.
using RpcHandler = std::function<RpcResult(simdjson::dom::element params)>;

struct ControlServerOptions {
  size_t max_line_bytes = 1 << 20;
  size_t max_clients = 1024;
  size_t max_output_bytes = 8 << 20;
};

class ControlServer {
 public:
  ControlServer(reactor::Reactor& reactor, ControlServerOptions options);
  // Closes every client and removes the socket file it created.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Binds `path` (mode 0660, group `labvirt` when that group exists) and starts accepting.
  // Refuses if another server answers on `path`; removes a stale socket file.
  Status Listen(const std::string& path);
  void AddMethod(std::string name, RpcHandler handler);
  size_t client_count() const { return clients_.size(); }

  // Handles one request line and returns the response line (without '\n'), or an empty string for
  // a notification. Exposed for tests.
  std::string HandleLine(std::string_view line);

 private:
  struct Client;
  void OnAccept(Result<UniqueFd> fd);
  void StartRecv(uint64_t id);
  void OnRecv(uint64_t id, Result<std::span<const char>> data);
  void Enqueue(uint64_t id, std::string line);
  void Flush(uint64_t id);
  void Close(uint64_t id, const std::string& reason);

  reactor::Reactor& reactor_;
  const ControlServerOptions options_;
  std::string path_;
  UniqueFd listen_fd_;
  simdjson::dom::parser parser_;
  simdjson::dom::parser null_parser_;
  simdjson::dom::element null_params_;
  std::map<std::string, RpcHandler> methods_;
  std::map<uint64_t, std::unique_ptr<Client>> clients_;
  uint64_t next_client_id_ = 1;
  reactor::OpHandle accept_op_;
};

// Builds an RpcError whose data names the offending field: {"field": field, "reason": reason}.
RpcError FieldError(int code, std::string message, std::string_view field, std::string_view reason);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONTROL_SERVER_H_
