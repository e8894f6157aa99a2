// Overlay creation with the real qemu-img (a tool, not a daemon) and with a failing stand-in.
#include "providers/overlay.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "gtest/gtest.h"

namespace labvirt::providers {
namespace {

class OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v qemu-img >/dev/null 2>&1") != 0) {
      if (std::getenv("CI")) FAIL() << "qemu-img missing";
      GTEST_SKIP() << "qemu-img missing (run ./tools/setup-host)";
    }
    char tmpl[] = "/tmp/labvirt-overlay-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(std::system(("qemu-img create -q -f qcow2 " + dir_ + "/base.qcow2 16M").c_str()), 0);
    base_ = {dir_ + "/base.qcow2", DiskFormat::kQcow2, "qcow2"};
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  std::string dir_;
  ResolvedImage base_;
};

TEST_F(OverlayTest, CreatesKeepsAndRecreates) {
  std::string overlay = dir_ + "/lab1/disks/r1.qcow2";
  auto created = EnsureOverlay(base_, overlay);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_TRUE(*created);
  EXPECT_EQ(*ReadQcow2BackingFile(overlay), base_.path);
  EXPECT_EQ(::access((overlay + ".tmp").c_str(), F_OK), -1);
  // Kept across stop/start: a marker in the file survives EnsureOverlay.
  struct stat before {};
  ASSERT_EQ(::stat(overlay.c_str(), &before), 0);
  auto again = EnsureOverlay(base_, overlay);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  struct stat after {};
  ASSERT_EQ(::stat(overlay.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  // Wipe makes a new file.
  ASSERT_TRUE(RecreateOverlay(base_, overlay).ok());
  ASSERT_EQ(::stat(overlay.c_str(), &after), 0);
  EXPECT_EQ(*ReadQcow2BackingFile(overlay), base_.path);
  ASSERT_TRUE(DeleteOverlay(overlay).ok());
  EXPECT_EQ(::access(overlay.c_str(), F_OK), -1);
  EXPECT_TRUE(DeleteOverlay(overlay).ok());
}

TEST_F(OverlayTest, RefusesOverlayOfAnotherBase) {
  std::string other = dir_ + "/other.qcow2";
  ASSERT_EQ(std::system(("qemu-img create -q -f qcow2 " + other + " 16M").c_str()), 0);
  std::string overlay = dir_ + "/r1.qcow2";
  ASSERT_TRUE(EnsureOverlay({other, DiskFormat::kQcow2, "qcow2"}, overlay).ok());
  auto r = EnsureOverlay(base_, overlay);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("wipe"), std::string::npos);
  std::ofstream(dir_ + "/junk.qcow2") << "junk";
  auto junk = EnsureOverlay(base_, dir_ + "/junk.qcow2");
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.status().message().find("not a qcow2"), std::string::npos);
}

TEST_F(OverlayTest, ReportsQemuImgFailure) {
  // Written by labvirt: the missing base is named.
  auto r = EnsureOverlay({dir_ + "/missing-base.qcow2", DiskFormat::kQcow2, "qcow2"},
                         dir_ + "/r2.qcow2");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("missing-base.qcow2: No such file"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(::access((dir_ + "/r2.qcow2").c_str(), F_OK), -1);
  EXPECT_EQ(::access((dir_ + "/r2.qcow2.tmp").c_str(), F_OK), -1);
  // Made by qemu-img: its failure is reported as such, and nothing is left either.
  auto by_tool = EnsureOverlay({dir_ + "/missing-base.qcow2", DiskFormat::kQcow2, "qcow2"},
                               dir_ + "/r2.qcow2", OverlayTool{.native = false});
  ASSERT_FALSE(by_tool.ok());
  EXPECT_NE(by_tool.status().message().find("qemu-img failed"), std::string::npos)
      << by_tool.status().message();
  EXPECT_EQ(::access((dir_ + "/r2.qcow2.tmp").c_str(), F_OK), -1);
  auto missing_tool = EnsureOverlay(
      base_, dir_ + "/r3.qcow2", OverlayTool{.qemu_img = "/nonexistent/qemu-img", .native = false});
  EXPECT_FALSE(missing_tool.ok());
}

}  // namespace
}  // namespace labvirt::providers
