#include "ovs/vlan_allocator.h"

#include <set>

#include "gtest/gtest.h"

namespace labvirt::ovs {
namespace {

TEST(VlanRangesTest, Validate) {
  EXPECT_TRUE(VlanRanges{}.Validate().ok());
  EXPECT_FALSE((VlanRanges{{0, 10}, {20, 30}}).Validate().ok());
  EXPECT_FALSE((VlanRanges{{10, 20}, {20, 30}}).Validate().ok());
  EXPECT_FALSE((VlanRanges{{10, 5}, {20, 30}}).Validate().ok());
  EXPECT_FALSE((VlanRanges{{10, 20}, {30, 4095}}).Validate().ok());
  EXPECT_TRUE((VlanRanges{{30, 40}, {10, 20}}).Validate().ok());
}

TEST(VlanAllocatorTest, DefaultsAreTheSeedRanges) {
  VlanAllocator a{VlanRanges{}};
  EXPECT_EQ(*a.AllocateIsolated("nic:l1/r1/0"), 100);
  EXPECT_EQ(*a.AllocateLink("link:l1/x"), 2050);
}

TEST(VlanAllocatorTest, SameOwnerGetsSameTagAndTwoLabsNeverShare) {
  VlanAllocator a{VlanRanges{}};
  std::set<int> seen;
  for (int lab = 0; lab < 5; ++lab) {
    for (int nic = 0; nic < 20; ++nic) {
      std::string owner = "nic:lab" + std::to_string(lab) + "/r/" + std::to_string(nic);
      auto t = a.AllocateIsolated(owner);
      ASSERT_TRUE(t.ok());
      EXPECT_TRUE(seen.insert(*t).second) << "tag " << *t << " handed out twice";
      EXPECT_EQ(*a.AllocateIsolated(owner), *t);
    }
    auto l = a.AllocateLink("link:lab" + std::to_string(lab) + "/l1");
    ASSERT_TRUE(l.ok());
    EXPECT_TRUE(seen.insert(*l).second);
  }
}

TEST(VlanAllocatorTest, ReservationsAreSkippedAndConflictsReported) {
  VlanAllocator a{VlanRanges{{10, 13}, {20, 21}}};
  ASSERT_TRUE(a.Reserve(10, "foreign:eth9").ok());
  ASSERT_TRUE(a.Reserve(11, "link:old/x").ok());
  EXPECT_TRUE(a.Reserve(11, "link:old/x").ok());  // idempotent
  EXPECT_EQ(a.Reserve(11, "link:other/y").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(a.Reserve(0, "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.Reserve(4095, "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*a.AllocateIsolated("nic:a/b/0"), 12);
  EXPECT_EQ(a.OwnerOf(12), "nic:a/b/0");
}

TEST(VlanAllocatorTest, ExhaustionIsAClearErrorAndChangesNothing) {
  VlanAllocator a{VlanRanges{{10, 11}, {20, 20}}};
  ASSERT_TRUE(a.AllocateIsolated("n1").ok());
  ASSERT_TRUE(a.AllocateIsolated("n2").ok());
  auto r = a.AllocateIsolated("n3");
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("10-11"), std::string::npos);
  EXPECT_EQ(a.reserved(), 2u);
  ASSERT_TRUE(a.AllocateLink("l1").ok());
  EXPECT_EQ(a.AllocateLink("l2").status().code(), StatusCode::kResourceExhausted);
}

TEST(VlanAllocatorTest, ReleaseFreesForReuseLowestFirst) {
  VlanAllocator a{VlanRanges{{10, 19}, {20, 29}}};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a.AllocateIsolated("n" + std::to_string(i)).ok());
  EXPECT_EQ(a.Release("n1"), 1u);
  EXPECT_EQ(a.Release("n1"), 0u);
  EXPECT_EQ(*a.AllocateIsolated("x"), 11);
  a.ReleaseTag(13);
  EXPECT_EQ(a.OwnerOf(13), std::nullopt);
  EXPECT_EQ(a.TagOf("n3", a.ranges().isolated), std::nullopt);
  EXPECT_EQ(*a.AllocateIsolated("y"), 13);
  a.Clear();
  EXPECT_EQ(a.reserved(), 0u);
}

}  // namespace
}  // namespace labvirt::ovs
