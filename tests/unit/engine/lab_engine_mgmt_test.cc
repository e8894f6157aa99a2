// LabEngine's management segments as far as they are logic (engine/lab/mgmt_network.h): what a
// deploy refuses before anything is made, and which labs get no segment at all. The segment made
// for real (OVS, dnsmasq, nft) is the `mgmt` integration test's.
#include "tests/unit/engine/lab_engine_fixture.h"

namespace labvirt::engine {
namespace {

class LabEngineMgmtTest : public LabEngineTest {
 protected:
  // A lab of one N9Kv (a kind with a management interface) and one IOSv (none), with `mgmt`.
  std::string DeployWith(const std::string& mgmt) {
    return DeployJson(R"({"name":"lab1","nodes":[)"
                      R"({"name":"sw1","kind":"n9kv","image":"base.qcow2","start":false},)"
                      R"({"name":"r1","kind":"iosv","image":"base.qcow2","start":false}],)"
                      R"("mgmt":)" +
                      mgmt + "}");
  }
  // Refused with `field` and `reason` in the answer, nothing defined and no lab left.
  void ExpectRefused(const std::string& mgmt, const std::string& field, const std::string& reason) {
    std::string answer = DeployWith(mgmt);
    EXPECT_TRUE(Has(answer, "\"field\":\"" + field + "\"")) << mgmt << " -> " << answer;
    EXPECT_TRUE(Has(answer, reason)) << mgmt << " -> " << answer;
    EXPECT_TRUE(hv_->xmls.empty()) << mgmt;
    EXPECT_FALSE(engine_->GetLab("lab1").ok()) << mgmt;
  }
};

TEST_F(LabEngineMgmtTest, ADaemonWithoutSegmentsRefusesALabThatAsksForOne) {
  ExpectRefused(R"({"nat":true})", "mgmt", "makes no management networks");
  // Asking for nothing in particular deploys, with no segment.
  std::string deployed = DeployWith("true");
  EXPECT_TRUE(Has(deployed, "\"mgmt\":null")) << deployed;
}

TEST_F(LabEngineMgmtTest, BadSegmentsAreRefusedBeforeAnythingIsMade) {
  MakeEngine(providers::kDefaultInstance, /*mgmt=*/true);
  ExpectRefused(R"({"subnet":"10.1.2.3/24"})", "mgmt.subnet", "host bits set");
  ExpectRefused(R"({"subnet":"10.1.2.0/30"})", "mgmt.subnet", "is not an IPv4 /16../29");
  ExpectRefused(R"({"subnet":"fd00::/64"})", "mgmt.subnet", "is not an IPv4 /16../29");
  ExpectRefused(R"({"ipv6":"fd00::/56"})", "mgmt.ipv6", "is not an IPv6 /64");
  // A /29 has .1 to .6: no room from .10 on.
  ExpectRefused(R"({"subnet":"10.1.2.0/29"})", "mgmt.subnet", "has room for 0 nodes");
  ExpectRefused(R"({"forwards":[{"node":"r1","host_port":2201}]})", "mgmt.forwards[0].node",
                "node r1 (kind cisco_iosv) has no management interface to forward to");
  ExpectRefused(R"({"forwards":[{"node":"sw1","host_port":2201},{"node":"sw1","port":23,)"
                R"("host_port":2201}]})",
                "mgmt.forwards[1].host_port", "tcp 2201 is forwarded twice");
}

TEST_F(LabEngineMgmtTest, ALabWithNoManagementInterfaceGetsNoSegment) {
  MakeEngine(providers::kDefaultInstance, /*mgmt=*/true);
  std::string deployed = DeployJson(
      R"({"name":"lab1","nodes":[{"name":"r1","kind":"iosv","image":"base.qcow2","start":false}]})");
  EXPECT_TRUE(Has(deployed, "\"mgmt\":null")) << deployed;
  EXPECT_TRUE(Has(Node("r1"), "\"mgmt\":null")) << Node("r1");
  EXPECT_TRUE(Has(engine_->Inventory("lab1", true).value(), "hosts: {}"));
  EXPECT_FALSE(engine_->Inventory("nope", true).ok());
}

}  // namespace
}  // namespace labvirt::engine
