// OvsSwitch against a private ovsdb-server (no ovs-vswitchd): what labvirt writes reads back
// identically through ovs-vsctl; errors from the real server; tags unique across labs and
// across restarts of labvirt's stack and of ovsdb-server; a server killed mid-operation.
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/ovs_harness.h"
#include "tests/support/prereq.h"

namespace labvirt::ovs {
namespace {

using namespace std::chrono_literals;
using testing::Await;
using testing::PrivateOvsdb;
using testing::RunUntil;
using testing::Stack;

class OvsSwitchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LABVIRT_REQUIRE(testing::HaveCommand("ovsdb-server") && testing::HaveCommand("ovsdb-tool") &&
                        testing::HaveCommand("ovs-vsctl"),
                    "ovsdb-server, ovsdb-tool and ovs-vsctl (openvswitch-switch)");
    db_ = std::make_unique<PrivateOvsdb>();
    ASSERT_TRUE(db_->created());
    ASSERT_TRUE(db_->Start());
    reactor_ = std::move(reactor::Reactor::Create().value());
  }
  void TearDown() override {
    stack_.reset();
    reactor_.reset();
    db_.reset();
  }
  void NewStack(OvsSwitchOptions o = {}) {
    o.bridge = "lvtest";
    o.netdev = true;
    stack_.reset();
    stack_ = std::make_unique<Stack>(*reactor_, db_->remote(), o);
    ASSERT_TRUE(RunUntil(*reactor_, [&] { return stack_->replica->synced(); }));
  }
  Status Run(const std::function<void(OvsSwitch::Callback)>& op) { return Await(*reactor_, op); }
  OvsSwitch& sw() { return *stack_->sw; }
  std::string Get(const std::string& what) { return db_->Vsctl("get " + what); }
  std::vector<NicPort> Nics(const std::string& lab, const std::string& node, int n) {
    std::vector<NicPort> v;
    for (int i = 0; i < n; ++i)
      v.push_back({lab + node + "e" + std::to_string(i), lab, node, i, ""});
    return v;
  }

  std::unique_ptr<PrivateOvsdb> db_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<Stack> stack_;
};

