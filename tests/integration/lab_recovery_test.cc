// What happens to a running lab when something under it fails, on the real labvirtd binary with
// real libvirtd, QEMU and OVS: a VM's QEMU killed (restart policy: back up with backoff, failed
// once the retries are spent, a user start clears it), libvirtd itself killed and restarted
// (labvirtd reconnects, resyncs, keeps its consoles and still hears lifecycle events), and a
// link's carrier state surviving a labvirtd restart.
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/deadline.h"
#include "tests/support/fault_lab.h"
#include "tests/support/fixture_domain.h"
#include "tests/support/host_view.h"
#include "tests/support/prereq.h"
#include "tests/support/state_log.h"
#include "tests/support/suite_daemon.h"
#include "tests/support/suite_place.h"
#include "tools/ctl/client.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const testing::SuitePlace kPlace("rec");
const std::string kLab = "lvr" + kPlace.pid;
const std::string kLabParam = R"("lab":")" + kLab + R"(")";

// One request, answered within testing::kCallTimeout (else a "call failed: …" line).
std::string Call(const std::string& method, const std::string& params) {
  return testing::CallBounded(kPlace.socket, method, params);
}

std::string NodeParams(const std::string& node, const std::string& extra = "",
                       const std::string& lab = kLab) {
  return R"({"lab":")" + lab + R"(","node":")" + node + "\"" + extra + "}";
}

// The node's own state (not its readiness record's), or "" when node.get failed.
std::string StateOf(const std::string& node, const std::string& lab = kLab) {
  simdjson::dom::parser p;
  simdjson::dom::element d;
  std::string_view state;
  if (p.parse(Call("node.get", NodeParams(node, "", lab))).get(d) ||
      d["result"]["state"].get(state))
    return "";
  return std::string(state);
}

// Polls until the node's state is `want`; false at the deadline, and at once when the node is
// `failed` and `want` is not (a failed node stays failed until someone starts it).
bool WaitState(const std::string& node, const std::string& want,
               std::chrono::seconds timeout = 90s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string state = StateOf(node);
    if (state == want) return true;
    if (state == "failed") return false;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// The pid of a node's QEMU process, from libvirt's pid file; 0 when it has none.
pid_t QemuPid(const std::string& node) {
  simdjson::dom::parser p;
  simdjson::dom::element d;
  std::string_view domain;
  if (p.parse(Call("node.get", NodeParams(node))).get(d) || d["result"]["domain"].get(domain))
    return 0;
  std::ifstream in("/run/libvirt/qemu/" + std::string(domain) + ".pid");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

int64_t Reconnects() { return testing::LibvirtReconnects(kPlace.socket); }

// The "node.state" events of one node of the suite's lab.
class StateLog : public testing::StateLog {
 public:
  explicit StateLog(const std::string& node) : testing::StateLog(kPlace.socket, kLab, node) {}
};

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + " ";
  return out;
}

class LabRecoveryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kPlace.Make();
    std::string err = testing::BuildFixtureImage(
        testing::ConsoleTranscript("iosv"), kPlace.image_root + "/iosv.qcow2",
        testing::AcpiMode::kGraceful, testing::Speed::kFast);
    if (err.empty()) {
      err = testing::BuildFixtureImage(testing::ConsoleTranscript("iosv"),
                                       kPlace.image_root + "/deaf.qcow2",
                                       testing::AcpiMode::kIgnore, testing::Speed::kFast);
    }
    if (!err.empty()) return (void)std::fprintf(stderr, "fixture image: %s\n", err.c_str());
    daemon_ = testing::StartHealthyDaemon(kPlace.DaemonOptions({"--boot-budget", "2"}),
                                          kPlace.socket, 60s, &err);
    if (!err.empty()) return (void)std::fprintf(stderr, "%s\n", err.c_str());
    healthy_ = true;
    failure_ = testing::DeployReady(
        *daemon_, kPlace.socket, kLab,
        R"({"name":")" + kLab +
            R"(","wait":true,"nodes":[)"
            R"({"name":"r1","kind":"iosv","image":"iosv.qcow2","memory_mb":64},)"
            R"({"name":"r2","kind":"iosv","image":"iosv.qcow2","memory_mb":64}],)"
            R"("links":[{"endpoints":["r1:eth1","r2:eth1"]}]})",
        {"r1", "r2"});
    ready_ = failure_.empty();
  }
  static void TearDownTestSuite() {
    if (daemon_) {
      Call("lab.destroy", "{" + kLabParam + "}");
      daemon_.reset();
    }
    kPlace.Remove();
  }
  void SetUp() override {
    LABVIRT_REQUIRE(healthy_, "labvirtd healthy on real libvirtd");
    // The prerequisites are there but the lab is not: a failure with its reason, never a skip.
    ASSERT_TRUE(ready_) << "the shared lab's deploy failed: " << failure_;
  }

  static inline std::unique_ptr<testing::DaemonProcess> daemon_;
  static inline bool healthy_ = false;
  static inline bool ready_ = false;
  static inline std::string failure_;
};

