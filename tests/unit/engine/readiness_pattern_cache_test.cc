// ReadinessPatternCache: nodes with equal readiness specs share one compiled database; any field
// that differs gets its own; a database nobody holds is compiled anew; a bad spec is refused each
// time, never cached.
#include "engine/readiness/readiness_pattern_cache.h"

#include "gtest/gtest.h"
#include "tests/unit/engine/readiness_test_specs.h"

namespace labvirt::engine {
namespace {

TEST(ReadinessPatternCacheTest, EqualSpecsShareOneDatabase) {
  ReadinessPatternCache cache;
  auto a = cache.Get(testing::TestSpecFor("iosv"), "iosv");
  auto b = cache.Get(testing::TestSpecFor("iosv"), "iosv");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->get(), b->get()) << "compiled once";
  EXPECT_EQ(cache.live(), 1u);
  auto other = cache.Get(testing::TestSpecFor("veos"), "veos");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->get(), a->get());
  EXPECT_EQ(cache.live(), 2u);
}

TEST(ReadinessPatternCacheTest, AnyFieldThatDiffersGetsItsOwnDatabase) {
  ReadinessPatternCache cache;
  const providers::ReadinessSpec base = testing::TestSpecFor("iosv");
  auto first = cache.Get(base, "iosv");
  ASSERT_TRUE(first.ok());
  std::vector<providers::ReadinessSpec> changed(7, base);
  changed[0].success.push_back("Switch>");
  changed[1].progress[0].percent += 1;
  changed[2].failure[0].action = providers::FailureAction::kFail;
  changed[3].idle_timeout += std::chrono::seconds(1);
  changed[4].overall_timeout += std::chrono::seconds(1);
  changed[5].retries += 1;
  changed[6].failure[0].label += "!";
  for (size_t i = 0; i < changed.size(); ++i) {
    auto got = cache.Get(changed[i], "iosv");
    ASSERT_TRUE(got.ok()) << i;
    EXPECT_NE(got->get(), first->get()) << "change " << i;
    // The tracker reads timeouts and retries from the database's own spec.
    EXPECT_EQ((*got)->spec().retries, changed[i].retries) << i;
    EXPECT_EQ((*got)->spec().overall_timeout, changed[i].overall_timeout) << i;
  }
}

TEST(ReadinessPatternCacheTest, KeysCannotBeImitatedByAPatternsText) {
  providers::ReadinessSpec one, two;
  one.success = {"ab", "c"};
  two.success = {"a", "bc"};
  EXPECT_NE(ReadinessSpecKey(one), ReadinessSpecKey(two));
  two.success = {"ab", "c"};
  EXPECT_EQ(ReadinessSpecKey(one), ReadinessSpecKey(two));
}

TEST(ReadinessPatternCacheTest, ADatabaseNobodyHoldsIsCompiledAgain) {
  ReadinessPatternCache cache;
  uint64_t serial = 0;
  {
    auto a = cache.Get(testing::TestSpecFor("iosv"), "iosv");
    ASSERT_TRUE(a.ok());
    serial = (*a)->serial();
  }
  EXPECT_EQ(cache.live(), 0u) << "the cache does not keep a database alive";
  auto again = cache.Get(testing::TestSpecFor("iosv"), "iosv");
  ASSERT_TRUE(again.ok());
  EXPECT_NE((*again)->serial(), serial);
  EXPECT_EQ(cache.live(), 1u);
}

TEST(ReadinessPatternCacheTest, ABadSpecIsRefusedEveryTimeAndNeverKept) {
  ReadinessPatternCache cache;
  providers::ReadinessSpec bad;
  bad.success = {"Router>$"};  // anchored at a line end a prompt never has
  for (int i = 0; i < 2; ++i) {
    auto got = cache.Get(bad, "iosv");
    ASSERT_FALSE(got.ok());
    EXPECT_NE(got.status().message().find("readiness of iosv"), std::string::npos)
        << got.status().ToString();
  }
  EXPECT_EQ(cache.live(), 0u);
}

}  // namespace
}  // namespace labvirt::engine
