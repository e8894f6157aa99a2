// OvsSwitch: the labvirt bridge — its existence, the VM NIC ports labvirt owns on it, their VLAN
// tags and the links between them — driven through OVSDB transactions (no ovs-vsctl process).
//
// Every VM NIC is a port on one bridge. An unlinked NIC carries its own isolated tag; a link is a
// tag that both ends carry. Ports labvirt adds carry external_ids
//   owner=labvirt lab=L node=N nic=I isolated_tag=T [instance=X] [link=K link_tag=U]
// (instance: the labvirt daemon that owns the port, docs/instances.md; absent on older ports)
// so that ownership, reservations and link state are rebuilt from OVSDB after any restart or
// reconnect: OVSDB, not the daemon's memory, is the record of what labvirt made (docs/ovs.md,
// "What labvirt writes"). A link whose ends sit on their isolated tags while link_tag is set is
// "carrier down": the data plane is cut but the link keeps its tag.
//
// Every NIC port points its `qos` at one QoS row of type "linux-noop" (external_ids
// owner=labvirt role=noop-qos; inserted by the first AddPorts that finds none, kept: QoS is a
// root table). Without it ovs-vswitchd, each time it opens a port's device (the port's first
// reconfiguration, a re-created tap, its own restart), deletes whatever root qdisc the device has;
// labvirt's impairments are root qdiscs on the taps (engine/netem), so one set just before that
// moment, or any set before ovs-vswitchd restarts, would silently be gone. "linux-noop" tells
// ovs-vswitchd the qdiscs are managed elsewhere (checked on OVS 3.1: a tbf set before add-port is
// deleted without it, kept with it).
//
// Operations run one at a time, in call order, each as one transaction computed from the
// replica when it runs (ovsdb-server sends a transaction's monitor update before its reply —
// checked on OVS 3.1 — so the next operation sees the previous one's effect). An operation that
// loses the connection (or times out) is recomputed and retried after the replica resyncs, up to
// `max_attempts`; since it is recomputed from the server's state, a retry of a change that did
// commit is a no-op. Any other failure is reported to the caller with the allocator unchanged.
//
// What it does not own: reactor, client and replica (all must outlive it). It installs the
// replica's synced/changed handlers. A transaction in flight holds a callback into the switch
// inside the client: destroy the switch and its client together (no loop pass in between), as
// the client drops pending callbacks unrun when destroyed.
//
// Threads: loop thread only. Callbacks run later from the loop (never inside the call), exactly
// once, unless the switch is destroyed first.
#ifndef LABVIRT_OVS_OVS_SWITCH_H_
#define LABVIRT_OVS_OVS_SWITCH_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ovs/ovs_replica.h"
#include "ovs/ovsdb_client.h"
#include "ovs/vlan_allocator.h"
#include "reactor/base/status.h"
#include "reactor/reactor.h"

namespace labvirt::ovs {

struct OvsSwitchOptions {
  std::string bridge = "arch-ovs";
  // datapath_type=netdev (userspace datapath); the daemon asks for it when the host has no OVS
  // kernel module.
  bool netdev = false;
  VlanRanges ranges;
  // Tries per operation when the connection is lost or the server stalls.
  int max_attempts = 3;
  // How long an operation waits for the replica to (re)sync before failing with kUnavailable.
  reactor::Duration sync_timeout = std::chrono::seconds(30);
};

// One VM NIC port to put on the bridge. `port` is the tap name libvirt creates (<= 15 bytes).
struct NicPort {
  std::string port;
  std::string lab;
  std::string node;
  int nic = 0;
  // The labvirt instance plugging it (external_ids instance); "" writes none. Fields with a default
  // may be left out of a designated initializer.
  std::string instance{};
  // Management segment of the lab the NIC joins ("" = none): the port then carries the segment's
  // tag instead of its isolated tag (which it still holds). A segment port is never in a link.
  std::string segment{};
};

// The host-side gateway of a lab's management segment: an OVS internal port (ovs-vswitchd makes
// a kernel interface of the same name) on the segment's tag. `port` <= 15 bytes.
struct GatewayPort {
  std::string port;
  std::string lab;
  std::string segment;
  std::string instance{};  // as NicPort::instance
};

// external_ids role of a gateway port (NIC ports carry no role).
inline constexpr char kGatewayRole[] = "gateway";
// external_ids role of the QoS row every NIC port points at (see the file comment).
inline constexpr char kNoopQosRole[] = "noop-qos";

// A port labvirt owns, as read from OVSDB.
struct OwnedPort {
  std::string port;
  std::string uuid;
  std::string bridge;  // name of the bridge holding it ("" if none)
  std::string lab;
  std::string node;
  std::string instance;  // external_ids instance; "" on ports made before labvirt had instances
  int nic = -1;
  int tag = -1;           // -1: no tag
  int isolated_tag = -1;  // -1: unknown
  std::string link;       // "" when unlinked
  int link_tag = -1;
  std::string segment;  // management segment, "" when none
  int segment_tag = -1;
  std::string role;  // kGatewayRole for a segment's gateway (no node, nic -1); "" for a NIC
  bool carrier_up() const { return !link.empty() && tag == link_tag; }
  bool gateway() const { return role == kGatewayRole; }
};

struct LinkSpec {
  std::string lab;
  std::string link;  // link id, unique within the lab
  std::string port_a;
  std::string port_b;
};

class OvsSwitch {
 public:
  using Callback = std::function<void(Status)>;

  // `options.ranges` must pass VlanRanges::Validate().
  OvsSwitch(reactor::Reactor& reactor, OvsdbClient& client, OvsReplica& replica,
            OvsSwitchOptions options);
  ~OvsSwitch();
  OvsSwitch(const OvsSwitch&) = delete;
  OvsSwitch& operator=(const OvsSwitch&) = delete;

