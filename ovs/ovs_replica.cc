#include "ovs/ovs_replica.h"

#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::ovs {
namespace {

struct ColumnSpec {
  const char* name;
  ColumnKind kind;
};
struct TableSpec {
  const char* name;
  std::vector<ColumnSpec> columns;
};

// The columns labvirt reads, with the kind that decides how an update2 diff applies (from
// vswitch.ovsschema: "tag" and "fail_mode" hold at most one value, so they are scalar).
const std::vector<TableSpec>& Tables() {
  static const std::vector<TableSpec> kTables = {
      {"Open_vSwitch", {{"bridges", ColumnKind::kSet}}},
      {"Bridge",
       {{"name", ColumnKind::kScalar},
        {"ports", ColumnKind::kSet},
        {"datapath_type", ColumnKind::kScalar},
        {"fail_mode", ColumnKind::kScalar},
        {"external_ids", ColumnKind::kMap}}},
      {"Port",
       {{"name", ColumnKind::kScalar},
        {"interfaces", ColumnKind::kSet},
        {"tag", ColumnKind::kScalar},
        {"qos", ColumnKind::kScalar},
        {"external_ids", ColumnKind::kMap}}},
      {"QoS", {{"type", ColumnKind::kScalar}, {"external_ids", ColumnKind::kMap}}},
      {"Interface",
       {{"name", ColumnKind::kScalar},
        {"type", ColumnKind::kScalar},
        {"ofport", ColumnKind::kScalar},
        {"external_ids", ColumnKind::kMap}}},
  };
  return kTables;
}

ColumnKind KindOf(std::string_view table, std::string_view column) {
  for (const TableSpec& t : Tables()) {
    if (t.name != table) continue;
    for (const ColumnSpec& c : t.columns) {
      if (c.name == column) return c.kind;
    }
  }
  return ColumnKind::kScalar;
}

const ReplicaTable kEmptyTable;
const Datum kEmptyDatum;

Status ParseColumns(simdjson::dom::element json, ReplicaRow* row, bool diff,
                    std::string_view table) {
  simdjson::dom::object obj;
  if (json.get_object().get(obj) != simdjson::SUCCESS) {
    return InvalidArgument("row is not an object");
  }
  for (auto field : obj) {
    auto d = Datum::Parse(field.value);
    if (!d.ok()) return d.status().WithContext("column " + std::string(field.key));
    std::string column(field.key);
    if (diff) {
      row->columns[column].ApplyDiff(KindOf(table, column), *d);
    } else {
      row->columns[column] = std::move(d).value();
    }
  }
  return Status::Ok();
}

}  // namespace

const Datum& ReplicaRow::Get(std::string_view column) const {
  auto it = columns.find(column);
  return it == columns.end() ? kEmptyDatum : it->second;
}

OvsReplica::OvsReplica(reactor::Reactor& reactor, OvsdbClient& client)
    : reactor_(reactor), client_(client) {
  client_.SetStateHandler([this](bool connected) { OnState(connected); });
  client_.SetNotificationHandler([this](std::string_view method, simdjson::dom::element params) {
    OnNotification(method, params);
  });
  if (client_.connected()) SendMonitor();
}

const ReplicaTable& OvsReplica::table(std::string_view name) const {
  auto it = tables_.find(name);
  return it == tables_.end() ? kEmptyTable : it->second;
}

std::string OvsReplica::FindByName(std::string_view table_name, std::string_view name) const {
  if (index_dirty_) {
    name_index_.clear();
    for (const auto& [tname, rows] : tables_) {
      auto& index = name_index_[tname];
      for (const auto& [uuid, row] : rows) {
        if (auto n = row.Get("name").AsString()) index[*n] = uuid;
      }
    }
    index_dirty_ = false;
  }
  auto t = name_index_.find(table_name);
  if (t == name_index_.end()) return "";
  auto it = t->second.find(name);
  return it == t->second.end() ? "" : it->second;
}

std::string OvsReplica::RootUuid() const {
  const ReplicaTable& t = table("Open_vSwitch");
  return t.empty() ? "" : t.begin()->first;
}

std::string OvsReplica::MonitorRequests() {
  JsonWriter w;
  w.BeginObject();
  for (const TableSpec& t : Tables()) {
    w.Key(t.name).BeginObject().Key("columns").BeginArray();
    for (const ColumnSpec& c : t.columns) w.String(c.name);
    w.EndArray().EndObject();
  }
  w.EndObject();
  return w.Take();
}

void OvsReplica::OnState(bool connected) {
  synced_ = false;
  if (connected) SendMonitor();
}

void OvsReplica::SendMonitor() {
  std::string params = "[";
  JsonWriter::AppendQuoted(params, client_.options().database);
  params += ",\"labvirt\",";
  params += MonitorRequests();
  const char* method = "monitor";
  if (protocol_ == Protocol::kMonitorCondSince) {
    method = "monitor_cond_since";
    params += ',';
    JsonWriter::AppendQuoted(params, last_txn_id_);
  } else if (protocol_ == Protocol::kMonitorCond) {
    method = "monitor_cond";
  }
  params += ']';
  client_.Call(method, std::move(params),
               [this](Result<simdjson::dom::element> r) { OnMonitorReply(std::move(r)); });
}

