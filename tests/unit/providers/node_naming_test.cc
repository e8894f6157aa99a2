#include "providers/node_naming.h"

#include "gtest/gtest.h"

namespace labvirt::providers {
namespace {

TEST(NodeNamingTest, AcceptsValidNames) {
  for (const std::string& n :
       std::vector<std::string>{"r1", "R1", "core-sw.1", "a_b", "9", std::string(63, 'x')}) {
    EXPECT_TRUE(ValidateName("node name", n).ok()) << n;
  }
}

TEST(NodeNamingTest, RefusesBadNamesWithOneClearError) {
  struct Case {
    std::string name;
    std::string expect;
  };
  for (const Case& c : std::vector<Case>{
           {"", "is empty"},
           {std::string(64, 'a'), "64 characters long"},
           {"-r1", "'-' at position 0"},
           {".r1", "'.' at position 0"},
           {"_r1", "'_' at position 0"},
           {"r 1", "0x20 at position 1"},
           {"r<1", "'<' at position 1"},
           {"r&1", "'&'"},
           {"r'1", "'''"},
           {"r\"1", "'\"'"},
           {"r1;reboot", "';'"},
           {"r1$(id)", "'$'"},
           {"r1`id`", "'`'"},
           {"r1|x", "'|'"},
           {"a/b", "'/'"},
           {"r1\n", "0x0a"},
           {std::string("r\0", 2), "0x00"},
           {"r\xc3\xa9", "0xc3"},
       }) {
    Status s = ValidateName("node name", c.name);
    ASSERT_FALSE(s.ok()) << c.name;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("node name"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << s.message();
  }
}

TEST(NodeNamingTest, TagsAreStableAndHex) {
  std::string t = NodeTag("lab1", "r1");
  EXPECT_EQ(t.size(), 8u);
  EXPECT_EQ(t, NodeTag("lab1", "r1"));
  EXPECT_NE(t, NodeTag("lab1", "r10"));
  // The NUL separator keeps ("a-b","c") and ("a","b-c") apart … and ("ab","c") vs ("a","bc").
  EXPECT_NE(NodeTag("ab", "c"), NodeTag("a", "bc"));
  EXPECT_NE(NodeTag("lab1", "r1", 1), t);
}

TEST(NodeNamingTest, TagCollisionRehashes) {
  std::set<std::string> used = {NodeTag("lab", "r1"), NodeTag("lab", "r1", 1)};
  auto t = AllocateNodeTag("lab", "r1", used);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, NodeTag("lab", "r1", 2));
}

TEST(NodeNamingTest, TapNamesFitIfnamsiz) {
  std::string tag = NodeTag("a-very-long-lab-name-that-is-sixty-three-characters-long-xxxxxxx",
                            std::string(63, 'n'));
  EXPECT_LE(DataTapName(tag, 9999).size(), kMaxTapNameLength);
  EXPECT_LE(ReservedTapName(tag, 999).size(), kMaxTapNameLength);
  EXPECT_LE(ManagementTapName(tag).size(), kMaxTapNameLength);
  EXPECT_EQ(DataTapName("0123abcd", 3), "lv0123abcd-3");
  EXPECT_EQ(ManagementTapName("0123abcd"), "lv0123abcd-m");
  EXPECT_EQ(ReservedTapName("0123abcd", 1), "lv0123abcd-r1");
}

TEST(NodeNamingTest, DomainNameCarriesTag) {
  EXPECT_EQ(DomainName("a-b", "c", "0123abcd"), "lv-a-b-c-0123abcd");
  EXPECT_NE(DomainName("a-b", "c", NodeTag("a-b", "c")),
            DomainName("a", "b-c", NodeTag("a", "b-c")));
}

TEST(NodeNamingTest, MacsAreDeterministicAndLocal) {
  std::set<std::string> a, b;
  auto m1 = AllocateMac("lab", "r1", "0", &a);
  auto m2 = AllocateMac("lab", "r1", "0", &b);
  ASSERT_TRUE(m1.ok() && m2.ok());
  EXPECT_EQ(*m1, *m2);
  EXPECT_EQ(m1->rfind("52:54:00:", 0), 0u);
  EXPECT_EQ(m1->size(), 17u);
  EXPECT_EQ(a.count(*m1), 1u);
}

TEST(NodeNamingTest, MacCollisionWithHostIsResolvedByRehash) {
  std::set<std::string> empty;
  std::string first = *AllocateMac("lab", "r1", "0", &empty);
  std::set<std::string> in_use = {first};
  auto second = AllocateMac("lab", "r1", "0", &in_use);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*second, first);
  EXPECT_EQ(in_use.size(), 2u);
  // Deterministic: the same host state gives the same answer.
  std::set<std::string> again = {first};
  EXPECT_EQ(*AllocateMac("lab", "r1", "0", &again), *second);
}

TEST(NodeNamingTest, ManyMacsInOneSetAreUnique) {
  std::set<std::string> in_use;
  for (int node = 0; node < 200; ++node) {
    for (int nic = 0; nic < 24; ++nic) {
      ASSERT_TRUE(
          AllocateMac("lab", "n" + std::to_string(node), std::to_string(nic), &in_use).ok());
    }
  }
  EXPECT_EQ(in_use.size(), 200u * 24u);
}

TEST(NodeNamingTest, ExhaustedMacSpaceIsAnError) {
  // Every candidate the first kMaxRehash salts produce is taken.
  std::set<std::string> in_use;
  std::set<std::string> scratch;
  for (int i = 0; i < kMaxRehash; ++i) {
    std::set<std::string> probe = in_use;
    in_use.insert(*AllocateMac("lab", "r1", "0", &probe));
  }
  auto r = AllocateMac("lab", "r1", "0", &in_use);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
}

TEST(NodeNamingTest, NormalizeMacLowersCase) {
  EXPECT_EQ(NormalizeMac("52:54:00:AB:cD:EF"), "52:54:00:ab:cd:ef");
}

}  // namespace
}  // namespace labvirt::providers
