// What the protocol tests share (protocol_test.cc, protocol_clients_test.cc): one labvirtd for the
// whole suite on libvirt's test driver through the host's libvirtd (test+unix:///default), clients
// with bounded reads, and labs whose only node has a container image, so they deploy and destroy
// without a VM.
#ifndef LABVIRT_TESTS_INTEGRATION_PROTOCOL_TEST_BASE_H_
#define LABVIRT_TESTS_INTEGRATION_PROTOCOL_TEST_BASE_H_

#include <grp.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/daemon_process.h"
#include "tests/support/deadline.h"
#include "tests/support/prereq.h"
#include "tools/ctl/client.h"

namespace labvirt::protocol_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline const std::string kDir = "/tmp/lvtest-proto-" + std::to_string(::getpid());
inline const std::string kSocket = kDir + "/labvirtd.sock";

// Every blocking read in these tests gives up instead of hanging the suite.
inline Result<ctl::Client> Connect(const std::string& socket = kSocket) {
  return testing::ConnectBounded(socket, 20s);
}

inline bool SendRaw(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

inline std::vector<std::string> DaemonArgs(const std::string& socket) {
  return {"--socket",      socket,
          "--libvirt-uri", "test+unix:///default",
          "--image-root",  kDir + "/img",
          "--state-dir",   kDir + "/state",
          "--workers",     "2"};
}

// A lab whose single node has a container image: deploys and destroys without the hypervisor.
inline std::string ContainerLab(const std::string& name) {
  return R"({"name":")" + name +
         R"(","nodes":[{"name":"c1","kind":"iosv","image":"example.org/ceos:4.30"}]})";
}

class ProtocolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::RaiseFdLimit(4096);
    fs::create_directories(kDir + "/img");
    fs::create_directories(kDir + "/state");
    daemon_ = new testing::DaemonProcess(
        {.args = DaemonArgs(kSocket), .log_path = kDir + "/labvirtd.log"});
    healthy_ = testing::WaitHealthy(kSocket);
  }
  static void TearDownTestSuite() {
    delete daemon_;
    std::error_code ec;
    fs::remove_all(kDir, ec);
  }
  void SetUp() override {
    LABVIRT_REQUIRE(healthy_, "labvirtd healthy on test+unix:///default (libvirtd running)");
  }
  void TearDown() override {
    EXPECT_TRUE(daemon_->running()) << "labvirtd died";
    if (HasFailure()) {
      std::string log = daemon_->Log();
      std::cerr << "--- labvirtd log (end) ---\n"
                << log.substr(log.size() > 6000 ? log.size() - 6000 : 0) << "\n";
    }
  }

  static std::string Call(const std::string& method, const std::string& params) {
    auto c = Connect();
    if (!c.ok()) return "connect failed: " + c.status().message();
    auto r = c->Call(method, params);
    return r.ok() ? *r : "call failed: " + r.status().message();
  }

  static inline testing::DaemonProcess* daemon_ = nullptr;
  static inline bool healthy_ = false;
  simdjson::dom::parser parser_;
};

// Names of every lab kind in the catalog, for requests with distinct, checkable answers.
inline std::vector<std::string> KindNames(simdjson::dom::parser& parser, const std::string& list) {
  std::vector<std::string> kinds;
  simdjson::dom::element doc;
  if (parser.parse(list).get(doc)) return kinds;
  for (auto k : doc["result"].get_array()) kinds.emplace_back(k["kind"].get_string().value());
  return kinds;
}

}  // namespace labvirt::protocol_test

#endif  // LABVIRT_TESTS_INTEGRATION_PROTOCOL_TEST_BASE_H_
