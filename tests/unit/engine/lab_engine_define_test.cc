// A deploy's define step: its domains are defined a few at once (Deployer::DefineMore), and a
// failure is answered as one define after another would have answered it — the earliest failing
// node named, nothing it defined left behind — once every define in flight has answered.
#include <string>

#include "tests/unit/engine/lab_engine_fixture.h"

namespace labvirt::engine {
namespace {

class LabEngineDefineTest : public LabEngineTest {
 protected:
  // A lab of `count` nodes r0 … r{count-1}, none started.
  std::string DeployNodes(int count) {
    std::string nodes;
    for (int i = 0; i < count; ++i) {
      nodes += std::string(i ? "," : "") + R"({"name":"r)" + std::to_string(i) +
               R"(","kind":"iosv","image":"base.qcow2","start":false})";
    }
    return DeployJson(R"({"name":"lab1","nodes":[)" + nodes + "]}");
  }
};

TEST_F(LabEngineDefineTest, DomainsAreDefinedSeveralAtOnceAndEveryNodeJoinsTheLab) {
  std::string deployed = DeployNodes(12);
  ASSERT_FALSE(Has(deployed, "error")) << deployed;
  EXPECT_EQ(hv_->defined.size(), 12u);
  EXPECT_GT(hv_->max_defines_in_flight, 1) << "one define after another";
  EXPECT_LE(hv_->max_defines_in_flight, 4) << "more than the bound in flight";
  for (int i = 0; i < 12; ++i) {
    EXPECT_TRUE(Has(Node("r" + std::to_string(i)), R"("state":"defined")")) << i;
  }
}

TEST_F(LabEngineDefineTest, AFailureNamesTheEarliestFailingNodeAndUndefinesEveryDomain) {
  hv_->fail_define = "-r1-";  // r1 only; r11's domain name holds "-r11-"
  std::string deployed = DeployNodes(12);
  EXPECT_TRUE(Has(deployed, R"("field":"nodes[1]")")) << deployed;
  EXPECT_TRUE(Has(deployed, "define of")) << deployed;
  EXPECT_GT(hv_->defines, 2) << "no define was asked for beside the failing one";
  EXPECT_TRUE(hv_->defined.empty()) << "a domain of the failed deploy is still defined";
  EXPECT_EQ(Node("r0"), "error");  // no such node: the lab is gone

  // Three failing nodes: the earliest in deploy order is the one named.
  hv_->fail_define = "-r1";  // r1, r10 and r11
  deployed = DeployNodes(12);
  EXPECT_TRUE(Has(deployed, R"("field":"nodes[1]")")) << deployed;
  EXPECT_TRUE(hv_->defined.empty());
}

}  // namespace
}  // namespace labvirt::engine