TEST_F(OvsSwitchTest, EverythingWrittenReadsBackThroughOvsVsctl) {
  NewStack();
  ASSERT_TRUE(Run([&](auto cb) { sw().EnsureBridge(cb); }).ok());
  EXPECT_EQ(Get("bridge lvtest fail_mode"), "standalone");
  EXPECT_EQ(Get("bridge lvtest datapath_type"), "netdev");
  EXPECT_EQ(db_->Vsctl("list-br"), "lvtest");
  // Idempotent: a second call sends nothing and succeeds.
  ASSERT_TRUE(Run([&](auto cb) { sw().EnsureBridge(cb); }).ok());

  ASSERT_TRUE(Run([&](auto cb) { sw().AddPorts(Nics("lab1", "r1", 2), cb); }).ok());
  ASSERT_TRUE(Run([&](auto cb) { sw().AddPorts(Nics("lab1", "r2", 1), cb); }).ok());
  EXPECT_EQ(db_->Vsctl("list-ports lvtest"), "lab1r1e0\nlab1r1e1\nlab1r2e0");
  EXPECT_EQ(Get("port lab1r1e0 tag"), "100");
  EXPECT_EQ(Get("port lab1r1e1 tag"), "101");
  EXPECT_EQ(Get("port lab1r2e0 tag"), "102");
  EXPECT_EQ(Get("port lab1r1e1 external_ids"),
            "{isolated_tag=\"101\", lab=lab1, nic=\"1\", node=r1, owner=labvirt}");
  EXPECT_EQ(Get("interface lab1r1e1 type"), "\"\"");

  ASSERT_TRUE(Run([&](auto cb) {
                sw().CreateLink({"lab1", "L1", "lab1r1e1", "lab1r2e0"}, cb);
              }).ok());
  EXPECT_EQ(Get("port lab1r1e1 tag"), "2050");
  EXPECT_EQ(Get("port lab1r2e0 tag"), "2050");
  EXPECT_EQ(Get("port lab1r2e0 external_ids:link"), "L1");
  EXPECT_EQ(Get("port lab1r2e0 external_ids:link_tag"), "\"2050\"");

  ASSERT_TRUE(Run([&](auto cb) { sw().SetLinkCarrier("lab1", "L1", false, cb); }).ok());
  EXPECT_EQ(Get("port lab1r1e1 tag"), "101");
  EXPECT_EQ(Get("port lab1r2e0 tag"), "102");
  EXPECT_EQ(sw().allocator().OwnerOf(2050), "link:lab1/L1");  // still reserved
  ASSERT_TRUE(Run([&](auto cb) { sw().SetLinkCarrier("lab1", "L1", true, cb); }).ok());
  EXPECT_EQ(Get("port lab1r1e1 tag"), "2050");

  auto owned = sw().ListOwnedPorts();
  ASSERT_EQ(owned.size(), 3u);
  for (const OwnedPort& p : owned) {
    EXPECT_EQ(p.bridge, "lvtest");
    EXPECT_EQ(p.lab, "lab1");
    if (p.port == "lab1r2e0") {
      EXPECT_TRUE(p.carrier_up());
      EXPECT_EQ(p.node, "r2");
      EXPECT_EQ(p.nic, 0);
    }
  }

  ASSERT_TRUE(Run([&](auto cb) { sw().DeleteLink("lab1", "L1", cb); }).ok());
  EXPECT_EQ(Get("port lab1r1e1 tag"), "101");
  EXPECT_EQ(Get("port lab1r2e0 tag"), "102");
  EXPECT_EQ(Get("port lab1r2e0 external_ids"),
            "{isolated_tag=\"102\", lab=lab1, nic=\"0\", node=r2, owner=labvirt}");
  EXPECT_EQ(sw().allocator().OwnerOf(2050), std::nullopt);

  ASSERT_TRUE(Run([&](auto cb) { sw().RemovePorts({"lab1r1e0", "lab1r2e0", "nope"}, cb); }).ok());
  EXPECT_EQ(db_->Vsctl("list-ports lvtest"), "lab1r1e1");
  // Port and Interface rows went with them (garbage-collected, no dangling rows).
  std::string ifaces = db_->Vsctl("--bare --columns=name list interface");
  EXPECT_EQ(ifaces.find("lab1r1e0"), std::string::npos) << ifaces;
  EXPECT_NE(ifaces.find("lab1r1e1"), std::string::npos) << ifaces;
  EXPECT_EQ(sw().allocator().OwnerOf(100), std::nullopt);

  // The labvirt instance that plugs a port is in its external_ids (issue 13), kept on re-plug.
  ASSERT_TRUE(Run([&](auto cb) {
                sw().AddPorts({{"lab2r1e0", "lab2", "r1", 0, "h13x"}}, cb);
              }).ok());
  ASSERT_TRUE(Run([&](auto cb) {
                sw().AddPorts({{"lab2r1e0", "lab2", "r1", 0, "h13x"}}, cb);
              }).ok());
  EXPECT_EQ(Get("port lab2r1e0 external_ids:instance"), "h13x");
  for (const OwnedPort& p : sw().ListOwnedPorts()) {
    EXPECT_EQ(p.instance, p.port == "lab2r1e0" ? "h13x" : "") << p.port;
  }
}

