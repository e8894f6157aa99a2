#include "ovs/ovs_switch.h"

#include <set>

#include "reactor/base/log.h"

namespace labvirt::ovs {
namespace {

int ParseInt(const std::optional<std::string>& s, int fallback) {
  if (!s || s->empty() || s->size() > 9) return fallback;
  int v = 0;
  for (char c : *s) {
    if (c < '0' || c > '9') return fallback;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

OvsSwitch::OvsSwitch(reactor::Reactor& reactor, OvsdbClient& client, OvsReplica& replica,
                     OvsSwitchOptions options)
    : reactor_(reactor),
      client_(client),
      replica_(replica),
      options_(std::move(options)),
      allocator_(options_.ranges) {
  LABVIRT_CHECK(options_.ranges.Validate().ok());
  replica_.SetSyncedHandler([this] { OnSynced(); });
  replica_.SetChangedHandler([this] { OnChanged(); });
  if (replica_.synced()) RebuildAllocator();
}

OvsSwitch::~OvsSwitch() {
  replica_.SetSyncedHandler(nullptr);
  replica_.SetChangedHandler(nullptr);
}

std::string OvsSwitch::NicOwner(const std::string& lab, const std::string& node, int nic) {
  return "nic:" + lab + "/" + node + "/" + std::to_string(nic);
}

std::string OvsSwitch::LinkOwner(const std::string& lab, const std::string& link) {
  return "link:" + lab + "/" + link;
}

// ---- Reservations ----

Status OvsSwitch::Reserve(int tag, const std::string& owner) {
  LABVIRT_RETURN_IF_ERROR(allocator_.Reserve(tag, owner));
  engine_reservations_[owner] = tag;
  return Status::Ok();
}

void OvsSwitch::ReleaseReservation(const std::string& owner) {
  auto it = engine_reservations_.find(owner);
  if (it == engine_reservations_.end()) return;
  if (allocator_.OwnerOf(it->second) == owner) allocator_.ReleaseTag(it->second);
  engine_reservations_.erase(it);
}

std::vector<OwnedPort> OvsSwitch::ListOwnedPorts() const {
  std::map<std::string, std::string> bridge_of;  // port uuid -> bridge name
  for (const auto& [uuid, row] : replica_.table("Bridge")) {
    std::string name = row.Get("name").AsString().value_or("");
    for (const std::string& p : row.Get("ports").Uuids()) bridge_of[p] = name;
  }
  std::vector<OwnedPort> out;
  for (const auto& [uuid, row] : replica_.table("Port")) {
    const Datum& ids = row.Get("external_ids");
    if (ids.MapGet("owner") != "labvirt") continue;
    OwnedPort p;
    p.uuid = uuid;
    p.port = row.Get("name").AsString().value_or("");
    auto b = bridge_of.find(uuid);
    if (b != bridge_of.end()) p.bridge = b->second;
    p.lab = ids.MapGet("lab").value_or("");
    p.node = ids.MapGet("node").value_or("");
    p.instance = ids.MapGet("instance").value_or("");
    p.nic = ParseInt(ids.MapGet("nic"), -1);
    p.tag = static_cast<int>(row.Get("tag").AsInteger().value_or(-1));
    p.isolated_tag = ParseInt(ids.MapGet("isolated_tag"), -1);
    p.link = ids.MapGet("link").value_or("");
    p.link_tag = ParseInt(ids.MapGet("link_tag"), -1);
    p.segment = ids.MapGet("segment").value_or("");
    p.segment_tag = ParseInt(ids.MapGet("segment_tag"), -1);
    p.role = ids.MapGet("role").value_or("");
    out.push_back(std::move(p));
  }
  return out;
}

// Every tag in use on the host — labvirt's (from external_ids) and foreign ports' — so that the
// allocator never hands out a tag that is already on the wire.
void OvsSwitch::ObservePorts() {
  for (const auto& [uuid, row] : replica_.table("Port")) {
    const Datum& ids = row.Get("external_ids");
    std::string name = row.Get("name").AsString().value_or(uuid);
    int tag = static_cast<int>(row.Get("tag").AsInteger().value_or(-1));
    std::vector<std::pair<int, std::string>> claims;
    if (ids.MapGet("owner") == "labvirt") {
      std::string lab = ids.MapGet("lab").value_or("");
      std::string segment = ids.MapGet("segment").value_or("");
      int segment_tag = ParseInt(ids.MapGet("segment_tag"), -1);
      if (!segment.empty() && segment_tag > 0) {
        claims.emplace_back(segment_tag, SegmentOwner(lab, segment));
      }
      // A gateway has no NIC: any other tag it carries is its segment's.
      std::string nic_owner =
          ids.MapGet("role") == kGatewayRole
              ? SegmentOwner(lab, segment)
              : NicOwner(lab, ids.MapGet("node").value_or(""), ParseInt(ids.MapGet("nic"), -1));
      int isolated = ParseInt(ids.MapGet("isolated_tag"), -1);
      int link_tag = ParseInt(ids.MapGet("link_tag"), -1);
      std::string link = ids.MapGet("link").value_or("");
      if (isolated > 0) claims.emplace_back(isolated, nic_owner);
      if (link_tag > 0 && !link.empty()) claims.emplace_back(link_tag, LinkOwner(lab, link));
      if (tag > 0 && tag != isolated && tag != link_tag && tag != segment_tag) {
        claims.emplace_back(tag, nic_owner);
      }
    } else if (tag > 0) {
      claims.emplace_back(tag, "foreign:" + name);
    }
    for (const auto& [t, owner] : claims) {
      Status s = allocator_.Reserve(t, owner);
      if (!s.ok() && s.code() == StatusCode::kAlreadyExists) {
        LogWarn("VLAN tag seen on two owners", {{"port", name}, {"error", s.message()}});
      }
    }
  }
}

void OvsSwitch::RebuildAllocator() {
  allocator_.Clear();
  ObservePorts();
  for (const auto& [owner, tag] : engine_reservations_) {
    Status s = allocator_.Reserve(tag, owner);
    if (!s.ok()) LogWarn("engine VLAN reservation conflicts", {{"error", s.message()}});
  }
}

void OvsSwitch::OnSynced() {
  RebuildAllocator();
  sync_timeout_.Cancel();
  Pump();
}

void OvsSwitch::OnChanged() {
  // Add-only between syncs: a tag freed by someone else is reused only after the next rebuild,
  // while a tag taken by someone else is avoided at once.
  if (replica_.synced()) ObservePorts();
}

// ---- The operation queue ----

void OvsSwitch::Enqueue(std::string what,
                        std::function<Result<Transaction>(std::vector<std::string>*)> build,
                        std::function<void()> on_success, Callback done) {
  Op op;
  op.what = std::move(what);
  op.build = std::move(build);
  op.on_success = std::move(on_success);
  op.done = std::move(done);
  ops_.push_back(std::move(op));
  // Start from a clean stack: the caller's callback contract says "never inside the call".
  reactor_.Defer([this] { Pump(); });
}

void OvsSwitch::ArmSyncTimeout() {
  if (sync_timeout_.engaged()) return;
  sync_timeout_ = reactor_.After(options_.sync_timeout, [this] {
    sync_timeout_.Detach();
    // Fail everything that waited for a sync; new operations wait again.
    std::deque<Op> failed = std::move(ops_);
    ops_.clear();
    in_flight_ = false;
    ++op_generation_;
    for (Op& op : failed) {
      for (const std::string& owner : op.allocated) allocator_.Release(owner);
      op.done(Unavailable(op.what + ": ovsdb-server unreachable at " + client_.options().remote));
    }
  });
}

void OvsSwitch::Pump() {
  while (!in_flight_ && !ops_.empty()) {
    if (!replica_.synced()) {
      ArmSyncTimeout();
      return;
    }
    Op& op = ops_.front();
    ++op.attempts;
    // Tags this op allocated on an earlier attempt were dropped by the rebuild at resync (unless
    // they committed, then they are back from external_ids): start the record afresh.
    op.allocated.clear();
    auto txn = op.build(&op.allocated);
    if (!txn.ok()) {
      Finish(txn.status().WithContext(op.what));
      continue;
    }
    if (txn->empty()) {
      Finish(Status::Ok());
      continue;
    }
    in_flight_ = true;
    const uint64_t generation = ++op_generation_;
    std::vector<std::string> labels = txn->labels();
    client_.Transact(*txn, [this, generation, labels](Result<TransactReply> r) {
      if (generation != op_generation_ || ops_.empty()) return;
      in_flight_ = false;
      Op& op = ops_.front();
      Status s = r.ok() ? r->ToStatus(labels) : r.status();
      bool retry =
          (s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded) &&
          op.attempts < options_.max_attempts;
      if (retry) {
        LogWarn("ovs operation interrupted; retrying after resync",
                {{"op", op.what}, {"error", s.ToString()}});
        for (const std::string& owner : op.allocated) allocator_.Release(owner);
        op.allocated.clear();
        Pump();  // waits for the sync if the connection is gone
        return;
      }
      Finish(s.ok() ? s : s.WithContext(op.what));
      Pump();
    });
  }
}

void OvsSwitch::Finish(Status status) {
  Op op = std::move(ops_.front());
  ops_.pop_front();
  if (status.ok()) {
    if (op.on_success) op.on_success();
  } else {
    for (const std::string& owner : op.allocated) allocator_.Release(owner);
  }
  op.done(std::move(status));
}

// ---- Bridge ----

void OvsSwitch::EnsureBridge(Callback done) {
  Enqueue(
      "ensure bridge " + options_.bridge,
      [this](std::vector<std::string>*) -> Result<Transaction> {
        Transaction txn;
        const std::string& name = options_.bridge;
        std::string uuid = replica_.FindByName("Bridge", name);
        Datum fail_mode = Datum::FromAtom(Atom::String("standalone"));
        if (!uuid.empty()) {
          const ReplicaRow& row = replica_.table("Bridge").at(uuid);
          Row changes;
          if (!(row.Get("fail_mode") == fail_mode)) changes.emplace_back("fail_mode", fail_mode);
          if (options_.netdev && row.Get("datapath_type").AsString() != "netdev") {
            changes.emplace_back("datapath_type", Datum::FromAtom(Atom::String("netdev")));
          }
          if (!changes.empty()) txn.Update("Bridge", uuid, changes, "update Bridge " + name);
          return txn;
        }
        txn.Insert("Interface", "iface",
                   {{"name", Datum::FromAtom(Atom::String(name))},
                    {"type", Datum::FromAtom(Atom::String("internal"))}},
                   "insert Interface " + name);
        txn.Insert("Port", "port",
                   {{"name", Datum::FromAtom(Atom::String(name))},
                    {"interfaces", Datum::FromAtom(Atom::NamedUuid("iface"))}},
                   "insert Port " + name);
        Row bridge = {{"name", Datum::FromAtom(Atom::String(name))},
                      {"ports", Datum::FromAtom(Atom::NamedUuid("port"))},
                      {"fail_mode", fail_mode}};
        if (options_.netdev) {
          bridge.emplace_back("datapath_type", Datum::FromAtom(Atom::String("netdev")));
        }
        txn.Insert("Bridge", "bridge", bridge, "insert Bridge " + name);
        std::string root = replica_.RootUuid();
        if (root.empty()) {
          txn.Insert("Open_vSwitch", "", {{"bridges", Datum::FromAtom(Atom::NamedUuid("bridge"))}},
                     "insert Open_vSwitch");
        } else {
          txn.Mutate("Open_vSwitch", root, "bridges", "insert",
                     Datum::FromAtom(Atom::NamedUuid("bridge")), "add bridge to Open_vSwitch");
        }
        return txn;
      },
      nullptr, std::move(done));
}

// ---- Ports ----

void OvsSwitch::AddPorts(std::vector<NicPort> ports, Callback done) {
  std::string what = "add " + std::to_string(ports.size()) + " ports";
  // Segments whose last port this batch moves elsewhere: their tags are freed once it commits.
  auto emptied = std::make_shared<std::vector<std::string>>();
  Enqueue(
      std::move(what),
      [this, ports = std::move(ports),
       emptied](std::vector<std::string>* allocated) -> Result<Transaction> {
        emptied->clear();
        std::set<std::string> joined, moved;  // segment owners joined; uuids of ports leaving one
        std::string bridge = replica_.FindByName("Bridge", options_.bridge);
        if (bridge.empty()) return NotFound("bridge " + options_.bridge + " does not exist");
        const ReplicaRow& bridge_row = replica_.table("Bridge").at(bridge);
        std::vector<std::string> on_bridge = bridge_row.Get("ports").Uuids();
        Transaction txn;
        std::vector<Atom> new_ports;
        bool qos_inserted = false;
        for (size_t i = 0; i < ports.size(); ++i) {
          const NicPort& p = ports[i];
          if (p.port.empty() || p.port.size() > 15) {
            return InvalidArgument("port name \"" + p.port + "\" must be 1..15 bytes");
          }
          std::string owner = NicOwner(p.lab, p.node, p.nic);
          bool held = allocator_.TagOf(owner, options_.ranges.isolated).has_value();
          auto tag = allocator_.AllocateIsolated(owner);
          if (!tag.ok()) return tag.status();
          if (!held) allocated->push_back(owner);
          std::vector<std::pair<std::string, std::string>> ids = {
              {"owner", "labvirt"},
              {"lab", p.lab},
              {"node", p.node},
              {"nic", std::to_string(p.nic)},
              {"isolated_tag", std::to_string(*tag)}};
          if (!p.instance.empty()) ids.emplace_back("instance", p.instance);
          int port_tag = *tag;
          if (!p.segment.empty()) joined.insert(SegmentOwner(p.lab, p.segment));
          if (!p.segment.empty()) {
            auto seg_tag = SegmentTagFor(SegmentOwner(p.lab, p.segment), allocated);
            if (!seg_tag.ok()) return seg_tag.status();
            port_tag = *seg_tag;
            ids.emplace_back("segment", p.segment);
            ids.emplace_back("segment_tag", std::to_string(*seg_tag));
          }
          std::string uuid = replica_.FindByName("Port", p.port);
          if (!uuid.empty()) {
            const ReplicaRow& row = replica_.table("Port").at(uuid);
            const Datum& old = row.Get("external_ids");
            if (old.MapGet("owner") != "labvirt") {
              return FailedPrecondition("port " + p.port + " exists and is not labvirt's");
            }
            if (old.MapGet("role") == kGatewayRole) {
              return FailedPrecondition("port " + p.port + " is the gateway of segment " +
                                        old.MapGet("lab").value_or("") + "/" +
                                        old.MapGet("segment").value_or(""));
            }
            if (old.MapGet("segment").value_or("") != p.segment || old.MapGet("lab") != p.lab) {
              moved.insert(uuid);
            }
            bool same_nic = old.MapGet("lab") == p.lab && old.MapGet("node") == p.node &&
                            old.MapGet("nic") == std::to_string(p.nic);
            if (same_nic && p.segment.empty() && old.MapGet("link")) {
              ids.emplace_back("link", *old.MapGet("link"));
              ids.emplace_back("link_tag", old.MapGet("link_tag").value_or(""));
              port_tag = static_cast<int>(row.Get("tag").AsInteger().value_or(*tag));
            }
            if (std::find(on_bridge.begin(), on_bridge.end(), uuid) == on_bridge.end()) {
              return FailedPrecondition("port " + p.port + " is on another bridge");
            }
            txn.Update("Port", uuid,
                       {{"tag", Datum::FromAtom(Atom::Integer(port_tag))},
                        {"qos", Datum::FromAtom(NoopQos(txn, &qos_inserted))},
                        {"external_ids", Datum::Map(std::move(ids))}},
                       "update Port " + p.port);
            continue;
          }
          std::string n = std::to_string(i);
          txn.Insert("Interface", "i" + n, {{"name", Datum::FromAtom(Atom::String(p.port))}},
                     "insert Interface " + p.port);
          txn.Insert("Port", "p" + n,
                     {{"name", Datum::FromAtom(Atom::String(p.port))},
                      {"interfaces", Datum::FromAtom(Atom::NamedUuid("i" + n))},
                      {"tag", Datum::FromAtom(Atom::Integer(port_tag))},
                      {"qos", Datum::FromAtom(NoopQos(txn, &qos_inserted))},
                      {"external_ids", Datum::Map(std::move(ids))}},
                     "insert Port " + p.port);
          new_ports.push_back(Atom::NamedUuid("p" + n));
        }
        if (!new_ports.empty()) {
          txn.Mutate("Bridge", bridge, "ports", "insert", Datum::Set(std::move(new_ports)),
                     "add ports to Bridge " + options_.bridge);
        }
        for (std::string& owner : SegmentsLeftEmpty(moved)) {
          if (!joined.count(owner)) emptied->push_back(std::move(owner));
        }
        return txn;
      },
      [this, emptied] {
        for (const std::string& owner : *emptied) allocator_.Release(owner);
      },
      std::move(done));
}

Atom OvsSwitch::NoopQos(Transaction& txn, bool* inserted) const {
  static constexpr char kName[] = "noopqos";
  for (const auto& [uuid, row] : replica_.table("QoS")) {
    const Datum& ids = row.Get("external_ids");
    if (ids.MapGet("owner") == "labvirt" && ids.MapGet("role") == kNoopQosRole &&
        row.Get("type").AsString() == "linux-noop") {
      return Atom::Uuid(uuid);
    }
  }
  if (!*inserted) {
    txn.Insert("QoS", kName,
               {{"type", Datum::FromAtom(Atom::String("linux-noop"))},
                {"external_ids", Datum::Map({{"owner", "labvirt"}, {"role", kNoopQosRole}})}},
               "insert QoS linux-noop");
    *inserted = true;
  }
  return Atom::NamedUuid(kName);
}

void OvsSwitch::RemovePorts(std::vector<std::string> ports, Callback done) {
  auto owners = std::make_shared<std::vector<std::string>>();
  std::string what = "remove " + std::to_string(ports.size()) + " ports";
  Enqueue(
      std::move(what),
      [this, ports = std::move(ports), owners](std::vector<std::string>*) -> Result<Transaction> {
        owners->clear();
        Transaction txn;
        std::map<std::string, std::vector<Atom>> by_bridge;
        std::set<std::string> removed;  // port uuids
        for (const std::string& name : ports) {
          std::string uuid = replica_.FindByName("Port", name);
          if (uuid.empty()) continue;
          const Datum& ids = replica_.table("Port").at(uuid).Get("external_ids");
          if (ids.MapGet("owner") == "labvirt" && ids.MapGet("role") != kGatewayRole) {
            owners->push_back(NicOwner(ids.MapGet("lab").value_or(""),
                                       ids.MapGet("node").value_or(""),
                                       ParseInt(ids.MapGet("nic"), -1)));
          }
          removed.insert(uuid);
          for (const auto& [buuid, brow] : replica_.table("Bridge")) {
            std::vector<std::string> in = brow.Get("ports").Uuids();
            if (std::find(in.begin(), in.end(), uuid) != in.end()) {
              by_bridge[buuid].push_back(Atom::Uuid(uuid));
            }
          }
        }
        // A segment's tag goes with the last port that carries it.
        for (const std::string& owner : SegmentsLeftEmpty(removed)) owners->push_back(owner);
        // Port and Interface rows are not roots: dropping them from Bridge.ports deletes them.
        for (auto& [buuid, uuids] : by_bridge) {
          txn.Mutate("Bridge", buuid, "ports", "delete", Datum::Set(std::move(uuids)),
                     "remove ports from Bridge");
        }
        return txn;
      },
      [this, owners] {
        for (const std::string& owner : *owners) allocator_.Release(owner);
      },
      std::move(done));
}

}  // namespace labvirt::ovs