TEST_F(LabRecoveryTest, StopForcesOffAGuestThatIgnoresAcpiAfterItsTimeout) {
  const std::string lab = kLab + "-deaf";
  std::string deployed =
      Call("lab.deploy", R"({"name":")" + lab +
                             R"(","wait":true,"nodes":[{"name":"d1","kind":"iosv",)"
                             R"("image":"deaf.qcow2","memory_mb":64}]})");
  ASSERT_EQ(StateOf("d1", lab), "ready") << testing::FailedNodes(deployed) << deployed;
  auto started = std::chrono::steady_clock::now();
  std::string stopped = Call("node.stop", NodeParams("d1", R"(,"timeout_s":2,"wait":true)", lab));
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_NE(stopped.find(R"("state":"stopped")"), std::string::npos) << stopped;
  EXPECT_NE(stopped.find("forced off after the shutdown timeout"), std::string::npos) << stopped;
  EXPECT_GE(took, 2s) << "the guest had its timeout to shut down first";
  EXPECT_EQ(testing::DomainId(lab, "d1"), -1) << "the VM is off";
  std::string destroyed = Call("lab.destroy", R"({"lab":")" + lab + R"("})");
  EXPECT_EQ(destroyed.find("\"error\""), std::string::npos) << destroyed;
}

TEST_F(LabRecoveryTest, KilledQemuIsRestartedByThePolicyThenFailedWhenRetriesAreSpent) {
  StateLog log("r1");
  ASSERT_TRUE(log.ok());
  std::string overlay = kPlace.state_dir + "/overlays/" + kLab + "/r1.qcow2";
  auto overlay_time = fs::last_write_time(overlay);
  // The default policy restarts 3 times (after 1, 2 and 4 s); the 4th crash is final.
  for (int crash = 1; crash <= 4; ++crash) {
    pid_t pid = QemuPid("r1");
    ASSERT_GT(pid, 0) << "crash " << crash;
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    if (crash < 4) {
      // Back up: a new QEMU process, ready again, the same disk.
      auto deadline = std::chrono::steady_clock::now() + 90s;
      while (std::chrono::steady_clock::now() < deadline &&
             (log.Count("crashed") < crash || StateOf("r1") != "ready") && log.Count("failed") == 0)
        std::this_thread::sleep_for(100ms);
      ASSERT_EQ(StateOf("r1"), "ready") << "crash " << crash << ": " << Joined(log.states());
      EXPECT_NE(QemuPid("r1"), pid);
    }
  }
  ASSERT_TRUE(WaitState("r1", "failed", 30s)) << Joined(log.states());
  std::string node = Call("node.get", NodeParams("r1"));
  EXPECT_NE(node.find("restart policy exhausted"), std::string::npos) << node;
  EXPECT_EQ(log.Count("crashed"), 4) << Joined(log.states());
  EXPECT_EQ(log.Count("ready"), 3) << Joined(log.states());
  EXPECT_EQ(QemuPid("r1") > 0 && ::kill(QemuPid("r1"), 0) == 0, false) << "no QEMU left running";
  EXPECT_TRUE(fs::exists(overlay));
  EXPECT_EQ(fs::last_write_time(overlay) >= overlay_time, true);
  // The other node was never touched.
  EXPECT_EQ(StateOf("r2"), "ready");
  // A user's start clears the count: the node comes back.
  std::string start = Call("node.start", NodeParams("r1", R"(,"wait":true)"));
  EXPECT_NE(start.find("\"state\":\"ready\""), std::string::npos) << start;
}

