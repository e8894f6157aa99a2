// labvirtd killed (SIGKILL, as a crash) at each step of a node's life, on real libvirtd, QEMU and
// OVS with fixture VMs: the daemon is started with LABVIRT_FAULT_KILL_AT=<point>
// (reactor/base/fault_point.h) so it dies exactly there, then started again without it. After
// each kill the lab converges — the same lab.deploy answers with every node ready, node.stop and
// lab.destroy finish what they began — and nothing is lost or leaked: one domain per node, one
// OVS port per NIC, one overlay per node, nothing lab.cleanup would call orphaned, and after the
// destroy no domain, port or overlay at all. Each case runs twice: on fixture VMs (libvirt) and
// on containers (Docker), the two providers behind the engine's one seam.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <tuple>

#include "gtest/gtest.h"
#include "tests/support/container_support.h"
#include "tests/support/daemon_process.h"
#include "tests/support/deadline.h"
#include "tests/support/fault_lab.h"
#include "tests/support/fixture_domain.h"
#include "tests/support/host_view.h"
#include "tests/support/prereq.h"
#include "tests/support/suite_place.h"
#include "tools/ctl/client.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const testing::SuitePlace kPlace("fault");

std::unique_ptr<testing::DaemonProcess> g_daemon;

std::string Call(const std::string& method, const std::string& params) {
  return testing::CallBounded(kPlace.socket, method, params);
}
bool IsError(const std::string& resp) { return resp.find("\"error\"") != std::string::npos; }

// (Re)starts labvirtd, armed at `point` ("" for none), and waits until it is healthy.
::testing::AssertionResult StartDaemon(const std::string& point) {
  g_daemon->Stop();  // one daemon on the socket: a second would exit and leave the first serving
  g_daemon->options().env.clear();
  if (!point.empty()) g_daemon->options().env.push_back("LABVIRT_FAULT_KILL_AT=" + point);
  g_daemon->Start();
  if (!testing::WaitHealthy(kPlace.socket, 60s)) {
    return ::testing::AssertionFailure() << "labvirtd not healthy: " << g_daemon->Warnings();
  }
  return ::testing::AssertionSuccess();
}

// Sends `method` without waiting for its answer: the daemon is to die on the way.
void SendAndDie(const std::string& method, const std::string& params, const std::string& point) {
  auto c = testing::ConnectBounded(kPlace.socket);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send(method, params, 1).ok());
  ASSERT_TRUE(g_daemon->WaitExit(180s)) << "labvirtd never reached fault point " << point;
}

// The node kinds each case runs on: a fixture VM and a container.
const auto kKinds = ::testing::Values("iosv", "linux_container");

class FaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kPlace.Make();
    image_error_ = testing::BuildFixtureImage(testing::ConsoleTranscript("iosv"),
                                              kPlace.image_root + "/iosv.qcow2",
                                              testing::AcpiMode::kGraceful, testing::Speed::kFast);
    g_daemon = std::make_unique<testing::DaemonProcess>(
        kPlace.DaemonOptions({"--boot-budget", "4", "--mgmt", "none"}));
    g_daemon->Stop();  // each test starts it with its own fault point
  }
  static void TearDownTestSuite() {
    if (StartDaemon("")) {
      for (const auto& lab : labs_) Call("lab.destroy", R"({"lab":")" + lab + R"("})");
    }
    g_daemon.reset();
    kPlace.Remove();
  }
  // Sets the lab up for nodes of `kind` (kKinds).
  void UseKind(const std::string& kind) {
    ASSERT_EQ(image_error_, "") << "fixture image";
    if (kind == "linux_container") {
      LABVIRT_REQUIRE(testing::DockerdAnswers(), "dockerd answering on /var/run/docker.sock");
      LABVIRT_REQUIRE(testing::HaveContainerFixtureImage(),
                      std::string("docker image ") + testing::kContainerFixtureImage +
                          " (tools/mkcontainer-fixture builds it)");
    }
    lab_ = "lvf" + kPlace.pid + "x" + std::to_string(labs_.size());
    labs_.push_back(lab_);
    fl_ = testing::FaultLab{kPlace.socket, kPlace.state_dir, lab_, kind};
  }
  void TearDown() override {
    if (!g_daemon->running()) (void)StartDaemon("");
  }
  // The lab as it should be once deployed, and once destroyed.
  void ExpectConverged(const std::string& deploy_answer) {
    fl_.ExpectConverged(deploy_answer, g_daemon->Warnings());
  }
  std::string lab_;
  testing::FaultLab fl_;
  static inline std::string image_error_;
  static inline std::vector<std::string> labs_;
};

