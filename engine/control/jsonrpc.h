// The JSON-RPC 2.0 codec of labvirt's control protocol (docs/protocol.md): line framing, request
// envelopes and answers, for both ends (labvirtd's ControlServer and labvirtctl's Client).
//
// Pure: it takes bytes and returns messages or lines; it touches no fd and knows no method. What
// a request means (which methods exist, which parameters they take) is the server's business.
// Not thread-safe: one framer or decoder per connection or loop.
#ifndef LABVIRT_ENGINE_CONTROL_JSONRPC_H_
#define LABVIRT_ENGINE_CONTROL_JSONRPC_H_

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "reactor/base/status.h"

namespace labvirt::engine {

// JSON-RPC 2.0 error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;

// The longest request line labvirtd accepts by default (ControlServerOptions::max_line_bytes).
inline constexpr size_t kMaxRequestLineBytes = 1 << 20;

struct RpcError {
  int code;
  std::string message;
  std::string data_json;  // a JSON object text, or empty
};

// Builds an RpcError whose data names the offending field: {"field": field, "reason": reason}.
RpcError FieldError(int code, std::string message, std::string_view field, std::string_view reason);

// Splits a byte stream into lines ending in '\n'. A trailing '\r' is dropped and empty lines are
// skipped. A line longer than `max_line_bytes` (counted without its '\n') is reported once as
// kTooLong as soon as the limit is passed, and its bytes up to its '\n' are dropped.
class LineFramer {
 public:
  struct Frame {
    enum class Kind { kLine, kTooLong };
    Kind kind;
    std::string_view line;  // kLine only
  };

  explicit LineFramer(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  // Consumes bytes from the front of `data` up to the end of the next frame and returns it, or
  // nullopt once `data` is used up (a partial line is kept inside, for the next call). A line
  // that lies whole in `data` is returned in place: `line` borrows from `data`'s storage or from
  // the framer, and is valid until the next call or until that storage changes.
  std::optional<Frame> Next(std::string_view& data);
  // Hands over the partial line held (bytes received after the last '\n') and forgets it.
  std::string TakePartial();

 private:
  const size_t max_line_bytes_;
  std::string partial_;         // a line split across calls, assembled (keeps its capacity)
  bool discarding_ = false;     // inside an oversized line, dropping bytes until its '\n'
  bool clear_partial_ = false;  // the last frame was `partial_`: empty it on the next call
};

// A request as the server sees it. Views point into the decoder that produced it.
struct Request {
  bool has_id = false;  // false: a notification, which gets no answer
  std::string id_json;  // the id, minified; "null" when absent
  std::string_view method;
  simdjson::dom::element params;  // a JSON null when the request has none
};

// A request refused before any method runs: answer ErrorResponse(id_json, error), even to a
// notification (the request could not be trusted to be one).
struct EnvelopeError {
  std::string id_json;  // "null" unless the id was read before the fault
  RpcError error;
};

// Parses request lines into envelopes: a JSON object with "jsonrpc": "2.0", an optional id (a
// string, an integer or null), a string "method" and optional "params" (an object or an array).
class RequestDecoder {
 public:
  RequestDecoder();
  RequestDecoder(const RequestDecoder&) = delete;
  RequestDecoder& operator=(const RequestDecoder&) = delete;

  // Decodes one line (without its '\n'). The Request's method and params are valid until the next
  // call. Errors are kParseError (not JSON), kInvalidRequest (a bad envelope) or kInvalidParams
  // (params of the wrong type), each naming the field at fault.
  std::variant<Request, EnvelopeError> Decode(std::string_view line);

 private:
  simdjson::dom::parser parser_;
  simdjson::dom::parser null_parser_;
  simdjson::dom::element null_params_;
  std::string scratch_;  // the line being parsed, with simdjson's padding after it
};

// Answer lines, without their '\n'. `id_json`, `result_json` and `params_json` are JSON texts
// the caller vouches for (they are inserted as they are).
std::string ResultResponse(std::string_view id_json, std::string_view result_json);
std::string ErrorResponse(std::string_view id_json, const RpcError& error);
std::string Notification(std::string_view method, std::string_view params_json);
// A request line (without its '\n') with an integer id.
std::string RequestLine(int64_t id, std::string_view method, std::string_view params_json);

// An answer as a client reads it: a result, or an error, by id.
struct Response {
  std::optional<int64_t> id;      // set when the id is an integer (labvirtctl's ids are)
  bool ok = false;                // true: `result` is set; false: `error` is
  simdjson::dom::element result;  // ok only
  simdjson::dom::element error;   // !ok only: the error object as sent
};

// Parses lines a server sent. A line is a response when it has an "error" or a "result" member
// ("error" wins when both are there); a notification has a "method" and no id.
class ResponseDecoder {
 public:
  // Decodes one line. The Response's elements are valid until the next call. InvalidArgument when
  // the line is not JSON; NotFound when it has neither a result nor an error (a notification).
  Result<Response> Decode(std::string_view line);
  // True when `line` is an answer whose id is `id`.
  bool IsAnswerTo(std::string_view line, int64_t id);

 private:
  simdjson::dom::parser parser_;
};

// "message: reason" of an error object {"code","message","data":{"field","reason"}}; "message"
// when it has no reason; the object's JSON when it has no message.
std::string ErrorWords(simdjson::dom::element error);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONTROL_JSONRPC_H_
