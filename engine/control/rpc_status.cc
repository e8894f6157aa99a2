#include "engine/control/rpc_status.h"

#include "reactor/base/json_writer.h"

namespace labvirt::engine {
namespace {

bool ClientsFault(StatusCode code) {
  return code == StatusCode::kInvalidArgument || code == StatusCode::kNotFound ||
         code == StatusCode::kFailedPrecondition || code == StatusCode::kAlreadyExists;
}

std::string DefaultSummary(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return "invalid params";
    case StatusCode::kNotFound:
      return "not found";
    default:
      return "internal error";
  }
}

}  // namespace

RpcError ToRpcError(const Status& st) {
  int code = ClientsFault(st.code()) ? kInvalidParams : kInternalError;
  std::string summary = st.summary().empty() ? DefaultSummary(st.code()) : st.summary();
  if (!st.field().empty()) return FieldError(code, std::move(summary), st.field(), st.message());
  JsonWriter w;
  w.BeginObject().Key("reason").String(st.message()).EndObject();
  return RpcError{code, std::move(summary), w.Take()};
}

RpcResult ToRpcResult(Result<std::string> result) {
  if (result.ok()) return std::move(result).value();
  return ToRpcError(result.status());
}

std::function<void(Result<std::string>)> ReplyVia(RpcReply reply) {
  return [reply = std::move(reply)](Result<std::string> result) {
    reply(ToRpcResult(std::move(result)));
  };
}

}  // namespace labvirt::engine