void OvsReplica::OnMonitorReply(Result<simdjson::dom::element> reply) {
  if (!reply.ok()) {
    const Status& s = reply.status();
    if (s.code() == StatusCode::kInvalidArgument && protocol_ != Protocol::kMonitor &&
        s.message().find("unknown method") != std::string::npos) {
      protocol_ =
          protocol_ == Protocol::kMonitorCondSince ? Protocol::kMonitorCond : Protocol::kMonitor;
      LogInfo("ovsdb monitor method unsupported; falling back");
      SendMonitor();
      return;
    }
    // kUnavailable: the client reconnects and OnState() asks again.
    if (s.code() != StatusCode::kUnavailable) {
      LogWarn("ovsdb monitor failed", {{"error", s.ToString()}});
      client_.Reset(s);
    }
    return;
  }
  simdjson::dom::element updates = *reply;
  bool found = false;
  if (protocol_ == Protocol::kMonitorCondSince) {
    simdjson::dom::array arr;
    std::string_view txn;
    if (reply->get_array().get(arr) != simdjson::SUCCESS || arr.size() != 3 ||
        arr.at(0).get_bool().get(found) != simdjson::SUCCESS ||
        arr.at(1).get_string().get(txn) != simdjson::SUCCESS) {
      client_.Reset(InvalidArgument("monitor_cond_since reply is not [found, txn-id, updates]"));
      return;
    }
    last_txn_id_ = std::string(txn);
    updates = arr.at(2).value();
  }
  // Unless the server could send only what changed since last_txn_id_, the reply is the whole
  // state: rows missing from it are gone.
  if (!found) Clear();
  Status s = ApplyUpdates(updates, protocol_ != Protocol::kMonitor);
  if (!s.ok()) {
    client_.Reset(s.WithContext("ovsdb monitor reply"));
    return;
  }
  synced_ = true;
  ++syncs_;
  if (on_changed_) on_changed_();
  if (on_synced_) on_synced_();
}

void OvsReplica::OnNotification(std::string_view method, simdjson::dom::element params) {
  simdjson::dom::array arr;
  if (params.get_array().get(arr) != simdjson::SUCCESS) return;
  Status s;
  if (method == "update3" && arr.size() == 3) {
    std::string_view txn;
    if (arr.at(1).get_string().get(txn) == simdjson::SUCCESS) last_txn_id_ = std::string(txn);
    s = ApplyUpdates(arr.at(2).value(), true);
  } else if ((method == "update2" || method == "update") && arr.size() == 2) {
    s = ApplyUpdates(arr.at(1).value(), method == "update2");
  } else {
    return;  // not ours (e.g. "locked")
  }
  if (!s.ok()) {
    client_.Reset(s.WithContext("ovsdb " + std::string(method)));
    return;
  }
  if (on_changed_) on_changed_();
}

void OvsReplica::Clear() {
  tables_.clear();
  index_dirty_ = true;
}

Status OvsReplica::ApplyUpdates(simdjson::dom::element updates, bool update2) {
  simdjson::dom::object tables;
  if (updates.get_object().get(tables) != simdjson::SUCCESS) {
    return InvalidArgument("table updates are not an object");
  }
  index_dirty_ = true;
  for (auto t : tables) {
    std::string table_name(t.key);
    ReplicaTable& table = tables_[table_name];
    simdjson::dom::object rows;
    if (t.value.get_object().get(rows) != simdjson::SUCCESS) {
      return InvalidArgument("updates of table " + table_name + " are not an object");
    }
    for (auto r : rows) {
      std::string uuid(r.key);
      simdjson::dom::object change;
      if (r.value.get_object().get(change) != simdjson::SUCCESS) {
        return InvalidArgument("update of " + table_name + " row " + uuid + " is not an object");
      }
      simdjson::dom::element body;
      Status s;
      if (!update2) {
        // <row-update>: "new" absent means deleted; otherwise "new" is the whole row.
        if (change["new"].get(body) != simdjson::SUCCESS) {
          table.erase(uuid);
          continue;
        }
        ReplicaRow row;
        s = ParseColumns(body, &row, false, table_name);
        if (s.ok()) table[uuid] = std::move(row);
      } else if (change["delete"].error() == simdjson::SUCCESS) {
        table.erase(uuid);
      } else if (change["initial"].get(body) == simdjson::SUCCESS ||
                 change["insert"].get(body) == simdjson::SUCCESS) {
        ReplicaRow row;
        s = ParseColumns(body, &row, false, table_name);
        if (s.ok()) table[uuid] = std::move(row);
      } else if (change["modify"].get(body) == simdjson::SUCCESS) {
        auto it = table.find(uuid);
        if (it == table.end()) return InvalidArgument("modify of unknown row " + uuid);
        s = ParseColumns(body, &it->second, true, table_name);
      } else {
        return InvalidArgument("update of row " + uuid + " has no known member");
      }
      if (!s.ok()) return s.WithContext(table_name + " row " + uuid);
    }
  }
  return Status::Ok();
}

}  // namespace labvirt::ovs