TEST_F(OvsSwitchTest, ErrorsAreClearAndChangeNothing) {
  OvsSwitchOptions o;
  o.ranges.isolated = {10, 12};
  NewStack(o);
  // No bridge yet.
  Status s = Run([&](auto cb) { sw().AddPorts(Nics("a", "r", 1), cb); });
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  ASSERT_TRUE(Run([&](auto cb) { sw().EnsureBridge(cb); }).ok());
  // A port that is not labvirt's.
  int rc = 0;
  db_->Vsctl("add-port lvtest foreign tag=11", &rc);
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return sw().allocator().OwnerOf(11).has_value(); }));
  EXPECT_EQ(sw().allocator().OwnerOf(11), "foreign:foreign");
  s = Run([&](auto cb) { sw().AddPorts({{"foreign", "a", "r", 0, ""}}, cb); });
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_EQ(sw().allocator().reserved(), 1u);
  // Exhaustion: 10 and 12 are free, 11 is foreign; three NICs do not fit. Nothing is written.
  s = Run([&](auto cb) { sw().AddPorts(Nics("a", "r", 3), cb); });
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_EQ(db_->Vsctl("list-ports lvtest"), "foreign");
  EXPECT_EQ(sw().allocator().reserved(), 1u);
  ASSERT_TRUE(Run([&](auto cb) { sw().AddPorts(Nics("a", "r", 2), cb); }).ok());
  EXPECT_EQ(Get("port ar"
                "e1 tag"),
            "12");
  // Links to missing or foreign ports, tags out of range, bad names.
  EXPECT_EQ(Run([&](auto cb) {
              sw().CreateLink({"a", "x", "are0", "missing"}, cb);
            }).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Run([&](auto cb) {
              sw().CreateLink({"a", "x", "are0", "foreign"}, cb);
            }).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Run([&](auto cb) {
              sw().CreateLink({"a", "x", "are0", "are0"}, cb);
            }).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Run([&](auto cb) { sw().SetLinkCarrier("a", "nolink", true, cb); }).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Run([&](auto cb) {
              sw().SetTags({{"missing", 5}}, cb);
            }).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Run([&](auto cb) {
              sw().SetTags({{"are0", 4096}}, cb);
            }).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Run([&](auto cb) {
              sw().AddPorts({{"a-very-long-tap-name", "a", "r", 9, ""}}, cb);
            }).code(),
            StatusCode::kInvalidArgument);
  // A link's port cannot join a second link.
  ASSERT_TRUE(Run([&](auto cb) { sw().CreateLink({"a", "x", "are0", "are1"}, cb); }).ok());
  EXPECT_EQ(Run([&](auto cb) {
              sw().CreateLink({"a", "y", "are0", "are1"}, cb);
            }).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(Get("port are0 tag"), "2050");
}

TEST_F(OvsSwitchTest, ServerSideErrorsArePerOperation) {
  NewStack();
  ASSERT_TRUE(Run([&](auto cb) { sw().EnsureBridge(cb); }).ok());
  // A duplicate Port name violates the schema's index: the server's "constraint violation".
  Transaction txn;
  for (int i = 0; i < 2; ++i) {
    txn.Insert("Port", "p" + std::to_string(i),
               {{"name", Datum::FromAtom(Atom::String("dup"))},
                {"interfaces", Datum::FromAtom(Atom::NamedUuid("i"))}},
               "insert Port dup #" + std::to_string(i));
  }
  txn.Insert("Interface", "i", {{"name", Datum::FromAtom(Atom::String("dup"))}}, "iface");
  txn.Mutate("Bridge", stack_->replica->FindByName("Bridge", "lvtest"), "ports", "insert",
             Datum::Set({Atom::NamedUuid("p0"), Atom::NamedUuid("p1")}), "attach");
  Status s = Internal("none");
  bool done = false;
  stack_->client->Transact(txn, [&](Result<TransactReply> r) {
    done = true;
    s = r.ok() ? r->ToStatus(txn.labels()) : r.status();
  });
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return done; }));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("constraint violation"), std::string::npos) << s.ToString();
  // An unknown table: a per-operation syntax error, with the label.
  Transaction bad;
  bad.Delete("NoSuchTable", "00000000-0000-0000-0000-000000000000", "delete from NoSuchTable");
  done = false;
  stack_->client->Transact(bad, [&](Result<TransactReply> r) {
    done = true;
    s = r.ok() ? r->ToStatus(bad.labels()) : r.status();
  });
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return done; }));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("NoSuchTable"), std::string::npos) << s.ToString();
  EXPECT_TRUE(stack_->client->connected());
}

std::set<std::string> AllTags(const PrivateOvsdb& db) {
  std::set<std::string> tags;
  std::string out = db.Vsctl("--bare --columns=tag list port");
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    std::string line = out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (!line.empty()) tags.insert(line);
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return tags;
}

