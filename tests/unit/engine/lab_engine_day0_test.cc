// Day-0 config in the engine without libvirt (see lab_engine_test.cc): the files a deploy makes,
// the definition that carries the medium, a rollback that removes what the deploy wrote, and a
// wipe that makes the medium again from the saved text.
#include <fstream>
#include <sstream>

#include "providers/config_medium.h"
#include "tests/unit/engine/lab_engine_fixture.h"

namespace labvirt::engine {
namespace {

const char kConfig[] = "hostname r1\nend\n";

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class LabEngineDay0Test : public LabEngineTest {
 protected:
  std::string DeployWithConfigs(const std::string& second = "r2") {
    return DeployJson(
        R"({"name":"lab1","nodes":[)"
        R"({"name":"r1","kind":"iosv","image":"base.qcow2","start":false,)"
        R"("startup_config":"hostname r1\nend\n"},)"
        R"({"name":")" +
        second + R"(","kind":"iosv","image":"base.qcow2","start":false,"startup_config":"x\n"}]})");
  }
  fs::path Day0(const std::string& file) { return dir_ / "state/day0/lab1" / file; }
};

TEST_F(LabEngineDay0Test, ADeployWritesTextAndMediumAndDefinesTheDomainWithIt) {
  std::string deployed = DeployWithConfigs();
  ASSERT_FALSE(Has(deployed, "error")) << deployed;
  EXPECT_EQ(Read(Day0("r1.cfg")), kConfig);
  auto want = providers::BuildFatImage("IOSV_CFG", "ios_config.txt", kConfig);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(Read(Day0("r1.img")), *want);
  bool carried = false;
  for (const auto& [domain, xml] : hv_->xmls) {
    carried |= Has(domain, "-r1-") && Has(xml, Day0("r1.img").string()) &&
               Has(xml, "<labvirt:startup-config method='fat' bytes='16'/>");
  }
  EXPECT_TRUE(carried);
  EXPECT_TRUE(Has(Node("r1"), R"("config":{"method":"fat","state":"written","bytes":16})"))
      << Node("r1");
}

TEST_F(LabEngineDay0Test, AFailedDefineRemovesEveryDay0FileTheDeployWrote) {
  hv_->fail_define = "-r2-";
  std::string deployed = DeployWithConfigs();
  EXPECT_TRUE(Has(deployed, "define of")) << deployed;
  EXPECT_TRUE(Has(deployed, R"("field":"nodes[1]")")) << deployed;
  for (const char* f : {"r1.cfg", "r1.img", "r2.cfg", "r2.img"}) {
    EXPECT_FALSE(fs::exists(Day0(f))) << f;
  }
  EXPECT_EQ(Node("r1"), "error");  // no such node: the lab is gone
}

TEST_F(LabEngineDay0Test, AWipeMakesTheMediumAgainFromTheText) {
  ASSERT_FALSE(Has(DeployWithConfigs(), "error"));
  std::string fresh = Read(Day0("r1.img"));
  std::ofstream(Day0("r1.img"), std::ios::in | std::ios::out | std::ios::binary) << "scribble";
  ASSERT_NE(Read(Day0("r1.img")), fresh);
  std::string wiped = Await([&](auto r) { engine_->WipeNode("lab1", "r1", r); });
  ASSERT_FALSE(Has(wiped, "error")) << wiped;
  EXPECT_EQ(Read(Day0("r1.img")), fresh);
  // Without its text the medium cannot be made: the wipe says so and the node shows it.
  fs::remove(Day0("r1.cfg"));
  wiped = Await([&](auto r) { engine_->WipeNode("lab1", "r1", r); });
  EXPECT_TRUE(Has(wiped, "startup config: startup config")) << wiped;
  EXPECT_TRUE(Has(Node("r1"), R"("state":"failed")")) << Node("r1");
}

}  // namespace
}  // namespace labvirt::engine
