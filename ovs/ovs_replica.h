// OvsReplica: a local copy of the OVSDB rows labvirt needs (Open_vSwitch, Bridge, Port, QoS,
// Interface), kept current by a monitor on an OvsdbClient.
//
// On every (re)connect it asks for "monitor_cond_since" with the last transaction id it saw
// (falling back to "monitor_cond", then "monitor", when the server does not know the method) and
// replaces its tables when the server cannot send just the changes since that id — so after a
// reconnect the replica converges to the server's state, whatever happened meanwhile.
//
// What it does not own: the reactor and the client (both must outlive it). It installs itself
// as the client's notification and state handler.
//
// Threads: loop thread only. Errors: a malformed update is logged and makes the replica resync
// (client Reset), never CHECK-fail.
#ifndef LABVIRT_OVS_OVS_REPLICA_H_
#define LABVIRT_OVS_OVS_REPLICA_H_

#include <simdjson.h>

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "ovs/ovsdb_client.h"
#include "ovs/ovsdb_datum.h"
#include "reactor/base/status.h"
#include "reactor/reactor.h"

namespace labvirt::ovs {

struct ReplicaRow {
  std::map<std::string, Datum, std::less<>> columns;
  // The column's value, or an empty datum when the column is absent.
  const Datum& Get(std::string_view column) const;
};

// uuid -> row.
using ReplicaTable = std::map<std::string, ReplicaRow, std::less<>>;

class OvsReplica {
 public:
  enum class Protocol { kMonitorCondSince, kMonitorCond, kMonitor };

  OvsReplica(reactor::Reactor& reactor, OvsdbClient& client);
  OvsReplica(const OvsReplica&) = delete;
  OvsReplica& operator=(const OvsReplica&) = delete;

  // Called each time the replica holds the server's full state after a (re)connect.
  void SetSyncedHandler(std::function<void()> cb) { on_synced_ = std::move(cb); }
  // Called after each applied update (initial or incremental).
  void SetChangedHandler(std::function<void()> cb) { on_changed_ = std::move(cb); }

  // True between a completed sync and the next loss of the connection.
  bool synced() const { return synced_; }
  uint64_t syncs() const { return syncs_; }
  Protocol protocol() const { return protocol_; }

  // Tables by name ("Open_vSwitch", "Bridge", "Port", "QoS", "Interface"); an unknown name gives an
  // empty table.
  const ReplicaTable& table(std::string_view name) const;
  // The uuid of the row in `table` whose "name" column is `name`, or "" if none.
  std::string FindByName(std::string_view table, std::string_view name) const;
  // The uuid of the (single) Open_vSwitch root row, or "" if the database has none.
  std::string RootUuid() const;

  // Applies a <table-updates2> (`update2` true) or <table-updates> object. Exposed for tests.
  Status ApplyUpdates(simdjson::dom::element updates, bool update2);
  // The request's "monitor requests" object.
  static std::string MonitorRequests();

 private:
  void OnState(bool connected);
  void SendMonitor();
  void OnMonitorReply(Result<simdjson::dom::element> reply);
  void OnNotification(std::string_view method, simdjson::dom::element params);
  void Clear();

  reactor::Reactor& reactor_;
  OvsdbClient& client_;
  Protocol protocol_ = Protocol::kMonitorCondSince;
  std::string last_txn_id_ = "00000000-0000-0000-0000-000000000000";
  bool synced_ = false;
  uint64_t syncs_ = 0;
  std::map<std::string, ReplicaTable, std::less<>> tables_;
  // table -> name -> uuid, rebuilt lazily after a change (FindByName is called per port).
  mutable std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>>
      name_index_;
  mutable bool index_dirty_ = true;
  std::function<void()> on_synced_;
  std::function<void()> on_changed_;
};

}  // namespace labvirt::ovs

#endif  // LABVIRT_OVS_OVS_REPLICA_H_