// Killed during a deploy: the same lab.deploy again converges on what the first one began.
// Parameters: the nodes' kind, the fault point.
class DeployFaultTest : public FaultTest,
                        public ::testing::WithParamInterface<std::tuple<std::string, std::string>> {
 protected:
  void SetUp() override { UseKind(std::get<0>(GetParam())); }
};

TEST_P(DeployFaultTest, KilledThereTheSameDeployConvergesAndLeaksNothing) {
  const std::string point = std::get<1>(GetParam());
  ASSERT_TRUE(StartDaemon(point));
  SendAndDie("lab.deploy", fl_.Spec(false), point);
  ASSERT_TRUE(StartDaemon(""));
  ExpectConverged(Call("lab.deploy", fl_.Spec(true)));
  std::string gone = Call("lab.destroy", R"({"lab":")" + lab_ + R"("})");
  EXPECT_NE(gone.find("\"destroyed\":2"), std::string::npos) << gone;
  fl_.ExpectGone();
}

// "ready": killed right after a node became ready, before its metadata said so; the restarted
// labvirtd finds the readiness text in the current boot's console output: a VM's console log
// from its boot mark (engine/console/boot_log.h), a container's own log of its current run,
// replayed into the console when the provider attaches it again (providers/docker).
INSTANTIATE_TEST_SUITE_P(
    Points, DeployFaultTest,
    ::testing::Combine(kKinds, ::testing::Values("define", "start_paused", "console_open",
                                                 "ports_plugged", "resumed", "ready")),
    [](const auto& info) { return std::get<0>(info.param) + "_" + std::get<1>(info.param); });

// Killed while stopping a node, then while destroying the lab: each finishes when asked again.
// Parameter: the nodes' kind.
class StopFaultTest : public FaultTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override { UseKind(GetParam()); }
};

TEST_P(StopFaultTest, KilledWhileStoppingThenWhileDestroyingEachFinishesWhenAskedAgain) {
  ASSERT_TRUE(StartDaemon(""));
  ExpectConverged(Call("lab.deploy", fl_.Spec(true)));
  g_daemon->Stop();

  ASSERT_TRUE(StartDaemon("stopping"));
  SendAndDie("node.stop", R"({"lab":")" + lab_ + R"(","node":"r1"})", "stopping");
  ASSERT_TRUE(StartDaemon(""));
  std::string stopped = Call("node.stop", R"({"lab":")" + lab_ + R"(","node":"r1","wait":true})");
  EXPECT_FALSE(IsError(stopped)) << stopped;
  // Stopped, or — when the guest was already off by the time the new labvirtd looked (TCG's
  // fixture halts within a second of the ACPI request) — adopted as `defined`: off, with the
  // desired state the stop saved before asking the guest (it is not started again).
  std::string r1 = Call("node.get", R"({"lab":")" + lab_ + R"(","node":"r1"})");
  EXPECT_TRUE(r1.find(R"("state":"stopped")") != std::string::npos ||
              r1.find(R"("state":"defined")") != std::string::npos)
      << r1;
  EXPECT_NE(r1.find(R"("desired":"stopped")"), std::string::npos) << r1;
  EXPECT_FALSE(fl_.Runs("r1")) << "r1 is off";
  EXPECT_TRUE(fl_.Runs("r2")) << "r2 untouched";
  EXPECT_EQ(fl_.Instances(), 2);
  g_daemon->Stop();

  ASSERT_TRUE(StartDaemon("destroy"));
  SendAndDie("lab.destroy", R"({"lab":")" + lab_ + R"("})", "destroy");
  ASSERT_TRUE(StartDaemon(""));
  std::string gone = Call("lab.destroy", R"({"lab":")" + lab_ + R"("})");
  EXPECT_FALSE(IsError(gone)) << gone;
  fl_.ExpectGone();
  std::string leftovers = Call("lab.cleanup", R"({"dry_run":true})");
  EXPECT_EQ(leftovers.find(lab_), std::string::npos) << "nothing orphaned: " << leftovers;
}

INSTANTIATE_TEST_SUITE_P(Kinds, StopFaultTest, kKinds, [](const auto& info) { return info.param; });

}  // namespace
}  // namespace labvirt
