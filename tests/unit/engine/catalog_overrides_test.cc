#include "engine/catalog/catalog_overrides.h"

#include "engine/catalog/catalog.h"
#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

providers::DeviceKind Base() {
  providers::DeviceKind k;
  k.name = "test";
  k.vendor = "V";
  k.machine = "q35";
  k.readiness.success = {"login:"};
  return k;
}

template <typename F>
NodeOverrides With(F set) {
  NodeOverrides o;
  set(o);
  return o;
}

void ExpectBad(const NodeOverrides& o, const std::string& text,
               const providers::DeviceKind& kind = Base()) {
  auto r = ApplyOverrides(kind, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(text), std::string::npos) << r.status().message();
}

TEST(CatalogOverridesTest, NoOverridesIsIdentity) {
  auto r = ApplyOverrides(Base(), {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->memory_mb, Base().memory_mb);
}

TEST(CatalogOverridesTest, AppliesEachField) {
  NodeOverrides o;
  o.memory_mb = 4096;
  o.vcpus = 4;
  o.nics = 8;
  o.machine = "pc-i440fx-6.2";
  o.disk_bus = "ide";
  o.nic_model = "e1000";
  o.overall_timeout_s = 1200;
  o.idle_timeout_s = 300;
  o.retries = 3;
  o.readiness_success = std::vector<std::string>{"(^|\\n)R1#"};
  auto r = ApplyOverrides(Base(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->memory_mb, 4096);
  EXPECT_EQ(r->vcpus, 4);
  EXPECT_EQ(r->default_nics, 8);
  EXPECT_EQ(r->machine, "pc-i440fx-6.2");
  EXPECT_EQ(r->disk_bus, "ide");
  EXPECT_EQ(r->nic_model, "e1000");
  EXPECT_EQ(r->readiness.overall_timeout.count(), 1200);
  EXPECT_EQ(r->readiness.idle_timeout.count(), 300);
  EXPECT_EQ(r->readiness.retries, 3);
  ASSERT_EQ(r->readiness.success.size(), 1u);
}

TEST(CatalogOverridesTest, RefusesOutOfRange) {
  ExpectBad(With([](NodeOverrides& o) { o.memory_mb = 32; }),
            "override memory_mb: 32 is out of range");
  ExpectBad(With([](NodeOverrides& o) { o.memory_mb = 2 * 1024 * 1024; }), "memory_mb");
  ExpectBad(With([](NodeOverrides& o) { o.vcpus = 0; }), "override vcpus: 0");
  ExpectBad(With([](NodeOverrides& o) { o.vcpus = 65; }), "override vcpus: 65");
  ExpectBad(With([](NodeOverrides& o) { o.nics = 9; }), "override nics: 9 is out of range 0..8");
  ExpectBad(With([](NodeOverrides& o) { o.nics = -1; }), "override nics");
  ExpectBad(With([](NodeOverrides& o) { o.idle_timeout_s = 601; }), "override idle_timeout_s");
  ExpectBad(With([](NodeOverrides& o) { o.overall_timeout_s = 1; }), "override overall_timeout_s");
  ExpectBad(With([](NodeOverrides& o) { o.retries = 99; }), "override retries");
}

TEST(CatalogOverridesTest, RefusesValuesNotAllowed) {
  ExpectBad(With([](NodeOverrides& o) { o.machine = std::string("virt"); }),
            "override machine: 'virt'");
  ExpectBad(With([](NodeOverrides& o) { o.machine = std::string("pc-q35-6.2; rm -rf /"); }),
            "override machine");
  ExpectBad(With([](NodeOverrides& o) { o.disk_bus = std::string("nvme"); }),
            "override disk_bus: 'nvme'");
  ExpectBad(With([](NodeOverrides& o) { o.nic_model = std::string("vmxnet2"); }),
            "override nic_model: 'vmxnet2'");
  // ide on q35 is refused by the cross-field check.
  ExpectBad(With([](NodeOverrides& o) { o.disk_bus = std::string("ide"); }),
            "disk_bus: ide needs an i440fx machine");
  ExpectBad(With([](NodeOverrides& o) { o.readiness_success = std::vector<std::string>{}; }),
            "override readiness_success");
  ExpectBad(
      With([](NodeOverrides& o) { o.readiness_success = std::vector<std::string>{"Router#$"}; }),
      "override readiness_success[0]");
}

TEST(CatalogOverridesTest, TopologyFollowsVcpusForOneSocket) {
  providers::DeviceKind k = Base();
  k.vcpus = 4;
  k.cpu_sockets = 1;
  k.cpu_cores = 4;
  k.cpu_threads = 1;
  auto r = ApplyOverrides(k, With([](NodeOverrides& o) { o.vcpus = 2; }));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->cpu_cores, 2);
  k.cpu_sockets = 2;
  k.cpu_cores = 2;
  ExpectBad(With([](NodeOverrides& o) { o.vcpus = 3; }), "fixed topology", k);
}

TEST(CatalogOverridesTest, EveryShippedKindAcceptsItsOwnValues) {
  auto c = LoadCatalog(SourceCatalogPath());
  ASSERT_TRUE(c.ok());
  for (const auto& k : c->kinds()) {
    NodeOverrides o;
    o.memory_mb = k.memory_mb;
    o.vcpus = k.vcpus;
    o.nics = k.max_nics;
    o.machine = k.machine;
    o.disk_bus = k.disk_bus;
    o.nic_model = k.nic_model;
    EXPECT_TRUE(ApplyOverrides(k, o).ok()) << k.name;
  }
}

TEST(CatalogOverridesTest, JsonRoundTripKeepsOnlyTheSetFields) {
  NodeOverrides o;
  o.memory_mb = 64;
  o.nic_model = "e1000";
  o.readiness_success = std::vector<std::string>{"login:", "R\"1>"};
  std::string json = OverridesToJson(o);
  EXPECT_EQ(json, R"({"memory_mb":64,"nic_model":"e1000","readiness_success":["login:","R\"1>"]})");
  auto back = OverridesFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->memory_mb, 64);
  EXPECT_EQ(back->nic_model, "e1000");
  EXPECT_EQ(back->readiness_success, o.readiness_success);
  EXPECT_FALSE(back->vcpus.has_value());
  EXPECT_EQ(OverridesToJson(NodeOverrides{}), "{}");
  EXPECT_TRUE(OverridesFromJson("").ok()) << "no metadata element: no overrides";
}

