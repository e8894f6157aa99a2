// The two-node lab of the fault-injection tests (tests/integration/fault_test.cc,
// host_fault_test.cc) and what "converged" and "gone" mean for it, seen from the host the way a
// user sees it (libvirt or docker, ovs-vsctl, the state dir) and from labvirtd's socket.
//
// Header-only; blocking; gtest assertions. Needs ctl_dep (tools/ctl) and libvirt.
#ifndef LABVIRT_TESTS_SUPPORT_FAULT_LAB_H_
#define LABVIRT_TESTS_SUPPORT_FAULT_LAB_H_

#include <simdjson.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/deadline.h"
#include "tests/support/host_view.h"
#include "tests/support/proc_fds.h"

namespace labvirt::testing {

struct FaultLab {
  std::string socket;     // labvirtd's control socket
  std::string state_dir;  // its --state-dir
  std::string name;       // the lab
  // The nodes' kind: "iosv" (fixture VMs) or "linux_container" (the container fixture image,
  // tools/mkcontainer-fixture): the same lab, the same checks, on the other provider.
  std::string kind = "iosv";

  bool containers() const { return kind == "linux_container"; }

  std::string Call(const std::string& method, const std::string& params) const {
    return CallBounded(socket, method, params);
  }
  // lab.deploy's params: two fixture nodes of `kind` (a VM: iosv, 64 MiB), one data NIC each,
  // linked; `wait`: the answer comes once every node is ready.
  std::string Spec(bool wait) const {
    return R"({"name":")" + name + R"(","wait":)" + (wait ? "true" : "false") + R"(,"nodes":[)" +
           NodeSpec("r1") + "," + NodeSpec("r2") +
           R"(],"links":[{"endpoints":["r1:eth1","r2:eth1"]}]})";
  }
  std::string NodeSpec(const std::string& node) const {
    if (containers()) {
      return R"({"name":")" + node +
             R"(","kind":"linux_container","image":"labvirt/linux-fixture:1","nics":1})";
    }
    return R"({"name":")" + node +
           R"(","kind":"iosv","image":"iosv.qcow2","memory_mb":64,"nics":1})";
  }
  // How many of the lab's nodes exist on the host, running or not (domains, or containers).
  int Instances() const {
    return containers() ? static_cast<int>(ContainersOfLab(name).size()) : DomainsOfLab(name);
  }
  // Whether `node`'s VM or container runs, as libvirt or Docker says.
  bool Runs(const std::string& node) const {
    if (!containers()) return DomainId(name, node) != -1;
    for (const auto& c : ContainersOfLab(name)) {
      if (c.rfind("lv-" + name + "-" + node + "-", 0) == 0) return c.ends_with(" running");
    }
    return false;
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
    EXPECT_EQ(Instances(), 2);
    EXPECT_TRUE(Runs("r1")) << "r1 runs";
    EXPECT_TRUE(Runs("r2")) << "r2 runs";
    // "name,tag" each; a container's management NIC (its eth0, "…-m") is on the bridge too.
    auto ports = PortsOfLab(name);
    EXPECT_EQ(ports.size(), containers() ? 4u : 2u) << "one port per NIC, none twice";
    std::vector<std::string> data;
    for (const auto& p : ports) {
      std::string port = p.substr(0, p.find(','));
      if (!port.ends_with("-m")) data.push_back(p);
      // OVS keeps a port whose device does not exist, with ofport -1: each must be there.
      auto ofport = OutputLines("ovs-vsctl --no-wait get interface " + port + " ofport");
      EXPECT_TRUE(!ofport.empty() && ofport[0] != "-1") << port << " has no device";
    }
    EXPECT_EQ(data.size(), 2u) << "a data port per node";
    if (data.size() == 2) {
      // The link's two ends share its tag (carrier up).
      auto tag = [](const std::string& l) { return l.substr(l.find(',') + 1); };
      EXPECT_EQ(tag(data[0]), tag(data[1])) << data[0] << " / " << data[1];
      EXPECT_NE(tag(data[0]), "") << data[0];
    }
    EXPECT_EQ(Overlays(), containers() ? 0u : 2u) << "an overlay per VM (a container has none)";
    std::string leftovers = Call("lab.cleanup", R"({"dry_run":true})");
    EXPECT_EQ(leftovers.find(name), std::string::npos) << "nothing orphaned: " << leftovers;
  }

  // After lab.destroy: no domain or container, port, overlay or console log, and labvirtd no
  // longer lists it.
  void ExpectGone() const {
    EXPECT_EQ(Instances(), 0);
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

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_FAULT_LAB_H_
