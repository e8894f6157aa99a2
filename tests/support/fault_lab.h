// The two-node lab of the fault-injection tests (tests/integration/fault_test.cc,
// host_fault_test.cc) and what "converged" and "gone" mean for it, seen from the host the way a
// user sees it (libvirt, ovs-vsctl, the state dir) and from labvirtd's socket.
//
// Header-only; blocking; gtest assertions. Needs ctl_dep (tools/ctl) and libvirt.
#ifndef LABVIRT_TESTS_SUPPORT_FAULT_LAB_H_
#define LABVIRT_TESTS_SUPPORT_FAULT_LAB_H_

#include <simdjson.h>
#include <sys/types.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/deadline.h"
#include "tests/support/host_view.h"

namespace labvirt::testing {

struct FaultLab {
  std::string socket;     // labvirtd's control socket
  std::string state_dir;  // its --state-dir
  std::string name;       // the lab

  std::string Call(const std::string& method, const std::string& params) const {
    return CallBounded(socket, method, params);
  }
  // lab.deploy's params: two fixture nodes (iosv, 64 MiB), one data NIC each, linked;
  // `wait`: the answer comes once every node is ready.
  std::string Spec(bool wait) const {
    return R"({"name":")" + name + R"(","wait":)" + (wait ? "true" : "false") +
           R"(,"nodes":[)"
           R"({"name":"r1","kind":"iosv","image":"iosv.qcow2","memory_mb":64,"nics":1},)"
           R"({"name":"r2","kind":"iosv","image":"iosv.qcow2","memory_mb":64,"nics":1}],)"
           R"("links":[{"endpoints":["r1:eth1","r2:eth1"]}]})";
  }
  // The lab's files with `extension` under `sub` of the state dir (overlays, logs).
  size_t Files(const std::string& sub, const std::string& extension) const {
    std::error_code ec;
    size_t n = 0;
    for (const auto& e :
         std::filesystem::directory_iterator(state_dir + "/" + sub + "/" + name, ec)) {
      n += e.path().extension() == extension;
    }
    return n;
  }
  size_t Overlays() const { return Files("overlays", ".qcow2"); }
  // The state of `node` from node.get ("" when labvirtd does not answer with one).
  std::string StateOf(const std::string& node) const {
    std::string j = Call("node.get", R"({"lab":")" + name + R"(","node":")" + node + R"("})");
    auto at = j.find(R"("state":")");
    if (at == std::string::npos) return "";
    at += 9;
    return j.substr(at, j.find('"', at) - at);
  }

  // The lab as it should be once deployed, from `deploy_answer` (a lab.deploy with wait): every
  // node ready, one domain per node, one OVS port per NIC with both ends of the link on one tag,
  // an overlay per node, nothing lab.cleanup would call orphaned. `daemon_log` is shown when the
  // deploy failed.
  void ExpectConverged(const std::string& deploy_answer, const std::string& daemon_log) const {
    ASSERT_EQ(deploy_answer.find("\"error\""), std::string::npos)
        << deploy_answer << "\nlabvirtd's warnings:\n"
        << daemon_log;
    EXPECT_EQ(FailedNodes(deploy_answer), "") << deploy_answer;
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.parse(deploy_answer);
    for (auto n : doc["result"]["nodes"].get_array()) {
      EXPECT_EQ(std::string_view(n["state"].get_string()), "ready") << simdjson::minify(n);
    }
    EXPECT_EQ(DomainsOfLab(name), 2);
    EXPECT_NE(DomainId(name, "r1"), -1) << "r1 runs";
    EXPECT_NE(DomainId(name, "r2"), -1) << "r2 runs";
    auto ports = PortsOfLab(name);
    EXPECT_EQ(ports.size(), 2u) << "one port per NIC, none twice";
    if (ports.size() == 2) {
      // "name,tag": the link's two ends share its tag (carrier up).
      auto tag = [](const std::string& l) { return l.substr(l.find(',') + 1); };
      EXPECT_EQ(tag(ports[0]), tag(ports[1])) << ports[0] << " / " << ports[1];
      EXPECT_NE(tag(ports[0]), "") << ports[0];
    }
    EXPECT_EQ(Overlays(), 2u);
    std::string leftovers = Call("lab.cleanup", R"({"dry_run":true})");
    EXPECT_EQ(leftovers.find(name), std::string::npos) << "nothing orphaned: " << leftovers;
  }

  // After lab.destroy: no domain, port, overlay or console log, and labvirtd no longer lists it.
  void ExpectGone() const {
    EXPECT_EQ(DomainsOfLab(name), 0);
    EXPECT_TRUE(PortsOfLab(name).empty());
    EXPECT_EQ(Overlays(), 0u);
    EXPECT_EQ(Files("logs", ".log"), 0u) << "console logs left";
    EXPECT_EQ(Call("lab.list", "{}").find("\"" + name + "\""), std::string::npos);
  }
};

// host.info's count of labvirtd's reconnects to libvirtd (-1 when it does not answer with one).
inline int64_t LibvirtReconnects(const std::string& socket) {
  simdjson::dom::parser p;
  simdjson::dom::element d;
  int64_t n = -1;
  if (p.parse(CallBounded(socket, "host.info", "{}")).get(d) ||
      d["result"]["libvirt"]["reconnects"].get(n))
    return -1;
  return n;
}

// How many descriptors process `pid` holds (-1 when /proc does not say).
inline int OpenFds(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

// OpenFds(pid) once it is `want`, or what it is after `within`: a client connection the test has
// just closed is labvirtd's until its loop has read the end of it.
inline int FdsSettleAt(pid_t pid, int want,
                       std::chrono::milliseconds within = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + within;
  int n = OpenFds(pid);
  while (n != want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    n = OpenFds(pid);
  }
  return n;
}

// What process `pid`'s descriptors point at, one "fd -> target" a line (for failure messages).
inline std::string FdTargets(pid_t pid) {
  std::error_code ec;
  std::string out;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    out += e.path().filename().string() + " -> " +
           std::filesystem::read_symlink(e.path(), ec).string() + "\n";
  }
  return out;
}

// A suite's tear-down of its directories: when a test failed, labvirtd's log (STATE/labvirtd.log)
// is first copied to /tmp/lvtest-NAME-PID.log and its path printed, so the state dir can go.
inline void KeepLogIfFailedAndRemove(const std::string& name, const std::string& pid,
                                     const std::string& state_dir, const std::string& image_root) {
  std::error_code ec;
  if (::testing::UnitTest::GetInstance()->failed_test_count() > 0) {
    const std::string kept = "/tmp/lvtest-" + name + "-" + pid + ".log";
    std::filesystem::copy_file(state_dir + "/labvirtd.log", kept, ec);
    std::fprintf(stderr, "labvirtd's log kept in %s\n", kept.c_str());
  }
  std::filesystem::remove_all(image_root, ec);
  std::filesystem::remove_all(state_dir, ec);
}

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_FAULT_LAB_H_