TEST(CatalogOverridesTest, MalformedOverridesJsonNamesTheField) {
  for (const auto& [json, want] : std::vector<std::pair<std::string, std::string>>{
           {"[1]", "not a JSON object"},
           {"{", "not a JSON object"},
           {R"({"memory_mb":"big"})", "memory_mb"},
           {R"({"memory_mb":-1})", "memory_mb"},
           {R"({"nic_model":3})", "nic_model"},
           {R"({"readiness_success":[1]})", "readiness_success"},
           {R"({"colour":"red"})", "unknown field colour"}}) {
    auto got = OverridesFromJson(json);
    ASSERT_FALSE(got.ok()) << json;
    EXPECT_NE(got.status().message().find(want), std::string::npos)
        << json << " -> " << got.status().message();
  }
}

TEST(CatalogOverridesTest, ANodesCpuReplacesTheKindsOnEveryVendor) {
  providers::DeviceKind kind = Base();
  kind.cpu.mode = "host-passthrough";
  kind.cpu_by_vendor["amd"].mode = "host-model";
  auto r = ApplyOverrides(kind, With([](NodeOverrides& o) {
                            o.cpu_mode = "custom";
                            o.cpu_model = "Nehalem";
                          }));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(providers::CpuSpecFor(*r, "amd").model, "Nehalem");
  EXPECT_EQ(r->cpu.mode, "custom");

  ExpectBad(With([](NodeOverrides& o) { o.cpu_mode = "fastest"; }), "cpu_mode");
  ExpectBad(With([](NodeOverrides& o) { o.cpu_mode = "custom"; }), "cpu_model");
  ExpectBad(With([](NodeOverrides& o) { o.cpu_model = "EPYC"; }), "cpu_model");
  ExpectBad(With([](NodeOverrides& o) {
              o.cpu_mode = "custom";
              o.cpu_model = "EPYC; rm -rf";
            }),
            "cpu_model");
  // As metadata JSON and back.
  NodeOverrides o;
  o.cpu_mode = "custom";
  o.cpu_model = "EPYC";
  auto back = OverridesFromJson(OverridesToJson(o));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->cpu_model, "EPYC");
}

}  // namespace
}  // namespace labvirt::engine
