// What the ordered cases of lab_test.cc share: one labvirtd on its own socket, image root and
// state dir (named by the test process's pid), the two-node lab they deploy, and calls to it.
// SetUpTestSuite builds the fixture images and starts labvirtd; each case checks it is healthy
// and that the shared lab's deploy has not failed before it runs.
#ifndef LABVIRT_TESTS_INTEGRATION_LAB_TEST_BASE_H_
#define LABVIRT_TESTS_INTEGRATION_LAB_TEST_BASE_H_

#include <simdjson.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/daemon_process.h"
#include "tests/support/fixture_domain.h"
#include "tests/support/host_view.h"
#include "tests/support/prereq.h"
#include "tests/support/suite_place.h"

namespace labvirt::lab_test {

using namespace std::chrono_literals;
using testing::DomainId;
using testing::DomainsOfLab;
using testing::PortsOfLab;
namespace fs = std::filesystem;

inline const testing::SuitePlace kPlace("lab");
inline const std::string kLab = "lvt" + kPlace.pid;

inline std::unique_ptr<testing::DaemonProcess> g_daemon;

inline void StartDaemon() {
  g_daemon = std::make_unique<testing::DaemonProcess>(kPlace.DaemonOptions({"--boot-budget", "4"}));
}

// Until host.info says healthy (libvirt connected and reconciled).
inline bool WaitHealthy() { return testing::WaitHealthy(kPlace.socket, 30s); }

// One request, answered within testing::kCallTimeout (else a "call failed: …" line).
inline std::string Call(const std::string& method, const std::string& params) {
  return testing::CallBounded(kPlace.socket, method, params);
}

inline std::string LabJson(const std::string& extra_node = "") {
  return R"({"name":")" + kLab +
         R"(","wait":true,"nodes":[)"
         R"({"name":"r1","kind":"iosv","image":"iosv.qcow2","memory_mb":64},)"
         R"({"name":"r2","kind":"vsrx","image":"vsrx.qcow2","memory_mb":64})" +
         extra_node + R"(],"links":[{"endpoints":["r1:eth1","r2:eth1"]}]})";
}

// tap -> tag of this lab's ports.
inline std::map<std::string, std::string> TagsByTap() {
  std::map<std::string, std::string> out;
  for (const auto& p : PortsOfLab(kLab)) out[p.substr(0, p.find(','))] = p.substr(p.find(',') + 1);
  return out;
}

// interface -> tap of a node's data NICs (from node.get).
inline std::map<std::string, std::string> DataTaps(const std::string& node) {
  std::map<std::string, std::string> out;
  std::string resp = Call("node.get", R"({"lab":")" + kLab + R"(","node":")" + node + R"("})");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(resp).get(doc)) return out;
  for (auto nic : doc["result"]["nics"].get_array()) {
    if (std::string_view(nic["role"].get_string()) != "data") continue;
    out[std::string(nic["interface"].get_string().value())] =
        std::string(nic["tap"].get_string().value());
  }
  return out;
}

inline bool IsError(const std::string& resp) { return resp.find("\"error\"") != std::string::npos; }

class LabTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kPlace.Make();
    for (const char* t : {"iosv", "vsrx"}) {
      std::string err = testing::BuildFixtureImage(
          testing::ConsoleTranscript(t), kPlace.image_root + "/" + t + ".qcow2",
          testing::AcpiMode::kGraceful, testing::Speed::kFast);
      ASSERT_EQ(err, "") << t;
    }
    StartDaemon();
    healthy_ = WaitHealthy();
  }
  static void TearDownTestSuite() {
    if (healthy_) Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
    g_daemon.reset();  // SIGTERM and wait
    kPlace.Remove();
  }
  void SetUp() override {
    LABVIRT_REQUIRE(healthy_, "labvirtd healthy on real libvirtd");
    // The tests after the deploy use its lab: when a node failed, each would wait out its own
    // deadlines for a lab that will never be ready. Fail them at once with the reason instead.
    ASSERT_EQ(lab_failure_, "") << "the lab's deploy failed earlier";
  }
  static inline bool healthy_ = false;
  static inline std::string lab_failure_;  // why the shared lab is not ready; "" when it is
};

}  // namespace labvirt::lab_test

#endif  // LABVIRT_TESTS_INTEGRATION_LAB_TEST_BASE_H_
