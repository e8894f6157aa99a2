// Transaction: builds the operations of one OVSDB "transact" request (RFC 7047 §5.2). Pure.
//
// Each method appends one operation and a label naming it, so that a per-operation error from
// the server can say which change failed ("operation 3 (insert Port vm1-e0)").
#ifndef LABVIRT_OVS_OVSDB_TXN_H_
#define LABVIRT_OVS_OVSDB_TXN_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ovs/ovsdb_datum.h"
#include "reactor/base/json_writer.h"

namespace labvirt::ovs {

using Row = std::vector<std::pair<std::string, Datum>>;

class Transaction {
 public:
  // Inserts `row` into `table`; `uuid_name` (may be empty) lets later operations refer to the
  // new row as ["named-uuid", uuid_name].
  void Insert(std::string_view table, std::string_view uuid_name, const Row& row,
              std::string label);
  // Sets the columns of `row` in the row of `table` whose _uuid is `uuid`.
  void Update(std::string_view table, std::string_view uuid, const Row& row, std::string label);
  // Applies `mutator` ("insert", "delete", …) with `value` to `column` of the row `uuid`.
  void Mutate(std::string_view table, std::string_view uuid, std::string_view column,
              std::string_view mutator, const Datum& value, std::string label);
  void Delete(std::string_view table, std::string_view uuid, std::string label);
  // A comment, logged by ovsdb-server with the transaction.
  void Comment(std::string_view text);

  size_t size() const { return labels_.size(); }
  bool empty() const { return labels_.empty(); }
  const std::vector<std::string>& labels() const { return labels_; }
  // The "params" array: [database, op, op, ...].
  std::string Params(std::string_view database) const;

 private:
  JsonWriter& Begin(std::string label);
  static void WriteWhereUuid(JsonWriter& w, std::string_view uuid);

  std::vector<std::string> labels_;
  JsonWriter ops_;  // "op,op,..." written as elements of an open array
  bool opened_ = false;
};

}  // namespace labvirt::ovs

#endif  // LABVIRT_OVS_OVSDB_TXN_H_
