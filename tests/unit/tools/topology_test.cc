#include "tools/ctl/topology.h"

#include <simdjson.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/control/lab_spec.h"
#include "gtest/gtest.h"

namespace labvirt::ctl {
namespace {

constexpr const char* kYaml = R"(name: demo
topology:
  nodes:
    r1: {kind: iosv, image: iosv.qcow2, memory_mb: 512}
    r2:
      kind: vsrx
      image: vsrx.qcow2
      start: false
  links:
    - endpoints: ["r1:eth1", "r2:ge-0/0/0"]
)";

TEST(TopologyTest, ContainerlabYamlBecomesDeployParams) {
  auto t = ParseTopology(kYaml, "lab.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->name, "demo");
  EXPECT_EQ(t->nodes, (std::vector<std::string>{"r1", "r2"}));
  // The engine's own parser accepts what labvirtctl produces.
  simdjson::dom::parser parser;
  auto spec = engine::ParseLabSpec(parser.parse(t->params_json));
  ASSERT_TRUE(spec.ok()) << t->params_json;
  const auto& lab = spec.value();
  EXPECT_EQ(lab.nodes[0].memory_mb, 512);
  EXPECT_FALSE(lab.nodes[1].start);
  EXPECT_EQ(lab.links[0].b.interface, "ge-0/0/0");
}

TEST(TopologyTest, ContainerlabBindsBecomeDeployParams) {
  auto t = ParseTopology(R"(name: b
topology:
  nodes:
    c1:
      kind: linux_container
      image: labvirt/linux-fixture:1
      binds:
        - cfg:/config:ro
        - logs:/var/log
)",
                         "b.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  simdjson::dom::parser parser;
  auto spec = engine::ParseLabSpec(parser.parse(t->params_json));
  ASSERT_TRUE(spec.ok()) << t->params_json;
  ASSERT_EQ(spec->nodes[0].binds.size(), 2u);
  EXPECT_EQ(spec->nodes[0].binds[0], (providers::BindMount{"cfg", "/config", true}));
  EXPECT_EQ(spec->nodes[0].binds[1], (providers::BindMount{"logs", "/var/log", false}));
  auto bad = ParseTopology(
      "name: b\ntopology:\n  nodes:\n    c1: {kind: k, image: i:1, binds: a:/b}\n", "c.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("binds: must be a list of strings"), std::string::npos)
      << bad.status().message();
}

TEST(TopologyTest, SavedConfigKeysBecomeDeployParams) {
  auto t = ParseTopology(R"(name: s
use-saved-configs: true
save-on-stop: true
topology:
  nodes:
    r1: {kind: iosv, image: i.qcow2}
    r2: {kind: iosv, image: i.qcow2, save_on_stop: false}
)",
                         "s.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  simdjson::dom::parser parser;
  auto spec = engine::ParseLabSpec(parser.parse(t->params_json));
  ASSERT_TRUE(spec.ok()) << t->params_json;
  EXPECT_TRUE(spec->use_saved_configs);
  EXPECT_TRUE(spec->save_on_stop);
  EXPECT_FALSE(spec->nodes[0].save_on_stop.has_value());
  EXPECT_EQ(spec->nodes[1].save_on_stop, false);
  auto bad = ParseTopology(
      "name: s\nsave-on-stop: [1]\ntopology:\n  nodes:\n    r1: {kind: iosv, image: i}\n",
      "b.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "b.yaml:2: 'save-on-stop' must be true or false");
}

TEST(TopologyTest, MgmtSettingsBecomeDeployParamsAndLabvirtdChecksThem) {
  auto t = ParseTopology(R"(name: m
mgmt:
  subnet: 10.9.8.0/24
  ipv6: false
  nat: true
  forwards:
    - {node: r1, host-port: 2201}
    - {node: r1, port: 161, host-port: 1161, protocol: udp}
topology:
  nodes:
    r1: {kind: n9kv, image: n.qcow2}
)",
                         "m.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  simdjson::dom::parser parser;
  auto spec = engine::ParseLabSpec(parser.parse(t->params_json));
  ASSERT_TRUE(spec.ok()) << t->params_json << " " << spec.status().ToString();
  EXPECT_EQ(spec->mgmt.subnet, "10.9.8.0/24");
  EXPECT_FALSE(spec->mgmt.ipv6);
  EXPECT_TRUE(spec->mgmt.nat);
  ASSERT_EQ(spec->mgmt.forwards.size(), 2u);
  EXPECT_EQ(spec->mgmt.forwards[0].host_port, 2201);
  EXPECT_EQ(spec->mgmt.forwards[1].protocol, "udp");
  auto off = ParseTopology(
      "name: o\nmgmt: false\ntopology:\n  nodes:\n    r1: {kind: a, image: b}\n", "o.yaml");
  ASSERT_TRUE(off.ok());
  auto off_spec = engine::ParseLabSpec(parser.parse(off->params_json));
  ASSERT_TRUE(off_spec.ok());
  EXPECT_FALSE(off_spec->mgmt.enabled);
  // A bad value passes labvirtctl and is named by labvirtd's parser.
  auto bad = ParseTopology(
      "name: b\nmgmt: {nat: maybe}\ntopology:\n  nodes:\n    r1: {kind: a, image: b}\n", "b.yaml");
  ASSERT_TRUE(bad.ok());
  auto refused = engine::ParseLabSpec(parser.parse(bad->params_json));
  EXPECT_EQ(refused.status().field(), "mgmt.nat");
}

TEST(TopologyTest, JsonInEitherShape) {
  auto a = ParseTopology(
      R"({"name":"j","topology":{"nodes":{"r1":{"kind":"iosv","image":"i.qcow2"}}}})", "a.json");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = ParseTopology(R"({"name":"j","nodes":[{"name":"r1","kind":"iosv","image":"i.qcow2"}]})",
                         "b.json");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(a->params_json, b->params_json);
}

TEST(TopologyTest, BadFilesAreReportedByLine) {
  struct Case {
    std::string text, want;
  };
  const std::vector<Case> cases = {
      {"name: x\ntopology:\n  nodes:\n    r1: {kind: iosv, image: a, memory_mb: lots}\n",
       "f.yaml:4: node 'r1': memory_mb must be an integer"},
      {"name: x\ntopology:\n  nodes:\n    r1: {kind: iosv, image: a, colour: red}\n",
       "f.yaml:4: node 'r1': unknown field 'colour'"},
      {"name: x\ntopology:\n  nodes:\n    r1: {kind: iosv, image: a}\n  links:\n"
       "    - endpoints: [\"r1:eth1\", \"r9:eth1\"]\n",
       "f.yaml:6: endpoint 'r9:eth1' names no node"},
      {"name: x\ntopology:\n  nodes:\n    r1: {kind: iosv, image: a}\n  links:\n"
       "    - endpoints: [\"r1eth1\", \"r1:eth2\"]\n",
       "f.yaml:6: endpoint 'r1eth1' must be"},
      {"name: x\ntopology:\n  nodes: [1, 2\n", "f.yaml:4"},
      {"topology:\n  nodes: {}\n", "f.yaml:1: 'name'"},
      {"name: x\n", "'topology.nodes' is required"},
      {"- just\n- a list\n", "f.yaml:1: a topology must be a mapping"},
      // A mapping where a name belongs (labvirtctl aborted on these: yaml-cpp throws).
      {"name: x\ntopology:\n  nodes:\n    r1: {kind: iosv}\n  links:\n"
       "    - endpoints: [{a: 1}, \"r1:eth1\"]\n",
       "f.yaml:6: a value of the wrong type"},
      {"name: x\ntopology:\n  nodes:\n    {a: b}: {kind: iosv}\n",
       "f.yaml:4: a value of the wrong"},
      {"name: x\nnodes:\n  - name: [1]\n    kind: iosv\n", "f.yaml:3: a value of the wrong type"},
  };
  for (const auto& c : cases) {
    auto t = ParseTopology(c.text, "f.yaml");
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_NE(t.status().message().find(c.want), std::string::npos)
        << t.status().message() << "\n  should contain: " << c.want;
  }
}

TEST(TopologyTest, UnreadableFile) {
  auto t = LoadTopology("/nonexistent/lab.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("/nonexistent/lab.yaml"), std::string::npos);
}

// startup-config: a one-line value is a file next to the topology (read by labvirtctl, sent as
// text); a block scalar is the config itself; a missing or non-UTF-8 file is an error naming it.
class StartupConfigTopologyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/labvirt-topology-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/configs");
    std::ofstream(dir_ + "/configs/r1.cfg") << "hostname r1\nend\n";
    std::ofstream(dir_ + "/latin1.cfg") << "description caf\xe9\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Result<Topology> Parse(const std::string& node_yaml) {
    return ParseTopology(
        "name: d\ntopology:\n  nodes:\n    r1:\n      kind: iosv\n"
        "      image: i.qcow2\n" +
            node_yaml,
        dir_ + "/lab.yaml");
  }
  std::string ConfigOf(const Topology& t) {
    simdjson::dom::parser parser;
    auto spec = engine::ParseLabSpec(parser.parse(t.params_json));
    if (!spec.ok() || !spec->nodes[0].startup_config) return "<none>";
    return *spec->nodes[0].startup_config;
  }
  std::string dir_;
};

TEST_F(StartupConfigTopologyTest, AFileRelativeToTheTopologyIsReadAndSentAsText) {
  auto t = Parse("      startup-config: configs/r1.cfg\n");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(ConfigOf(*t), "hostname r1\nend\n");
  auto abs = Parse("      startup-config: " + dir_ + "/configs/r1.cfg\n");
  ASSERT_TRUE(abs.ok()) << abs.status().ToString();
  EXPECT_EQ(ConfigOf(*abs), "hostname r1\nend\n");
}

TEST_F(StartupConfigTopologyTest, ABlockScalarIsTheConfigItself) {
  auto t = Parse("      startup-config: |\n        hostname r1\n        end\n");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(ConfigOf(*t), "hostname r1\nend\n");
}

TEST_F(StartupConfigTopologyTest, AMissingOrBinaryFileIsNamed) {
  auto missing = Parse("      startup-config: configs/nope.cfg\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("lab.yaml:7: node 'r1': startup-config file '" + dir_ +
                                            "/configs/nope.cfg' cannot be read"),
            std::string::npos)
      << missing.status().message();
  auto latin1 = Parse("      startup-config: latin1.cfg\n");
  ASSERT_FALSE(latin1.ok());
  EXPECT_NE(latin1.status().message().find("latin1.cfg' is not UTF-8 text (invalid byte at "
                                           "offset 15)"),
            std::string::npos)
      << latin1.status().message();
}

}  // namespace
}  // namespace labvirt::ctl
