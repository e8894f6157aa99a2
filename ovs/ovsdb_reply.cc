#include "ovs/ovsdb_reply.h"

namespace labvirt::ovs {
namespace {

// An <error> object: {"error": string, "details"?: string, ...}.
Result<OvsdbError> ParseErrorObject(simdjson::dom::object obj) {
  OvsdbError e;
  std::string_view s;
  if (obj["error"].get_string().get(s) != simdjson::SUCCESS) {
    return InvalidArgument("OVSDB error object without a string \"error\" member");
  }
  e.error = std::string(s);
  if (obj["details"].get_string().get(s) == simdjson::SUCCESS) e.details = std::string(s);
  return e;
}

std::string Describe(const OvsdbError& e) {
  return e.details.empty() ? e.error : e.error + ": " + e.details;
}

}  // namespace

StatusCode StatusCodeForOvsdbError(std::string_view error) {
  if (error == "timed out") return StatusCode::kDeadlineExceeded;
  if (error == "resources exhausted") return StatusCode::kResourceExhausted;
  if (error == "not owner" || error == "not supported" || error == "aborted" ||
      error == "constraint violation" || error == "referential integrity violation") {
    return StatusCode::kFailedPrecondition;
  }
  if (error == "unknown database" || error == "unknown method" || error == "syntax error" ||
      error == "unknown table" || error == "unknown column" || error == "duplicate uuid-name" ||
      error == "unknown uuid-name" || error == "domain error" || error == "range error") {
    return StatusCode::kInvalidArgument;
  }
  if (error == "I/O error" || error == "canceled") return StatusCode::kUnavailable;
  return StatusCode::kInternal;
}

Status ParseRpcError(simdjson::simdjson_result<simdjson::dom::element> error) {
  simdjson::dom::element el;
  if (error.get(el) != simdjson::SUCCESS || el.is_null()) return Status::Ok();
  std::string_view s;
  if (el.get_string().get(s) == simdjson::SUCCESS) {
    return Status(StatusCodeForOvsdbError(s), "ovsdb-server: " + std::string(s));
  }
  simdjson::dom::object obj;
  if (el.get_object().get(obj) == simdjson::SUCCESS) {
    auto e = ParseErrorObject(obj);
    if (!e.ok()) return e.status().WithContext("ovsdb-server reply");
    return Status(StatusCodeForOvsdbError(e->error), "ovsdb-server: " + Describe(*e));
  }
  return InvalidArgument("ovsdb-server reply: \"error\" is neither null, a string nor an object");
}

Result<TransactReply> ParseTransactResult(simdjson::dom::element result, size_t n_operations) {
  simdjson::dom::array arr;
  if (result.get_array().get(arr) != simdjson::SUCCESS) {
    return InvalidArgument("transact reply: result is not an array");
  }
  if (arr.size() > n_operations + 1) {
    return InvalidArgument("transact reply: " + std::to_string(arr.size()) + " results for " +
                           std::to_string(n_operations) + " operations");
  }
  TransactReply reply;
  reply.operations.resize(n_operations);
  size_t i = 0;
  bool failed = false;
  for (simdjson::dom::element el : arr) {
    if (i == n_operations) {
      simdjson::dom::object obj;
      if (el.get_object().get(obj) != simdjson::SUCCESS) {
        return InvalidArgument("transact reply: extra result element is not an error object");
      }
      auto e = ParseErrorObject(obj);
      if (!e.ok()) return e.status().WithContext("transact reply: commit error");
      reply.commit_error = std::move(e).value();
      break;
    }
    OperationResult& op = reply.operations[i++];
    if (el.is_null()) continue;
    simdjson::dom::object obj;
    if (el.get_object().get(obj) != simdjson::SUCCESS) {
      return InvalidArgument("transact reply: result " + std::to_string(i - 1) +
                             " is neither null nor an object");
    }
    op.executed = true;
    if (obj["error"].error() == simdjson::SUCCESS) {
      auto e = ParseErrorObject(obj);
      if (!e.ok()) return e.status().WithContext("transact reply: result " + std::to_string(i - 1));
      op.error = std::move(e).value();
      failed = true;
      continue;
    }
    simdjson::dom::array uuid;
    std::string_view tag, id;
    if (obj["uuid"].get_array().get(uuid) == simdjson::SUCCESS) {
      if (uuid.size() != 2 || uuid.at(0).get_string().get(tag) != simdjson::SUCCESS ||
          tag != "uuid" || uuid.at(1).get_string().get(id) != simdjson::SUCCESS) {
        return InvalidArgument("transact reply: malformed \"uuid\" in result " +
                               std::to_string(i - 1));
      }
      op.uuid = std::string(id);
    }
    int64_t count = 0;
    if (obj["count"].get_int64().get(count) == simdjson::SUCCESS) op.count = count;
    simdjson::dom::array rows;
    if (obj["rows"].get_array().get(rows) == simdjson::SUCCESS) {
      op.rows_json = simdjson::minify(rows);
    }
  }
  if (i < n_operations && !failed) {
    return InvalidArgument("transact reply: " + std::to_string(i) + " results for " +
                           std::to_string(n_operations) + " operations and no error");
  }
  return reply;
}

Status TransactReply::ToStatus(const std::vector<std::string>& labels) const {
  for (size_t i = 0; i < operations.size(); ++i) {
    if (!operations[i].error) continue;
    const OvsdbError& e = *operations[i].error;
    std::string what = "transact operation " + std::to_string(i);
    if (i < labels.size() && !labels[i].empty()) what += " (" + labels[i] + ")";
    return Status(StatusCodeForOvsdbError(e.error), what + ": " + Describe(e));
  }
  if (commit_error) {
    return Status(StatusCodeForOvsdbError(commit_error->error),
                  "transact commit: " + Describe(*commit_error));
  }
  return Status::Ok();
}

}  // namespace labvirt::ovs
