#include "engine/control/jsonrpc.h"

#include <cstring>

#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {

RpcError FieldError(int code, std::string message, std::string_view field,
                    std::string_view reason) {
  JsonWriter w;
  w.BeginObject().Key("field").String(field).Key("reason").String(reason).EndObject();
  return RpcError{code, std::move(message), w.Take()};
}

std::optional<LineFramer::Frame> LineFramer::Next(std::string_view& data) {
  if (clear_partial_) {
    partial_.clear();
    clear_partial_ = false;
  }
  while (!data.empty()) {
    const size_t nl = data.find('\n');
    const std::string_view piece = data.substr(0, nl);
    data.remove_prefix(nl == std::string_view::npos ? data.size() : nl + 1);
    if (discarding_) {
      discarding_ = nl == std::string_view::npos;
      continue;
    }
    if (partial_.size() + piece.size() > max_line_bytes_) {
      // Reported now, not at the '\n': a client must not make the server hold an endless line.
      partial_.clear();
      discarding_ = nl == std::string_view::npos;
      return Frame{Frame::Kind::kTooLong, {}};
    }
    if (nl == std::string_view::npos) {
      partial_.append(piece);
      return std::nullopt;
    }
    // A line that lies whole in `data` is returned where it lies; only a line split across calls
    // is assembled in `partial_`.
    std::string_view line = piece;
    if (!partial_.empty()) {
      partial_.append(piece);
      line = partial_;
      clear_partial_ = true;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) return Frame{Frame::Kind::kLine, line};
    partial_.clear();
    clear_partial_ = false;
  }
  return std::nullopt;
}

std::string LineFramer::TakePartial() {
  if (clear_partial_) {
    partial_.clear();
    clear_partial_ = false;
  }
  return std::exchange(partial_, {});
}

RequestDecoder::RequestDecoder() {
  // Methods always get an element; an absent params member is a JSON null.
  LABVIRT_CHECK(
      null_parser_.parse(simdjson::padded_string(std::string_view("null"))).get(null_params_) ==
      simdjson::SUCCESS);
}

std::variant<Request, EnvelopeError> RequestDecoder::Decode(std::string_view line) {
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: copy into a reused padded buffer.
  if (scratch_.size() < line.size() + simdjson::SIMDJSON_PADDING) {
    scratch_.resize(line.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(scratch_.data(), line.data(), line.size());
  simdjson::dom::element doc;
  if (auto err = parser_.parse(scratch_.data(), line.size(), false).get(doc); err) {
    return EnvelopeError{
        "null", FieldError(kParseError, "parse error", "request", simdjson::error_message(err))};
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) {
    return EnvelopeError{"null", FieldError(kInvalidRequest, "invalid request", "request",
                                            "a request must be a JSON object")};
  }
  Request req;
  req.id_json = "null";
  simdjson::dom::element id;
  req.has_id = obj["id"].get(id) == simdjson::SUCCESS;
  if (req.has_id) {
    if (!id.is_string() && !id.is_int64() && !id.is_uint64() && !id.is_null()) {
      return EnvelopeError{"null", FieldError(kInvalidRequest, "invalid request", "id",
                                              "must be a string, an integer or null")};
    }
    req.id_json = simdjson::minify(id);
  }
  std::string_view version;
  if (obj["jsonrpc"].get(version) || version != "2.0") {
    return EnvelopeError{std::move(req.id_json), FieldError(kInvalidRequest, "invalid request",
                                                            "jsonrpc", "must be \"2.0\"")};
  }
  if (obj["method"].get(req.method)) {
    return EnvelopeError{std::move(req.id_json), FieldError(kInvalidRequest, "invalid request",
                                                            "method", "must be a string")};
  }
  if (obj["params"].get(req.params) == simdjson::SUCCESS) {
    if (!req.params.is_object() && !req.params.is_array()) {
      return EnvelopeError{
          std::move(req.id_json),
          FieldError(kInvalidParams, "invalid params", "params", "must be an object or an array")};
    }
  } else {
    req.params = null_params_;
  }
  return req;
}

std::string ResultResponse(std::string_view id_json, std::string_view result_json) {
  // Built by hand, sized once: every answer passes through here with the whole result.
  static constexpr std::string_view kHead = R"({"jsonrpc":"2.0","id":)";
  static constexpr std::string_view kResult = R"(,"result":)";
  std::string out;
  // +2: the closing brace and the newline the server appends.
  out.reserve(kHead.size() + id_json.size() + kResult.size() + result_json.size() + 2);
  out.append(kHead).append(id_json).append(kResult).append(result_json) += '}';
  return out;
}

std::string ErrorResponse(std::string_view id_json, const RpcError& error) {
  JsonWriter w;
  w.BeginObject().Key("jsonrpc").String("2.0").Key("id").Raw(id_json);
  w.Key("error").BeginObject().Key("code").Int(error.code).Key("message").String(error.message);
  if (!error.data_json.empty()) w.Key("data").Raw(error.data_json);
  w.EndObject().EndObject();
  return w.Take();
}

std::string Notification(std::string_view method, std::string_view params_json) {
  JsonWriter w;
  w.BeginObject().Key("jsonrpc").String("2.0").Key("method").String(method);
  w.Key("params").Raw(params_json).EndObject();
  return w.Take();
}

std::string RequestLine(int64_t id, std::string_view method, std::string_view params_json) {
  JsonWriter w;
  w.BeginObject().Key("jsonrpc").String("2.0").Key("id").Int(id).Key("method").String(method);
  w.Key("params").Raw(params_json).EndObject();
  return w.Take();
}

Result<Response> ResponseDecoder::Decode(std::string_view line) {
  simdjson::dom::element doc;
  if (parser_.parse(simdjson::padded_string(line)).get(doc)) {
    return InvalidArgument("invalid JSON");
  }
  Response r;
  if (int64_t id = 0; doc["id"].get_int64().get(id) == simdjson::SUCCESS) r.id = id;
  if (doc["error"].get(r.error) == simdjson::SUCCESS) return r;
  if (doc["result"].get(r.result)) return NotFound("no result");
  r.ok = true;
  return r;
}

bool ResponseDecoder::IsAnswerTo(std::string_view line, int64_t id) {
  auto r = Decode(line);
  return r.ok() && r->id == id;
}

std::string ErrorWords(simdjson::dom::element error) {
  std::string_view message, reason;
  if (error["message"].get_string().get(message) || message.empty()) {
    return simdjson::minify(error);
  }
  if (error["data"]["reason"].get_string().get(reason) || reason.empty()) {
    return std::string(message);
  }
  return std::string(message) + ": " + std::string(reason);
}

}  // namespace labvirt::engine