TEST_F(OvsSwitchTest, TwoLabsNeverShareATagAcrossRestarts) {
  NewStack();
  ASSERT_TRUE(Run([&](auto cb) { sw().EnsureBridge(cb); }).ok());
  ASSERT_TRUE(Run([&](auto cb) { sw().AddPorts(Nics("A", "n", 4), cb); }).ok());
  ASSERT_TRUE(Run([&](auto cb) { sw().CreateLink({"A", "l", "Ane0", "Ane1"}, cb); }).ok());
  ASSERT_TRUE(Run([&](auto cb) { sw().SetLinkCarrier("A", "l", false, cb); }).ok());
  // A stopped VM's link whose ports are gone: the engine reserves it.
  ASSERT_TRUE(sw().Reserve(2051, "link:A/stopped").ok());

  // Restart labvirt (client, replica, allocator): reservations come back from external_ids.
  NewStack();
  EXPECT_EQ(sw().allocator().OwnerOf(2050), "link:A/l");  // carrier down, tag still held
  EXPECT_EQ(sw().allocator().OwnerOf(100), "nic:A/n/0");
  ASSERT_TRUE(sw().Reserve(2051, "link:A/stopped").ok());
  ASSERT_TRUE(Run([&](auto cb) { sw().AddPorts(Nics("B", "n", 4), cb); }).ok());
  ASSERT_TRUE(Run([&](auto cb) { sw().CreateLink({"B", "l", "Bne0", "Bne1"}, cb); }).ok());
  EXPECT_EQ(Get("port Bne0 tag"), "2052");
  EXPECT_EQ(Get("port Bne2 tag"), "106");  // A holds 100-103

  // Restart ovsdb-server while an operation is queued: it is retried and converges.
  db_->Kill();
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return !stack_->client->connected(); }));
  bool done = false;
  Status s;
  sw().AddPorts(Nics("C", "n", 2), [&](Status st) {
    done = true;
    s = st;
  });
  sw().CreateLinks({{"C", "l", "Cne0", "Cne1"}}, [](Status st) { EXPECT_TRUE(st.ok()); });
  ASSERT_TRUE(RunUntil(
                  *reactor_, [] { return false; }, 300ms) == false);
  EXPECT_FALSE(done);
  ASSERT_TRUE(db_->Start());
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return done && sw().pending_operations() == 0; }));
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_GE(stack_->client->connects(), 2u);
  EXPECT_EQ(sw().allocator().OwnerOf(2051), "link:A/stopped");  // kept across the resync
  EXPECT_EQ(Get("port Cne0 tag"), "2053");

  // Every port carries a distinct tag except the two ends of each live link.
  std::map<std::string, std::vector<std::string>> by_tag;
  for (const OwnedPort& p : sw().ListOwnedPorts()) {
    by_tag[std::to_string(p.tag)].push_back(p.lab + ":" + p.link);
  }
  for (const auto& [tag, users] : by_tag) {
    if (users.size() == 1) continue;
    ASSERT_EQ(users.size(), 2u) << "tag " << tag;
    EXPECT_EQ(users[0], users[1]) << "tag " << tag << " shared by two labs or links";
    EXPECT_NE(users[0].back(), ':') << "tag " << tag << " shared by unlinked ports";
  }
  EXPECT_EQ(sw().ListOwnedPorts().size(), 10u);
}

TEST_F(OvsSwitchTest, ServerKilledMidTransactionConvergesWithNothingLost) {
  NewStack();
  ASSERT_TRUE(Run([&](auto cb) { sw().EnsureBridge(cb); }).ok());
  std::vector<Status> results(5, Internal("pending"));
  int finished = 0;
  for (int batch = 0; batch < 5; ++batch) {
    sw().AddPorts(Nics("K", "b" + std::to_string(batch), 20), [&, batch](Status s) {
      results[static_cast<size_t>(batch)] = s;
      ++finished;
    });
  }
  // Let the first transaction go out, then kill the server under it.
  reactor_->RunOnce(false);
  reactor_->RunOnce(false);
  db_->Kill();
  testing::RunUntil(
      *reactor_, [] { return false; }, 200ms);
  ASSERT_TRUE(db_->Start());
  ASSERT_TRUE(RunUntil(
      *reactor_, [&] { return finished == 5; }, 20s));
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  std::string ports = db_->Vsctl("list-ports lvtest");
  EXPECT_EQ(static_cast<int>(std::count(ports.begin(), ports.end(), '\n')) + 1, 100);
  EXPECT_EQ(AllTags(*db_).size(), 100u);
  EXPECT_EQ(sw().ListOwnedPorts().size(), 100u);
}

