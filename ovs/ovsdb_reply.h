// Parsing of OVSDB replies (RFC 7047): JSON-RPC error members and "transact" results with
// per-operation errors. Pure, no I/O.
//
// Error shapes handled (all from the server, so all reported, never CHECKed):
//   - JSON-RPC level: "error" is null (success), a string, or an object {"error": s, "details": s}
//     (e.g. "unknown database", "unknown method"); "result" is then null.
//   - transact: "result" is an array with one element per operation; a failed operation's element
//     is {"error": s, "details": s} and the operations after it are null (or missing); when every
//     operation succeeded but the commit failed ("referential integrity violation", "constraint
//     violation", "resources exhausted", "I/O error"), there is one extra element holding that
//     error.
#ifndef LABVIRT_OVS_OVSDB_REPLY_H_
#define LABVIRT_OVS_OVSDB_REPLY_H_

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reactor/base/status.h"

namespace labvirt::ovs {

struct OvsdbError {
  std::string error;    // RFC 7047 error name, e.g. "constraint violation"
  std::string details;  // free text from the server, may be empty
};

struct OperationResult {
  bool executed = false;  // false when null/missing: not run because an earlier one failed
  std::optional<OvsdbError> error;  // set when this operation failed
  std::optional<std::string> uuid;  // "insert": the new row's uuid
  std::optional<int64_t> count;     // "update", "mutate", "delete": rows affected
  std::string rows_json;            // "select": the rows, as minified JSON (empty otherwise)
};

struct TransactReply {
  std::vector<OperationResult> operations;
  std::optional<OvsdbError> commit_error;  // the extra element after the operations

  // OK when no operation failed and the commit succeeded; otherwise the first error, mapped to a
  // StatusCode and naming the operation index (and `labels[i]` when given).
  Status ToStatus(const std::vector<std::string>& labels = {}) const;
};

// Parses the JSON-RPC "error" member of a response. OK when it is null or absent.
Status ParseRpcError(simdjson::simdjson_result<simdjson::dom::element> error);

// Parses the "result" member of a transact response for a request with `n_operations`
// operations. Fails when the shape is not one RFC 7047 allows.
Result<TransactReply> ParseTransactResult(simdjson::dom::element result, size_t n_operations);

// Maps an RFC 7047 error name to a StatusCode (e.g. "timed out" -> kDeadlineExceeded).
StatusCode StatusCodeForOvsdbError(std::string_view error);

}  // namespace labvirt::ovs

#endif  // LABVIRT_OVS_OVSDB_REPLY_H_
