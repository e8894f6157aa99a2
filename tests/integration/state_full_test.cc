// The state directory's filesystem full under a deploy, on real libvirtd, QEMU and OVS: labvirtd's
// --state-dir is a small tmpfs of its own, filled up before the deploy. The deploy fails naming the
// node and the cause (no space left on device), leaves nothing half-made (no domain, port,
// overlay or partial overlay file, no lab), and once space is freed the same deploy converges.
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/daemon_process.h"
#include "tests/support/deadline.h"
#include "tests/support/fault_lab.h"
#include "tests/support/fixture_domain.h"
#include "tests/support/host_view.h"
#include "tests/support/prereq.h"
#include "tests/support/suite_place.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const testing::SuitePlace kPlace("full");
const std::string kLog = "/tmp/lvtest-full-" + kPlace.pid + ".log";  // off the full filesystem
const std::string kFiller = kPlace.state_dir + "/filler";

// Writes zeros to `path` until the filesystem under it is full; true when it ended full.
bool FillUp(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  std::vector<char> block(64 * 1024, 0);
  while (std::fwrite(block.data(), 1, block.size(), f) == block.size()) {
  }
  bool full = errno == ENOSPC;
  std::fclose(f);
  return full;
}

class StateFullTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kPlace.Make();
    mounted_ =
        ::mount("lvtest-full", kPlace.state_dir.c_str(), "tmpfs", 0, "size=16m,mode=0755") == 0;
    if (!mounted_) return;
    image_error_ = testing::BuildFixtureImage(testing::ConsoleTranscript("iosv"),
                                              kPlace.image_root + "/iosv.qcow2",
                                              testing::AcpiMode::kGraceful, testing::Speed::kFast);
    auto options = kPlace.DaemonOptions({"--mgmt", "none"});
    options.log_path = kLog;
    daemon_ = std::make_unique<testing::DaemonProcess>(options);
    healthy_ = testing::WaitHealthy(kPlace.socket, 60s);
  }
  static void TearDownTestSuite() {
    if (daemon_ && !daemon_->running()) daemon_->Start();  // it died: a new one cleans up
    if (daemon_ && testing::WaitHealthy(kPlace.socket, 60s)) {
      ::unlink(kFiller.c_str());
      testing::CallBounded(kPlace.socket, "lab.destroy",
                           R"({"lab":"lvfull)" + kPlace.pid + R"("})");
    }
    daemon_.reset();
    if (mounted_) ::umount2(kPlace.state_dir.c_str(), MNT_DETACH);
    std::error_code ec;
    if (::testing::UnitTest::GetInstance()->failed_test_count() > 0) {
      std::fprintf(stderr, "labvirtd's log kept in %s\n", kLog.c_str());
    } else {
      fs::remove(kLog, ec);
    }
    kPlace.Remove();
  }

  static inline std::unique_ptr<testing::DaemonProcess> daemon_;
  static inline bool mounted_ = false;
  static inline bool healthy_ = false;
  static inline std::string image_error_;
};

TEST_F(StateFullTest, ADeployOnAFullStateDirFailsNamingTheNodeAndSucceedsOnceSpaceIsFreed) {
  ASSERT_TRUE(mounted_) << "tmpfs on " << kPlace.state_dir;
  ASSERT_EQ(image_error_, "") << "fixture image";
  ASSERT_TRUE(healthy_) << "labvirtd not healthy: " << daemon_->Warnings();
  testing::FaultLab lab{kPlace.socket, kPlace.state_dir, "lvfull" + kPlace.pid};
  const int fds_before = testing::SettledFds(daemon_->pid());

  ASSERT_TRUE(FillUp(kFiller)) << "the state dir's filesystem did not fill up";
  std::string failed = lab.Call("lab.deploy", lab.Spec(true));
  ASSERT_NE(failed.find("\"error\""), std::string::npos) << failed;
  EXPECT_NE(failed.find("No space left on device"), std::string::npos) << "the cause: " << failed;
  EXPECT_NE(failed.find("r1"), std::string::npos) << "the node: " << failed;
  // Nothing half-made: no domain, port, overlay (whole or partial) or lab.
  EXPECT_EQ(testing::DomainsOfLab(lab.name), 0);
  EXPECT_TRUE(testing::PortsOfLab(lab.name).empty());
  EXPECT_EQ(lab.Overlays(), 0u);
  EXPECT_EQ(lab.Files("overlays", ".tmp"), 0u) << "a partial overlay was left";
  EXPECT_EQ(lab.Call("lab.list", "{}").find("\"" + lab.name + "\""), std::string::npos);

  ASSERT_EQ(::unlink(kFiller.c_str()), 0);
  lab.ExpectConverged(testing::CallBounded(kPlace.socket, "lab.deploy", lab.Spec(true), 300s),
                      daemon_->Warnings());
  std::string gone = lab.Call("lab.destroy", R"({"lab":")" + lab.name + R"("})");
  EXPECT_NE(gone.find("\"destroyed\":2"), std::string::npos) << gone;
  lab.ExpectGone();
  EXPECT_EQ(testing::FdsSettleAt(daemon_->pid(), fds_before), fds_before)
      << "labvirtd's descriptors:\n"
      << testing::FdTargets(daemon_->pid());
}

}  // namespace
}  // namespace labvirt