TEST_F(LabRecoveryTest, LinkCarrierDownSurvivesALabvirtdRestart) {
  const std::string link = "r1:GigabitEthernet0/0--r2:GigabitEthernet0/0";
  std::string down =
      Call("link.set_state", "{" + kLabParam + R"(,"link":")" + link + R"(","state":"down"})");
  ASSERT_NE(down.find(R"("up":false)"), std::string::npos) << down;
  daemon_->Kill();
  daemon_->Start();
  ASSERT_TRUE(testing::WaitHealthy(kPlace.socket, 60s));
  std::string lab = Call("lab.get", "{" + kLabParam + "}");
  EXPECT_NE(lab.find(R"("up":false)"), std::string::npos) << "carrier state forgotten: " << lab;
  std::string up =
      Call("link.set_state", "{" + kLabParam + R"(,"link":")" + link + R"(","state":"up"})");
  EXPECT_NE(up.find(R"("up":true)"), std::string::npos) << up;
}

TEST_F(LabRecoveryTest, LibvirtdRestartIsReconnectedAndResynced) {
  ASSERT_TRUE(WaitState("r1", "ready") && WaitState("r2", "ready"));
  pid_t libvirtd = testing::LibvirtdPid();
  LABVIRT_REQUIRE(libvirtd > 0, "a running libvirtd with /run/libvirtd.pid");
  int64_t before = Reconnects();
  ASSERT_GE(before, 0);
  pid_t qemu1 = QemuPid("r1"), qemu2 = QemuPid("r2");
  ASSERT_EQ(::kill(libvirtd, SIGKILL), 0);
  // Bring libvirtd back whatever happens next, so later tests have it.
  int rc = std::system((testing::SourcePath("tools/setup-host") + " >/dev/null 2>&1").c_str());
  ASSERT_EQ(rc, 0) << "tools/setup-host could not restart libvirtd";
  auto deadline = std::chrono::steady_clock::now() + 90s;
  while (std::chrono::steady_clock::now() < deadline && Reconnects() <= before)
    std::this_thread::sleep_for(200ms);
  ASSERT_GT(Reconnects(), before) << "labvirtd did not reconnect to the new libvirtd";
  ASSERT_TRUE(testing::WaitHealthy(kPlace.socket, 60s))
      << "not healthy (reconciled) after reconnect";
  // The VMs ran on through it and labvirt kept them as they were.
  EXPECT_EQ(QemuPid("r1"), qemu1);
  EXPECT_EQ(QemuPid("r2"), qemu2);
  EXPECT_EQ(StateOf("r1"), "ready");
  EXPECT_EQ(StateOf("r2"), "ready");
  EXPECT_EQ(testing::DomainsOfLab(kLab), 2) << "nothing lost or duplicated";
  // Lifecycle events are heard again: a VM stopped behind labvirt's back is noticed (crashed)
  // and restarted by the policy, without polling.
  StateLog log("r2");
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(std::system(("virsh -q destroy " + std::to_string(testing::DomainId(kLab, "r2")) +
                         " >/dev/null 2>&1")
                            .c_str()),
            0);
  auto back = std::chrono::steady_clock::now() + 90s;
  while (std::chrono::steady_clock::now() < back &&
         (log.Count("crashed") < 1 || StateOf("r2") != "ready"))
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(log.Count("crashed"), 1) << Joined(log.states());
  EXPECT_EQ(StateOf("r2"), "ready") << Joined(log.states());
  EXPECT_NE(QemuPid("r2"), qemu2);
}

}  // namespace
}  // namespace labvirt
