// KindPool: nodes of one kind and the same overrides share one resolved kind; a node with its own
// overrides has its own; a kind no node holds is freed. And through the engine: nodes that share
// show their kind's figures, a node with overrides shows its own, after a deploy and after a
// reconcile (a share must never hand one node another's overrides).
#include "engine/lab/kind_pool.h"

#include <gtest/gtest.h>

#include "tests/unit/engine/lab_engine_fixture.h"

namespace labvirt::engine {
namespace {

providers::DeviceKind Kind(const std::string& name, int memory_mb) {
  providers::DeviceKind k;
  k.name = name;
  k.memory_mb = memory_mb;
  return k;
}

TEST(KindPoolTest, TheSameKindAndOverridesShareOneCopyAndOthersDoNot) {
  KindPool pool;
  SharedKind a = pool.Share("iosv", "", Kind("iosv", 512));
  SharedKind b = pool.Share("iosv", "", Kind("iosv", 999));  // already held: the first copy
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(b->memory_mb, 512);
  SharedKind big = pool.Share("iosv", R"({"memory_mb":1024})", Kind("iosv", 1024));
  EXPECT_NE(big.get(), a.get());
  EXPECT_EQ(big->memory_mb, 1024);
  SharedKind other = pool.Share("csr1000v", "", Kind("csr1000v", 4096));
  EXPECT_NE(other.get(), a.get());
  EXPECT_EQ(pool.size(), 3u);
}

TEST(KindPoolTest, AKindNoNodeHoldsIsFreedAndMadeAgainWhenAsked) {
  KindPool pool;
  std::weak_ptr<const providers::DeviceKind> gone;
  {
    SharedKind a = pool.Share("iosv", "", Kind("iosv", 512));
    gone = a;
  }
  EXPECT_TRUE(gone.expired());
  EXPECT_EQ(pool.size(), 0u);
  SharedKind again = pool.Share("iosv", "", Kind("iosv", 768));
  EXPECT_EQ(again->memory_mb, 768);
  // Many shares of short-lived kinds: the map is pruned as it goes and holds only the live one.
  for (int i = 0; i < 1000; ++i) pool.Share("k" + std::to_string(i), "", Kind("k", 1));
  EXPECT_EQ(pool.size(), 1u);
}

TEST(KindPoolTest, NoKindIsAnEmptyKindNeverNull) {
  ASSERT_NE(NoKind(), nullptr);
  EXPECT_TRUE(NoKind()->name.empty());
  Node n;
  EXPECT_EQ(n.kind.get(), NoKind().get());
}

class KindPoolEngineTest : public LabEngineTest {
 protected:
  int MemoryOf(const std::string& node) {
    std::string json = Node(node);
    size_t at = json.find(R"("memory_mb":)");
    return at == std::string::npos ? -1 : std::atoi(json.c_str() + at + 12);
  }
};

TEST_F(KindPoolEngineTest, NodesShowTheirOwnOverridesAfterADeployAndAfterAReconcile) {
  std::string deployed = DeployJson(
      R"({"name":"lab1","nodes":[)"
      R"({"name":"r1","kind":"iosv","image":"base.qcow2","start":false},)"
      R"({"name":"r2","kind":"iosv","image":"base.qcow2","start":false,"memory_mb":1536},)"
      R"({"name":"r3","kind":"iosv","image":"base.qcow2","start":false}]})");
  ASSERT_TRUE(Has(deployed, R"("lab")")) << deployed;
  const int kind_mb = catalog_->Resolve("iosv")->memory_mb;
  ASSERT_NE(kind_mb, 1536);
  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass == 0 ? "after the deploy" : "after a reconcile by a new engine");
    EXPECT_EQ(MemoryOf("r1"), kind_mb);
    EXPECT_EQ(MemoryOf("r2"), 1536);
    EXPECT_EQ(MemoryOf("r3"), kind_mb);
    if (pass == 0) {
      // A new engine adopts the three domains from the metadata they were defined with.
      hv_->list_metadata = true;
      for (const auto& [domain, xml] : hv_->xmls) {
        size_t from = xml.find("<metadata>") + 10;
        hv_->metadata[domain] = xml.substr(from, xml.find("</metadata>") - from);
      }
      MakeEngine(providers::kDefaultInstance);
      Reconcile();
    }
  }
}

}  // namespace
}  // namespace labvirt::engine