  // Creates the bridge (fail_mode=standalone, datapath_type per options, its internal port) and
  // the Open_vSwitch root row if missing; fixes fail_mode/datapath_type if they differ.
  void EnsureBridge(Callback done);

  // Puts `ports` on the bridge in one transaction, each with its NIC's isolated tag and
  // external_ids. A port that exists already is updated in place (its link state is kept when it
  // belongs to the same NIC and joins no segment). A port with a segment carries the segment's
  // tag (allocated from the links range unless the segment holds one); a segment this batch
  // moves its last port away from frees its tag once it commits. kFailedPrecondition when a
  // name is taken by a port labvirt does not own, by a gateway, or sits on another bridge;
  // kResourceExhausted when a range is full.
  void AddPorts(std::vector<NicPort> ports, Callback done);
  // Adds (or updates in place) the gateway port of `gw.segment`: type=internal, the segment's
  // tag (allocated if the segment holds none). kFailedPrecondition when the name is taken by a port
  // labvirt does not own, by a NIC port, by another segment's gateway or sits on another bridge;
  // kInvalidArgument for a bad name or an empty lab/segment.
  void AddGatewayPort(GatewayPort gw, Callback done);
  // Removes the named ports (absent ones are ignored) in one transaction and frees their NICs'
  // isolated tags, and a segment's tag when its last port (NIC or gateway) goes. A link keeps its
  // tag until DeleteLink.
  void RemovePorts(std::vector<std::string> ports, Callback done);
  // Ports with external_ids owner=labvirt on any bridge, from the replica.
  std::vector<OwnedPort> ListOwnedPorts() const;

  // Gives both ends the link's tag (allocated host-wide, or the one the link already holds).
  // Both ports must be labvirt's and on the bridge; neither may be in another link.
  void CreateLink(LinkSpec link, Callback done);
  // Creates many links in one transaction (a lab deploy); all or nothing.
  void CreateLinks(std::vector<LinkSpec> links, Callback done);
  // Moves both ends back to their isolated tags and frees the link's tag.
  void DeleteLink(std::string lab, std::string link, Callback done);
  // Carrier down: both ends move to their isolated tags, the link keeps its tag reserved.
  // Carrier up: both ends move back to the link tag. kNotFound when no port has the link.
  void SetLinkCarrier(std::string lab, std::string link, bool up, Callback done);

  // Sets the tag of each named port (0..4095, or -1 to clear) in one transaction. Low level: it
  // does not touch reservations. kNotFound when a port does not exist.
  void SetTags(std::vector<std::pair<std::string, int>> tags, Callback done);

  // Reserves `tag` for `owner` (e.g. "link:LAB/LINK" of a stopped VM whose ports are gone), kept
  // across resyncs until ReleaseReservation(owner). Fails like VlanAllocator::Reserve.
  Status Reserve(int tag, const std::string& owner);
  void ReleaseReservation(const std::string& owner);

  const VlanAllocator& allocator() const { return allocator_; }
  static std::string NicOwner(const std::string& lab, const std::string& node, int nic);
  static std::string LinkOwner(const std::string& lab, const std::string& link);
  static std::string SegmentOwner(const std::string& lab, const std::string& segment);
  // The tag segment `lab`/`segment` holds (from the allocator, rebuilt from OVSDB), if any.
  std::optional<int> SegmentTag(const std::string& lab, const std::string& segment) const;
  // Operations queued or in flight.
  size_t pending_operations() const { return ops_.size(); }

 private:
  struct Op {
    std::string what;
    // Computes the transaction from the replica; may allocate tags, recording new owners in
    // `allocated` so that a failure can give them back.
    std::function<Result<Transaction>(std::vector<std::string>* allocated)> build;
    std::function<void()> on_success;
    Callback done;
    int attempts = 0;
    std::vector<std::string> allocated;
  };

  void Enqueue(std::string what,
               std::function<Result<Transaction>(std::vector<std::string>*)> build,
               std::function<void()> on_success, Callback done);
  void Pump();
  void Finish(Status status);
  void OnSynced();
  void OnChanged();
  void RebuildAllocator();
  void ObservePorts();
  void ArmSyncTimeout();
  std::vector<const OwnedPort*> LinkEnds(const std::vector<OwnedPort>& owned,
                                         const std::string& lab, const std::string& link) const;
  // Owners ("segment:LAB/SEG") of the segments no port carries once the ports whose uuids are in
  // `removed` are gone.
  std::vector<std::string> SegmentsLeftEmpty(const std::set<std::string>& removed) const;
  // The tag of segment `owner`, allocating it (recorded in `allocated`) if it holds none.
  Result<uint16_t> SegmentTagFor(const std::string& owner, std::vector<std::string>* allocated);
  // The uuid atom of labvirt's "linux-noop" QoS row: the replica's, else a named uuid of a row
  // this call inserts into `txn` (once per transaction: `*inserted` says whether it did).
  Atom NoopQos(Transaction& txn, bool* inserted) const;
  Result<Transaction> BuildLinkTags(const std::string& lab, const std::string& link,
                                    bool to_link_tag, bool clear_link);

  reactor::Reactor& reactor_;
  OvsdbClient& client_;
  OvsReplica& replica_;
  const OvsSwitchOptions options_;
  VlanAllocator allocator_;
  std::map<std::string, int> engine_reservations_;  // owner -> tag, from Reserve()
  std::deque<Op> ops_;
  bool in_flight_ = false;
  uint64_t op_generation_ = 0;
  // Handles last.
  reactor::OpHandle sync_timeout_;
};

}  // namespace labvirt::ovs

#endif  // LABVIRT_OVS_OVS_SWITCH_H_