TEST_F(OvsSwitchTest, WorksOverTcpToo) {
  OvsSwitchOptions o;
  o.bridge = "lvtcp";
  stack_ =
      std::make_unique<Stack>(*reactor_, "tcp:127.0.0.1:" + std::to_string(db_->tcp_port()), o);
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return stack_->replica->synced(); }));
  ASSERT_TRUE(Run([&](auto cb) { sw().EnsureBridge(cb); }).ok());
  ASSERT_TRUE(Run([&](auto cb) { sw().AddPorts(Nics("T", "n", 1), cb); }).ok());
  EXPECT_EQ(Get("port Tne0 tag"), "100");
  EXPECT_EQ(Get("bridge lvtcp datapath_type"), "\"\"");
}

TEST_F(OvsSwitchTest, ServerDownLongerThanTheSyncTimeoutFailsCleanly) {
  OvsSwitchOptions o;
  o.sync_timeout = 300ms;
  NewStack(o);
  ASSERT_TRUE(Run([&](auto cb) { sw().EnsureBridge(cb); }).ok());
  db_->Kill();
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return !stack_->client->connected(); }));
  size_t before = sw().allocator().reserved();
  Status s = Run([&](auto cb) { sw().AddPorts(Nics("D", "n", 2), cb); });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_EQ(sw().allocator().reserved(), before);
  ASSERT_TRUE(db_->Start());
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return stack_->replica->synced(); }));
  EXPECT_TRUE(Run([&](auto cb) { sw().AddPorts(Nics("D", "n", 2), cb); }).ok());
}

