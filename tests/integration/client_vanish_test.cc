// Clients that vanish (their connection closed without a word) in the middle of what they asked,
// on real libvirtd, QEMU (fixture VMs) and OVS: mid-deploy — the deploy goes on, the lab
// converges, another client's subscription and requests are untouched — and mid-console-attach —
// at each step of an attach (half a request, the request, the answer read); the write lease is
// free again for the next viewer, whose keys still reach the console. labvirtd ends with as many
// descriptors as it began with.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
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

const testing::SuitePlace kPlace("vanish");

bool SendRaw(int fd, const std::string& bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

// Reads raw bytes from `fd` until `want` shows up or `deadline`; what was read.
std::string ReadUntil(int fd, const std::string& want,
                      testing::DeadlineClock::time_point deadline) {
  std::string got;
  char buf[4096];
  while (got.find(want) == std::string::npos && testing::DeadlineClock::now() < deadline) {
    testing::SetReadTimeout(fd, 500ms);
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n > 0) got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

class ClientVanishTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kPlace.Make();
    image_error_ = testing::BuildFixtureImage(testing::ConsoleTranscript("iosv"),
                                              kPlace.image_root + "/iosv.qcow2",
                                              testing::AcpiMode::kGraceful, testing::Speed::kFast);
    daemon_ = std::make_unique<testing::DaemonProcess>(kPlace.DaemonOptions({"--mgmt", "none"}));
    healthy_ = testing::WaitHealthy(kPlace.socket, 60s);
  }
  static void TearDownTestSuite() {
    if (!daemon_->running()) daemon_->Start();  // it died: a new one still cleans up its lab
    if (testing::WaitHealthy(kPlace.socket, 60s)) {
      testing::CallBounded(kPlace.socket, "lab.destroy", R"({"lab":")" + Lab() + R"("})");
    }
    daemon_.reset();
    kPlace.Remove();
  }
  void SetUp() override {
    ASSERT_EQ(image_error_, "") << "fixture image";
    ASSERT_TRUE(healthy_) << "labvirtd not healthy: " << daemon_->Warnings();
  }
  static std::string Lab() { return "lvv" + kPlace.pid; }

  testing::FaultLab lab_{kPlace.socket, kPlace.state_dir, Lab()};
  static inline std::unique_ptr<testing::DaemonProcess> daemon_;
  static inline bool healthy_ = false;
  static inline std::string image_error_;
  static inline int fds_before_ = 0;
};

// Runs first (the attach test needs its lab).
TEST_F(ClientVanishTest, A_ClientGoneMidDeployTheDeployGoesOnAndOthersAreUntouched) {
  fds_before_ = testing::SettledFds(daemon_->pid());
  ASSERT_GT(fds_before_, 0);
  auto watcher = testing::ConnectBounded(kPlace.socket);
  ASSERT_TRUE(watcher.ok());
  ASSERT_TRUE(watcher->Send("events.subscribe", R"({"labs":[")" + Lab() + R"("]})", 1).ok());
  auto subscribed = testing::ReadLineBy(*watcher, testing::DeadlineClock::now() + 10s, "subscribe");
  ASSERT_TRUE(subscribed.ok() && subscribed->find("\"subscribed\":true") != std::string::npos);
  {
    auto gone = testing::ConnectBounded(kPlace.socket);
    ASSERT_TRUE(gone.ok());
    ASSERT_TRUE(gone->Send("lab.deploy", lab_.Spec(true), 1).ok());
  }  // closed before any answer
  std::map<std::string, std::vector<std::string>> seen;
  EXPECT_EQ(testing::WaitNodeStates(*watcher, {"r1", "r2"}, "ready",
                                    testing::DeadlineClock::now() + 300s, &seen),
            "")
      << "the deploy went on without its client";
  // The watcher's connection still answers requests.
  ASSERT_TRUE(watcher->Send("host.info", "{}", 2).ok());
  bool answered = false;
  for (int i = 0; i < 100 && !answered; ++i) {
    auto line = testing::ReadLineBy(*watcher, testing::DeadlineClock::now() + 10s, "host.info");
    ASSERT_TRUE(line.ok()) << line.status().ToString();
    answered = line->find("\"id\":2") != std::string::npos;
  }
  EXPECT_TRUE(answered);
  lab_.ExpectConverged(lab_.Call("lab.deploy", lab_.Spec(true)), daemon_->Warnings());
}

TEST_F(ClientVanishTest, B_ViewersGoneMidAttachLeaveTheConsoleAndItsLeaseToTheNext) {
  ASSERT_EQ(lab_.StateOf("r1"), "ready");
  const std::string attach = R"({"lab":")" + Lab() + R"(","node":"r1","mode":"rw"})";
  for (int i = 0; i < 10; ++i) {
    {  // half the request line
      auto c = testing::ConnectBounded(kPlace.socket);
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE(SendRaw(c->fd(), R"({"jsonrpc":"2.0","id":1,"method":"console.att)"));
    }
    {  // the request, gone before its answer
      auto c = testing::ConnectBounded(kPlace.socket);
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE(c->Send("console.attach", attach, 1).ok());
    }
    {  // attached (holding the write lease), gone while the console streams
      auto c = testing::ConnectBounded(kPlace.socket);
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE(c->Send("console.attach", attach, 1).ok());
      auto answer = testing::ReadLineBy(*c, testing::DeadlineClock::now() + 10s, "attach");
      ASSERT_TRUE(answer.ok()) << answer.status().ToString();
      ASSERT_NE(answer->find("\"stream\":\"raw\""), std::string::npos) << *answer;
      ASSERT_TRUE(SendRaw(c->fd(), "\r"));
    }
  }
  // The next rw viewer gets the lease without `force`, and what it types reaches the device.
  {
    auto c = testing::ConnectBounded(kPlace.socket);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c->Send("console.attach", attach, 1).ok());
    auto answer = testing::ReadLineBy(*c, testing::DeadlineClock::now() + 10s, "attach");
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    ASSERT_NE(answer->find(R"("mode":"rw")"), std::string::npos) << *answer;
    (void)c->TakeBuffered();
    ASSERT_TRUE(SendRaw(c->fd(), "lvvanish\r"));
    std::string echoed = ReadUntil(c->fd(), "lvvanish", testing::DeadlineClock::now() + 30s);
    EXPECT_NE(echoed.find("lvvanish"), std::string::npos) << "no echo: " << echoed;
  }  // the last viewer leaves
  std::string gone = lab_.Call("lab.destroy", R"({"lab":")" + Lab() + R"("})");
  EXPECT_NE(gone.find("\"destroyed\":2"), std::string::npos) << gone;
  lab_.ExpectGone();
  EXPECT_EQ(testing::FdsSettleAt(daemon_->pid(), fds_before_), fds_before_)
      << "labvirtd's descriptors:\n"
      << testing::FdTargets(daemon_->pid());
}

}  // namespace
}  // namespace labvirt
