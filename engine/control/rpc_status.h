// The one place where the engine's errors become JSON-RPC errors. Below control/ every error is a
// Status (reactor/base/status.h) carrying its code, message, and, for a client, the field concerned
// and a short summary; here that maps onto {code, message, data: {field, reason}}.
#ifndef LABVIRT_ENGINE_CONTROL_RPC_STATUS_H_
#define LABVIRT_ENGINE_CONTROL_RPC_STATUS_H_

#include <functional>
#include <string>

#include "engine/control/control_server.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

// The client's fault (invalid argument, not found, failed precondition, already exists) is
// kInvalidParams, anything else kInternalError. The message is the status's summary, else
// "invalid params" / "not found" / "internal error" by code; data is {"field", "reason"} (the
// status's message) when the status names a field, else {"reason"}.
RpcError ToRpcError(const Status& st);

// A method's outcome: the JSON result text, or its error mapped by ToRpcError.
RpcResult ToRpcResult(Result<std::string> result);

// An engine reply that answers `reply` (a JSON-RPC reply) with ToRpcResult.
std::function<void(Result<std::string>)> ReplyVia(RpcReply reply);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONTROL_RPC_STATUS_H_
