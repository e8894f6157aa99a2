// The CPU ladder on real libvirtd and QEMU, on every host: labvirtd is given (--emulator) a
// wrapper in front of QEMU that refuses a host CPU (-cpu host / -cpu max, i.e. host-passthrough
// under KVM or TCG) unless arch-capabilities is off, with QEMU's exact words from the nested-KVM
// host where wave 1 failed ("failed to set MSR 0x10a"); otherwise it execs the real QEMU. A node
// must come up on the next rung with the reason recorded, and the next node start right away.
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/support/fixture_domain.h"
#include "tests/support/prereq.h"
#include "tests/support/suite_daemon.h"
#include "tools/ctl/client.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::string kPid = std::to_string(::getpid());
// Under libvirt's images directory: QEMU (user libvirt-qemu) reads the disks and runs the wrapper.
const std::string kRoot = "/var/lib/libvirt/images/lvtest-cpu-" + kPid;
const std::string kImageRoot = kRoot + "/images";
const std::string kStateDir = kRoot + "/state";
const std::string kWrapper = kRoot + "/qemu-refusing-host-cpu";
const std::string kSocket = "/tmp/lvtest-cpu-" + kPid + ".sock";
const std::string kLab = "lvcpu" + kPid;

constexpr const char* kWrapperScript = R"(#!/bin/sh
# Stands in for QEMU on a nested-KVM host (tests/integration/cpu_fallback_test.cc).
prev=
for a in "$@"; do
  if [ "$prev" = "-cpu" ]; then
    case "$a" in
      host*|max*)
        case "$a" in
          *arch-capabilities=off*) ;;
          *) echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x400000000c000069" >&2
             echo "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion \`ret == cpu->kvm_msr_buf->nmsrs' failed." >&2
             exit 1 ;;
        esac ;;
    esac
  fi
  prev=$a
done
exec /usr/bin/qemu-system-x86_64 "$@"
)";

std::string Call(const std::string& method, const std::string& params) {
  auto c = ctl::Client::Connect(kSocket);
  if (!c.ok()) return "connect failed: " + c.status().message();
  auto r = c->Call(method, params);
  return r.ok() ? *r : "call failed: " + r.status().message();
}

// One node of kind iosv (host-passthrough in the catalog) named `node`, deployed with wait.
std::string DeployNode(const std::string& node) {
  return Call("lab.deploy", R"({"lab":")" + kLab + R"(","wait":true,"nodes":[{"name":")" + node +
                                R"(","kind":"iosv","image":"iosv.qcow2","memory_mb":64}]})");
}

struct NodeCpu {
  std::string state, reason, summary, why;
  std::vector<std::string> attempts;
};

NodeCpu GetNodeCpu(const std::string& node) {
  NodeCpu out;
  std::string resp = Call("node.get", R"({"lab":")" + kLab + R"(","node":")" + node + R"("})");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(resp).get(doc)) return out;
  auto n = doc["result"];
  out.state = std::string(n["state"].get_string().value_unsafe());
  out.reason = std::string(n["reason"].get_string().value_unsafe());
  out.summary = std::string(n["cpu"]["summary"].get_string().value_unsafe());
  out.why = std::string(n["cpu"]["reason"].get_string().value_unsafe());
  simdjson::dom::array attempts;
  if (!n["cpu_attempts"].get_array().get(attempts)) {
    for (auto a : attempts) out.attempts.emplace_back(a.get_string().value_unsafe());
  }
  return out;
}

class CpuFallbackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fs::create_directories(kImageRoot);
    fs::create_directories(kStateDir);
    ::chmod(kRoot.c_str(), 0755);
    std::ofstream(kWrapper) << kWrapperScript;
    ::chmod(kWrapper.c_str(), 0755);
    setup_error_ =
        testing::BuildFixtureImage(testing::ConsoleTranscript("iosv"), kImageRoot + "/iosv.qcow2",
                                   testing::AcpiMode::kGraceful, testing::Speed::kFast);
    if (!setup_error_.empty()) return;
    daemon_ = testing::StartHealthyDaemon(
        {.args = {"--socket", kSocket, "--image-root", kImageRoot, "--state-dir", kStateDir,
                  "--emulator", kWrapper, "--boot-budget", "2"},
         .log_path = kStateDir + "/labvirtd.log"},
        kSocket, 30s, &setup_error_);
  }
  static void TearDownTestSuite() {
    if (daemon_) Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
    daemon_.reset();
    std::error_code ec;
    fs::remove_all(kRoot, ec);
  }
  void SetUp() override {
    LABVIRT_REQUIRE(setup_error_.empty(), "fixture image and labvirtd: " + setup_error_);
  }
  static inline std::string setup_error_;
  static inline std::unique_ptr<testing::DaemonProcess> daemon_;
};

TEST_F(CpuFallbackTest, ARefusedCpuStartsOnTheNextChoiceAndTheNextNodeStartsRightAway) {
  std::string deployed = DeployNode("r1");
  ASSERT_EQ(deployed.find("\"error\""), std::string::npos) << deployed;
  NodeCpu r1 = GetNodeCpu("r1");
  ASSERT_EQ(r1.state, "ready") << r1.reason << " (daemon log: " << kStateDir << "/labvirtd.log)";
  EXPECT_EQ(r1.summary, "host-passthrough -arch-capabilities");
  ASSERT_EQ(r1.attempts.size(), 1u);
  EXPECT_NE(r1.attempts[0].find("host-passthrough: failed to set MSR 0x10a"), std::string::npos)
      << r1.attempts[0];
  EXPECT_NE(r1.why.find("failed to set MSR 0x10a"), std::string::npos) << r1.why;

  std::string info = Call("host.info", "{}");
  EXPECT_NE(info.find(R"("host-passthrough":"host-passthrough -arch-capabilities")"),
            std::string::npos)
      << "the working choice is cached and reported: " << info;
  EXPECT_NE(info.find(R"("accelerator":")"), std::string::npos) << info;
  EXPECT_TRUE(fs::exists(kStateDir + "/cpu-choices.json"));

  // A node added later starts on the cached choice: no refused attempt.
  deployed = DeployNode("r2");
  ASSERT_EQ(deployed.find("\"error\""), std::string::npos) << deployed;
  NodeCpu r2 = GetNodeCpu("r2");
  ASSERT_EQ(r2.state, "ready") << r2.reason;
  EXPECT_EQ(r2.summary, "host-passthrough -arch-capabilities");
  EXPECT_TRUE(r2.attempts.empty()) << r2.attempts[0];
  EXPECT_NE(r2.why.find("cached"), std::string::npos) << r2.why;
}

TEST_F(CpuFallbackTest, AChoiceTheNodeAsksForIsKeptAndItsRefusalNamed) {
  // A per-node cpu_model that QEMU does not know: the ladder ends on the fallback model.
  std::string deployed = Call(
      "lab.deploy", R"({"lab":")" + kLab +
                        R"(","wait":true,"nodes":[{"name":"r3","kind":"iosv","image":"iosv.qcow2",)"
                        R"("memory_mb":64,"cpu_mode":"custom","cpu_model":"NoSuchCpu"}]})");
  ASSERT_EQ(deployed.find("\"error\""), std::string::npos) << deployed;
  NodeCpu r3 = GetNodeCpu("r3");
  ASSERT_EQ(r3.state, "ready") << r3.reason;
  EXPECT_EQ(r3.summary, "custom qemu64 check=none");
  ASSERT_FALSE(r3.attempts.empty());
  EXPECT_NE(r3.attempts[0].find("custom NoSuchCpu"), std::string::npos) << r3.attempts[0];
}

}  // namespace
}  // namespace labvirt
