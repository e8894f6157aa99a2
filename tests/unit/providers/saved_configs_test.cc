// Saved configs on a temporary state dir: versions, latest, pruning, digests, bad versions.
#include "providers/saved_configs.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace labvirt::providers {
namespace {

namespace fs = std::filesystem;

class SavedConfigsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lvsaved-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST(Sha256Test, MatchesTheStandardVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(SavedConfigsTest, VersionsLatestAndLoad) {
  constexpr std::time_t kNoon = 1796299200;  // 2026-12-03T12:00:00Z
  auto a = StoreSavedConfig(dir_, "lab", "r1", "hostname a\n", kNoon);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->version, "20261203T120000Z");
  EXPECT_EQ(a->path, dir_ + "/configs/lab/r1/20261203T120000Z.cfg");
  EXPECT_EQ(a->bytes, 11);
  EXPECT_EQ(a->sha256, Sha256Hex("hostname a\n"));
  auto b = StoreSavedConfig(dir_, "lab", "r1", "hostname b\n", kNoon);  // the same second
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->version, "20261203T120000Z-2");
  auto latest = LoadSavedConfig(dir_, "lab", "r1", "");
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(latest->text, "hostname b\n");
  EXPECT_EQ(latest->version, b->version);
  auto first = LoadSavedConfig(dir_, "lab", "r1", a->version);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->text, "hostname a\n");
  EXPECT_EQ(ListSavedVersions(dir_, "lab", "r1"),
            (std::vector<std::string>{a->version, b->version}));
}

TEST_F(SavedConfigsTest, OnlyTheNewestVersionsAreKeptInNumberOrder) {
  constexpr std::time_t kNoon = 1796299200;
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(StoreSavedConfig(dir_, "lab", "r1", std::to_string(i), kNoon).ok());
  }
  auto versions = ListSavedVersions(dir_, "lab", "r1");
  ASSERT_EQ(versions.size(), kMaxSavedVersions);
  EXPECT_EQ(versions.front(), "20261203T120000Z-6");  // -10 sorts after -9, not before -2
  EXPECT_EQ(versions.back(), "20261203T120000Z-25");
  EXPECT_EQ(LoadSavedConfig(dir_, "lab", "r1", "latest")->text, "24");
}

TEST_F(SavedConfigsTest, MissingAndBadVersionsAreRefusedBeforeAnyPath) {
  EXPECT_EQ(LoadSavedConfig(dir_, "lab", "r1", "").status().code(), StatusCode::kNotFound);
  for (const char* bad : {"../../etc/passwd", "20261203T120000Z/../x", "latest2", "20261203"}) {
    auto r = LoadSavedConfig(dir_, "lab", "r1", bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(LoadSavedConfig(dir_, "lab", "r1", "20261203T120000Z").status().code(),
            StatusCode::kNotFound);
}

TEST_F(SavedConfigsTest, AFailedWriteNamesThePathAndKeepsTheOtherVersions) {
  constexpr std::time_t kNoon = 1796299200;
  ASSERT_TRUE(StoreSavedConfig(dir_, "lab", "r1", "old", kNoon).ok());
  // A file where r2's directory should be: the write fails (for root too, unlike permissions).
  std::FILE* f = std::fopen((dir_ + "/configs/lab/r2").c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  auto r = StoreSavedConfig(dir_, "lab", "r2", "new", kNoon);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("configs/lab/r2"), std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(LoadSavedConfig(dir_, "lab", "r1", "")->text, "old");
}

}  // namespace
}  // namespace labvirt::providers
