#include "ovs/ovsdb_txn.h"

namespace labvirt::ovs {
namespace {

void WriteRow(JsonWriter& w, const Row& row) {
  w.Key("row").BeginObject();
  for (const auto& [column, value] : row) {
    w.Key(column);
    value.Write(w);
  }
  w.EndObject();
}

}  // namespace

JsonWriter& Transaction::Begin(std::string label) {
  if (!opened_) {
    ops_.BeginArray();  // closed in Params(); keeps the writer's comma logic for the elements
    opened_ = true;
  }
  labels_.push_back(std::move(label));
  return ops_;
}

void Transaction::WriteWhereUuid(JsonWriter& w, std::string_view uuid) {
  w.Key("where").BeginArray().BeginArray().String("_uuid").String("==");
  w.BeginArray().String("uuid").String(uuid).EndArray();
  w.EndArray().EndArray();
}

void Transaction::Insert(std::string_view table, std::string_view uuid_name, const Row& row,
                         std::string label) {
  JsonWriter& w = Begin(std::move(label));
  w.BeginObject().Key("op").String("insert").Key("table").String(table);
  if (!uuid_name.empty()) w.Key("uuid-name").String(uuid_name);
  WriteRow(w, row);
  w.EndObject();
}

void Transaction::Update(std::string_view table, std::string_view uuid, const Row& row,
                         std::string label) {
  JsonWriter& w = Begin(std::move(label));
  w.BeginObject().Key("op").String("update").Key("table").String(table);
  WriteWhereUuid(w, uuid);
  WriteRow(w, row);
  w.EndObject();
}

void Transaction::Mutate(std::string_view table, std::string_view uuid, std::string_view column,
                         std::string_view mutator, const Datum& value, std::string label) {
  JsonWriter& w = Begin(std::move(label));
  w.BeginObject().Key("op").String("mutate").Key("table").String(table);
  WriteWhereUuid(w, uuid);
  w.Key("mutations").BeginArray().BeginArray().String(column).String(mutator);
  value.Write(w);
  w.EndArray().EndArray().EndObject();
}

void Transaction::Delete(std::string_view table, std::string_view uuid, std::string label) {
  JsonWriter& w = Begin(std::move(label));
  w.BeginObject().Key("op").String("delete").Key("table").String(table);
  WriteWhereUuid(w, uuid);
  w.EndObject();
}

void Transaction::Comment(std::string_view text) {
  JsonWriter& w = Begin("comment");
  w.BeginObject().Key("op").String("comment").Key("comment").String(text).EndObject();
}

std::string Transaction::Params(std::string_view database) const {
  std::string out = "[";
  JsonWriter::AppendQuoted(out, database);
  if (opened_) {
    // ops_ holds "[op,op,..." (never closed): splice its elements after the database name.
    out += ',';
    out.append(ops_.str(), 1, std::string::npos);
  }
  out += ']';
  return out;
}

}  // namespace labvirt::ovs
