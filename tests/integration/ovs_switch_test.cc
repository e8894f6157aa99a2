// OvsSwitch against a private ovsdb-server (no ovs-vswitchd): what labvirt writes reads back
// identically through ovs-vsctl; errors from the real server; tags unique across labs and
// across restarts of labvirt's stack and of ovsdb-server; a server killed mid-operation.
#include <set>
#include <string>
#include <vector>

#include "tests/integration/ovs_switch_fixture.h"

namespace labvirt::ovs {
namespace {

using namespace std::chrono_literals;

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
  // Every NIC port points at labvirt's one "linux-noop" QoS row, so that ovs-vswitchd leaves the
  // taps' root qdiscs (impairments) alone.
  const std::string qos = Get("port lab1r1e0 qos");
  EXPECT_EQ(Get("port lab1r2e0 qos"), qos);
  EXPECT_EQ(Get("qos " + qos + " type"), "linux-noop");
  EXPECT_EQ(Get("qos " + qos + " external_ids"), "{owner=labvirt, role=noop-qos}");

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

  // A port without it (as labvirt before it left them) gets it when plugged again, from a new
  // stack (a labvirt restart), which finds the row rather than adding another.
  db_->Vsctl("clear port lab2r1e0 qos");
  ASSERT_EQ(Get("port lab2r1e0 qos"), "[]");
  NewStack();
  ASSERT_TRUE(Run([&](auto cb) {
                sw().AddPorts({{"lab2r1e0", "lab2", "r1", 0, "h13x"}}, cb);
              }).ok());
  EXPECT_EQ(Get("port lab2r1e0 qos"), qos);
  EXPECT_EQ(db_->Vsctl("--bare --columns=_uuid list qos"), qos);
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

}  // namespace
}  // namespace labvirt::ovs