// Management segments (issue 17): NIC ports and a gateway share one tag per segment, distinct
// from every other tag; the tag is rebuilt from OVSDB and freed with the segment's last port.
TEST_F(OvsSwitchTest, SegmentPortsAndGatewayShareOneTagRebuiltFromOvsdb) {
  NewStack();
  ASSERT_TRUE(Run([&](auto cb) { sw().EnsureBridge(cb); }).ok());
  std::vector<NicPort> a = {
      {.port = "Ar1m", .lab = "A", .node = "r1", .nic = 1000, .segment = "mgmt"},
      {.port = "Ar2m", .lab = "A", .node = "r2", .nic = 1000, .segment = "mgmt"},
      {.port = "Ar1e0", .lab = "A", .node = "r1", .nic = 0}};
  ASSERT_TRUE(Run([&](auto cb) { sw().AddPorts(a, cb); }).ok());
  GatewayPort gw{.port = "Agw", .lab = "A", .segment = "mgmt", .instance = "h17"};
  ASSERT_TRUE(Run([&](auto cb) { sw().AddGatewayPort(gw, cb); }).ok());
  ASSERT_EQ(sw().SegmentTag("A", "mgmt"), 2050);
  EXPECT_EQ(Get("port Ar1m tag"), "2050");
  EXPECT_EQ(Get("port Ar2m tag"), "2050");
  EXPECT_EQ(Get("port Agw tag"), "2050");
  EXPECT_EQ(Get("port Ar1e0 tag"), "102");  // isolated; 100 and 101 are the mgmt NICs'
  EXPECT_EQ(Get("port Ar1m external_ids"),
            "{isolated_tag=\"100\", lab=A, nic=\"1000\", node=r1, owner=labvirt, segment=mgmt, "
            "segment_tag=\"2050\"}");
  EXPECT_EQ(Get("port Agw external_ids"),
            "{instance=h17, lab=A, owner=labvirt, role=gateway, segment=mgmt, "
            "segment_tag=\"2050\"}");
  EXPECT_EQ(Get("interface Agw type"), "internal");
  // Idempotent: the same gateway again changes nothing.
  ASSERT_TRUE(Run([&](auto cb) { sw().AddGatewayPort(gw, cb); }).ok());
  EXPECT_EQ(db_->Vsctl("list-ports lvtest"), "Agw\nAr1e0\nAr1m\nAr2m");
  for (const OwnedPort& p : sw().ListOwnedPorts()) {
    EXPECT_EQ(p.gateway(), p.port == "Agw") << p.port;
    EXPECT_EQ(p.segment, p.port == "Ar1e0" ? "" : "mgmt") << p.port;
    if (p.gateway()) {
      EXPECT_EQ(p.node, "");
      EXPECT_EQ(p.nic, -1);
      EXPECT_EQ(p.segment_tag, 2050);
    }
  }
  // A segment port is never a link end.
  EXPECT_EQ(Run([&](auto cb) {
              sw().CreateLink({"A", "L", "Ar1m", "Ar1e0"}, cb);
            }).code(),
            StatusCode::kFailedPrecondition);
  // Another lab's segment of the same name gets its own tag.
  ASSERT_TRUE(Run([&](auto cb) {
                sw().AddGatewayPort({.port = "Bgw", .lab = "B", .segment = "mgmt"}, cb);
              }).ok());
  EXPECT_EQ(sw().SegmentTag("B", "mgmt"), 2051);
  EXPECT_EQ(Get("port Bgw tag"), "2051");

  // A restarted labvirt rebuilds the tags from external_ids...
  NewStack();
  EXPECT_EQ(sw().SegmentTag("A", "mgmt"), 2050);
  EXPECT_EQ(sw().SegmentTag("B", "mgmt"), 2051);
  EXPECT_EQ(sw().allocator().OwnerOf(2050), "segment:A/mgmt");
  EXPECT_EQ(sw().allocator().OwnerOf(100), "nic:A/r1/1000");
  // ...and so does a resync after ovsdb-server restarts.
  db_->Kill();
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return !stack_->client->connected(); }));
  ASSERT_TRUE(db_->Start());
  ASSERT_TRUE(RunUntil(*reactor_,
                       [&] { return stack_->client->connected() && stack_->replica->synced(); }));
  EXPECT_EQ(sw().SegmentTag("A", "mgmt"), 2050);
  EXPECT_EQ(sw().SegmentTag("B", "mgmt"), 2051);
  // A NIC joining after the restart gets the segment's existing tag.
  ASSERT_TRUE(Run([&](auto cb) {
                sw().AddPorts(
                    {{.port = "Ar3m", .lab = "A", .node = "r3", .nic = 1000, .segment = "mgmt"}},
                    cb);
              }).ok());
  EXPECT_EQ(Get("port Ar3m tag"), "2050");

  // The tag stays while any port carries it and goes with the last one.
  ASSERT_TRUE(Run([&](auto cb) { sw().RemovePorts({"Ar1m", "Agw"}, cb); }).ok());
  EXPECT_EQ(sw().SegmentTag("A", "mgmt"), 2050);
  ASSERT_TRUE(Run([&](auto cb) { sw().RemovePorts({"Ar2m", "Ar3m"}, cb); }).ok());
  EXPECT_EQ(sw().SegmentTag("A", "mgmt"), std::nullopt);
  EXPECT_EQ(sw().allocator().OwnerOf(2050), std::nullopt);
  EXPECT_EQ(sw().SegmentTag("B", "mgmt"), 2051);
  ASSERT_TRUE(Run([&](auto cb) {
                sw().AddGatewayPort({.port = "Cgw", .lab = "C", .segment = "mgmt"}, cb);
              }).ok());
  EXPECT_EQ(Get("port Cgw tag"), "2050");  // freed, lowest first
  // And a restart after the removal does not bring it back.
  NewStack();
  EXPECT_EQ(sw().SegmentTag("A", "mgmt"), std::nullopt);
  EXPECT_EQ(sw().allocator().OwnerOf(2050), "segment:C/mgmt");
}

