// OvsSwitch's management segments (issue 17) against a private ovsdb-server: NIC ports and a
// gateway share one tag per segment, rebuilt from OVSDB after restarts, freed with the last port;
// gateway names held by other ports are refused.
#include <string>
#include <vector>

#include "tests/integration/ovs_switch_fixture.h"

namespace labvirt::ovs {
namespace {

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
