// Boot retries end to end: the built labvirtd on real libvirtd, QEMU and OVS with a fixture VM of
// kind linux (failure "Kernel panic - not syncing" with action restart, 1 retry) whose transcript
// ends at a prompt. The test types at the prompt over console.attach: `panic` prints the kernel
// panic, `go` prints the login prompt. So a boot fails or succeeds when the test says, and the
// test checks restart-then-ready and restart-then-failed (and a start after that), and that
// labvirtd lives on (it used to abort on the first retry: a booting -> starting transition its
// state machine refused).
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/fixture_domain.h"
#include "tests/support/prereq.h"
#include "tests/support/state_log.h"
#include "tests/support/suite_daemon.h"
#include "tests/support/suite_place.h"
#include "tools/ctl/client.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const testing::SuitePlace kPlace("retry");

// Every boot prints the banner once, then waits at the prompt.
const char kBanner[] = "retry-fixture: boot begins";
const char kPrompt[] = "boot> ";
const char kTranscript[] =
    "retry-fixture: boot begins\n"
    "[    0.000000] Linux version 6.1.0-13-amd64 (fixture)\n"
    "@@prompt boot>\\x20\n"
    "@@reply panic => [    1.234567] Kernel panic - not syncing: Attempted to kill init!\n"
    "@@reply go => debian login:\\x20\n";

std::string Call(const std::string& method, const std::string& params) {
  auto c = ctl::Client::Connect(kPlace.socket);
  if (!c.ok()) return "connect failed: " + c.status().message();
  auto r = c->Call(method, params);
  return r.ok() ? *r : "call failed: " + r.status().message();
}

std::string NodeParams(const std::string& lab, const std::string& node) {
  return R"({"lab":")" + lab + R"(","node":")" + node + R"("})";
}

struct NodeView {
  std::string state, reason;
  int64_t attempt = 0;
};

NodeView Get(const std::string& lab, const std::string& node) {
  simdjson::dom::parser p;
  simdjson::dom::element d;
  NodeView v;
  std::string_view state, reason;
  if (p.parse(Call("node.get", NodeParams(lab, node))).get(d) || d["result"]["state"].get(state) ||
      d["result"]["reason"].get(reason) || d["result"]["readiness"]["attempt"].get(v.attempt)) {
    return v;
  }
  v.state = state;
  v.reason = reason;
  return v;
}