// A NIC re-plugged onto another segment (or none) frees its old segment's tag with its last port.
TEST_F(OvsSwitchTest, ANicLeavingItsSegmentFreesTheTagWhenItWasTheLast) {
  NewStack();
  ASSERT_TRUE(Run([&](auto cb) { sw().EnsureBridge(cb); }).ok());
  NicPort x{.port = "x", .lab = "A", .node = "r1", .nic = 1000, .segment = "s"};
  NicPort y{.port = "y", .lab = "A", .node = "r2", .nic = 1000, .segment = "s"};
  ASSERT_TRUE(Run([&](auto cb) { sw().AddPorts({x}, cb); }).ok());
  EXPECT_EQ(sw().SegmentTag("A", "s"), 2050);
  // x leaves s while y joins it in the same batch: s keeps its tag.
  x.segment = "";
  ASSERT_TRUE(Run([&](auto cb) { sw().AddPorts({x, y}, cb); }).ok());
  EXPECT_EQ(sw().SegmentTag("A", "s"), 2050);
  EXPECT_EQ(Get("port x tag"), "100");
  EXPECT_EQ(Get("port y tag"), "2050");
  EXPECT_EQ(Get("port x external_ids"),
            "{isolated_tag=\"100\", lab=A, nic=\"1000\", node=r1, owner=labvirt}");
  // y, its last port, moves to segment t (a new tag: s's is freed only once that commits); then
  // s's tag is free for the next segment.
  y.segment = "t";
  ASSERT_TRUE(Run([&](auto cb) { sw().AddPorts({y}, cb); }).ok());
  EXPECT_EQ(sw().SegmentTag("A", "s"), std::nullopt);
  EXPECT_EQ(sw().SegmentTag("A", "t"), 2051);
  EXPECT_EQ(Get("port y tag"), "2051");
  EXPECT_EQ(sw().allocator().OwnerOf(2050), std::nullopt);
  ASSERT_TRUE(Run([&](auto cb) {
                sw().AddGatewayPort({.port = "ugw", .lab = "A", .segment = "u"}, cb);
              }).ok());
  EXPECT_EQ(Get("port ugw tag"), "2050");
}

TEST_F(OvsSwitchTest, GatewayNamesTakenByOtherPortsAreRefused) {
  NewStack();
  ASSERT_TRUE(Run([&](auto cb) { sw().EnsureBridge(cb); }).ok());
  int rc = 0;
  db_->Vsctl("add-port lvtest fgw tag=7", &rc);
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return sw().allocator().OwnerOf(7).has_value(); }));
  size_t before = sw().allocator().reserved();
  Status s = Run(
      [&](auto cb) { sw().AddGatewayPort({.port = "fgw", .lab = "A", .segment = "mgmt"}, cb); });
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("not labvirt's"), std::string::npos) << s.ToString();
  EXPECT_EQ(Get("port fgw tag"), "7");
  EXPECT_EQ(Get("interface fgw type"), "\"\"");
  EXPECT_EQ(sw().SegmentTag("A", "mgmt"), std::nullopt);
  EXPECT_EQ(sw().allocator().reserved(), before);
  // A NIC's port is not a gateway, nor a gateway a NIC's port, nor one segment's gateway another's.
  ASSERT_TRUE(Run([&](auto cb) { sw().AddPorts(Nics("A", "r", 1), cb); }).ok());
  EXPECT_EQ(Run([&](auto cb) {
              sw().AddGatewayPort({.port = "Are0", .lab = "A", .segment = "mgmt"}, cb);
            }).code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Run([&](auto cb) {
                sw().AddGatewayPort({.port = "Agw", .lab = "A", .segment = "mgmt"}, cb);
              }).ok());
  EXPECT_EQ(Run([&](auto cb) {
              sw().AddPorts({{.port = "Agw", .lab = "A", .node = "r", .nic = 1}}, cb);
            }).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(Run([&](auto cb) {
              sw().AddGatewayPort({.port = "Agw", .lab = "A", .segment = "other"}, cb);
            }).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(sw().SegmentTag("A", "other"), std::nullopt);
  EXPECT_EQ(Run([&](auto cb) {
              sw().AddGatewayPort({.port = "gw-name-too-long", .lab = "A", .segment = "m"}, cb);
            }).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Get("port Agw tag"), "2050");
  EXPECT_EQ(Get("interface Agw type"), "internal");
}

}  // namespace
}  // namespace labvirt::ovs