bool WaitFor(const std::string& lab, const std::string& node, const std::string& state,
             int64_t attempt, std::chrono::seconds timeout = 60s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    NodeView v = Get(lab, node);
    if (v.state == state && (attempt == 0 || v.attempt == attempt)) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

// One node's "node.state" events on labvirtd's socket.
class StateLog : public testing::StateLog {
 public:
  StateLog(const std::string& lab, const std::string& node)
      : testing::StateLog(kPlace.socket, lab, node) {}
};

// A read-write console.attach: everything the node's console printed (scrollback first), and
// typing into it.
class Console {
 public:
  Console(const std::string& lab, const std::string& node) {
    auto c = ctl::Client::Connect(kPlace.socket);
    if (!c.ok()) return;
    client_ = std::make_unique<ctl::Client>(std::move(c).value());
    auto reply = client_->Call("console.attach",
                               R"({"lab":")" + lab + R"(","node":")" + node + R"(","mode":"rw"})");
    if (!reply.ok() || reply->find("\"error\"") != std::string::npos) {
      attach_error_ = reply.ok() ? *reply : reply.status().message();
      client_.reset();
      return;
    }
    got_ = client_->TakeBuffered();
  }
  bool ok() const { return client_ != nullptr; }
  const std::string& attach_error() const { return attach_error_; }
  // Waits until boot number `boot` (counted by its banner) shows its prompt.
  bool WaitPrompt(int boot, std::chrono::seconds timeout = 60s) {
    return ReadUntil(
        [&] {
          int banners = 0;
          size_t last = std::string::npos;
          for (size_t at = got_.find(kBanner); at != std::string::npos;
               at = got_.find(kBanner, at + 1)) {
            ++banners;
            last = at;
          }
          return banners == boot && got_.find(kPrompt, last) != std::string::npos;
        },
        timeout);
  }
  bool Type(const std::string& line) {
    std::string bytes = line + "\r";
    return ::send(client_->fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  const std::string& text() const { return got_; }

 private:
  template <typename Pred>
  bool ReadUntil(Pred done, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      ssize_t n = ::recv(client_->fd(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        got_.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        return done();
      } else {
        std::this_thread::sleep_for(10ms);
      }
    }
    return true;
  }

  std::unique_ptr<ctl::Client> client_;
  std::string got_;
  std::string attach_error_;
};

class BootRetryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kPlace.Make();
    std::string transcript = kPlace.state_dir + "/retry.txt";
    std::ofstream(transcript) << kTranscript;
    std::string err =
        testing::BuildFixtureImage(transcript, kPlace.image_root + "/retry.qcow2",
                                   testing::AcpiMode::kGraceful, testing::Speed::kFast);
    if (!err.empty()) return (void)std::fprintf(stderr, "fixture image: %s\n", err.c_str());
    daemon_ = testing::StartHealthyDaemon(kPlace.DaemonOptions({"--boot-budget", "2"}),
                                          kPlace.socket, 60s, &err);
    healthy_ = err.empty();
    if (!healthy_) std::fprintf(stderr, "%s\n", err.c_str());
  }
  static void TearDownTestSuite() {
    daemon_.reset();
    kPlace.Remove();
  }
  void SetUp() override { LABVIRT_REQUIRE(healthy_, "labvirtd healthy on real libvirtd"); }
  void TearDown() override {
    if (!lab_.empty()) Call("lab.destroy", R"({"lab":")" + lab_ + R"("})");
  }

  // Deploys one linux node "n1" from the retry fixture in lab `lab` (destroyed after the test)
  // and waits until its first boot is being watched.
  void DeployBooting(const std::string& lab) {
    lab_ = lab;
    std::string deployed =
        Call("lab.deploy", R"({"lab":")" + lab +
                               R"(","nodes":[{"name":"n1","kind":"linux","image":"retry.qcow2",)"
                               R"("memory_mb":64,"nics":1}]})");
    ASSERT_EQ(deployed.find("\"error\""), std::string::npos) << deployed;
    ASSERT_TRUE(WaitFor(lab, "n1", "booting", 1)) << Get(lab, "n1").reason << "\n"
                                                  << daemon_->Log();
  }
  // labvirtd still runs and answers.
  void ExpectDaemonAlive() {
    EXPECT_TRUE(daemon_->running()) << daemon_->Log();
    std::string info = Call("host.info", "{}");
    EXPECT_NE(info.find("\"healthy\":true"), std::string::npos) << info;
    EXPECT_EQ(daemon_->Log().find("check failed"), std::string::npos) << daemon_->Log();
  }

  std::string lab_;
  static inline std::unique_ptr<testing::DaemonProcess> daemon_;
  static inline bool healthy_ = false;
};

TEST_F(BootRetryTest, AKernelPanicRestartsTheVmAndTheSecondBootIsReady) {
  const std::string lab = "h13a" + kPlace.pid + "r";
  StateLog log(lab, "n1");
  ASSERT_TRUE(log.ok());
  ASSERT_NO_FATAL_FAILURE(DeployBooting(lab));
  Console console(lab, "n1");
  ASSERT_TRUE(console.ok()) << console.attach_error();
  ASSERT_TRUE(console.WaitPrompt(1)) << console.text();
  ASSERT_TRUE(console.Type("panic"));
  // The same viewer sees the second boot: the engine destroyed the VM and started it again.
  ASSERT_TRUE(console.WaitPrompt(2)) << console.text() << "\n" << daemon_->Log();
  ASSERT_TRUE(WaitFor(lab, "n1", "booting", 2)) << Get(lab, "n1").reason;
  ASSERT_TRUE(console.Type("go"));
  ASSERT_TRUE(WaitFor(lab, "n1", "ready", 2, 30s)) << Get(lab, "n1").reason << console.text();
  std::string moves = log.moves();
  EXPECT_NE(moves.find("starting>booting booting>starting starting>booting booting>ready"),
            std::string::npos)
      << moves;
  EXPECT_EQ(moves.find("queued", moves.find("booting>starting")), std::string::npos)
      << "the retry kept its boot slot: " << moves;
  ExpectDaemonAlive();
}

TEST_F(BootRetryTest, AKernelPanicOnEveryBootFailsTheNodeWithTheReason) {
  const std::string lab = "h13a" + kPlace.pid + "f";
  ASSERT_NO_FATAL_FAILURE(DeployBooting(lab));
  Console console(lab, "n1");
  ASSERT_TRUE(console.ok()) << console.attach_error();
  ASSERT_TRUE(console.WaitPrompt(1)) << console.text();
  ASSERT_TRUE(console.Type("panic"));
  ASSERT_TRUE(console.WaitPrompt(2)) << console.text() << "\n" << daemon_->Log();
  ASSERT_TRUE(WaitFor(lab, "n1", "booting", 2)) << Get(lab, "n1").reason;
  ASSERT_TRUE(console.Type("panic"));
  ASSERT_TRUE(WaitFor(lab, "n1", "failed", 0, 30s)) << Get(lab, "n1").reason;
  NodeView v = Get(lab, "n1");
  EXPECT_NE(v.reason.find("boot failed: kernel_panic"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("no retries left after 2 attempts"), std::string::npos) << v.reason;
  // The failed boot's VM is left running for its console: typing still echoes.
  ASSERT_TRUE(console.Type("still-here"));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (console.text().find("still-here") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    console.WaitPrompt(99, 1s);
  }
  EXPECT_NE(console.text().find("still-here"), std::string::npos) << console.text();
  // node.start takes that VM down first (it used to fail: "domain is already running") and
  // boots afresh on the same disk, attempt 1.
  std::string started = Call("node.start", NodeParams(lab, "n1"));
  EXPECT_EQ(started.find("\"error\""), std::string::npos) << started;
  ASSERT_TRUE(console.WaitPrompt(3)) << console.text() << "\n" << Get(lab, "n1").reason;
  ASSERT_TRUE(WaitFor(lab, "n1", "booting", 1)) << Get(lab, "n1").reason;
  ASSERT_TRUE(console.Type("go"));
  EXPECT_TRUE(WaitFor(lab, "n1", "ready", 1, 30s)) << Get(lab, "n1").reason;
  ExpectDaemonAlive();
}

}  // namespace
}  // namespace labvirt
