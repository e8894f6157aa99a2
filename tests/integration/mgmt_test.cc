// Management segments end to end (docs/mgmt.md): the built labvirtd on real OVS, dnsmasq, nft,
// dockerd and libvirtd/QEMU. Container nodes (the busybox fixture image) ask for their address
// with `udhcpc` and get exactly the static lease labvirt gave their MAC; the host pings them
// through the lab's gateway port; a VM's management NIC sits on the same VLAN as the gateway and
// has its lease written; two labs get disjoint subnets; a labvirtd SIGKILL and restart keeps the
// addresses and adopts the running dnsmasq; destroy leaves no port, process, rule or file. Bad
// input: a subnet overlapping another lab or a host route, one that is not a prefix, a DHCP
// server that cannot start — each refused before anything is made.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/container_support.h"
#include "tests/support/fixture_suite.h"
#include "tests/support/prereq.h"
#include "tests/support/shell.h"
#include "tests/support/suite_place.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::Sh;
using testing::Trim;

const testing::SuitePlace kPlace("mgmt");
const std::string kLab = "mg" + kPlace.pid;
const std::string kLab2 = "mh" + kPlace.pid;
const char* const kImage = testing::kContainerFixtureImage;

std::string Call(const std::string& method, const std::string& params) {
  return testing::CallBounded(kPlace.socket, method, params);
}

// A string at `path` ("mgmt", "ipv4") inside `method`'s result; "" when missing.
std::string Field(const std::string& answer, std::initializer_list<const char*> path) {
  simdjson::dom::parser p;
  simdjson::dom::element d;
  if (p.parse(answer).get(d)) return "";
  simdjson::dom::element at = d["result"];
  for (const char* key : path) {
    if (at[key].get(at)) return "";
  }
  std::string_view s;
  if (at.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  int64_t i = 0;
  if (at.get_int64().get(i) == simdjson::SUCCESS) return std::to_string(i);
  bool b = false;
  if (at.get_bool().get(b) == simdjson::SUCCESS) return b ? "true" : "false";
  return "";
}

std::string NodeGet(const std::string& lab, const std::string& node) {
  return Call("node.get", R"({"lab":")" + lab + R"(","node":")" + node + R"("})");
}
std::string LabGet(const std::string& lab) {
  return Call("lab.get", R"({"lab":")" + lab + R"("})");
}

// The host end of the node's management NIC (its tap or veth).
std::string MgmtTap(const std::string& lab, const std::string& node) {
  simdjson::dom::parser p;
  simdjson::dom::element d;
  if (p.parse(NodeGet(lab, node)).get(d)) return "";
  for (auto nic : d["result"]["nics"].get_array()) {
    std::string_view role, tap;
    if (!nic["role"].get(role) && role == "management" && !nic["tap"].get(tap)) {
      return std::string(tap);
    }
  }
  return "";
}

// Runs `cmd` in the node's container (the test's view; labvirtd itself never runs docker).
std::string Exec(const std::string& lab, const std::string& node, const std::string& cmd,
                 int* rc = nullptr) {
  return testing::DockerExec(Field(NodeGet(lab, node), {"domain"}), cmd, rc);
}

// udhcpc on the container's eth0 (waiting for it to appear first); prints "udhcpc: eth0 IP/MASK".
std::string Dhcp(const std::string& lab, const std::string& node) {
  return Exec(lab, node,
              "for i in $(seq 50); do ip link show eth0 >/dev/null 2>&1 && break; sleep 0.2; done; "
              "udhcpc -i eth0 -n -q -t 5 -T 2");
}

std::string Containers(const std::string& lab, const std::string& names) {
  std::string out;
  for (char c : names) {
    out += std::string(out.empty() ? "" : ",") + R"({"name":"c)" + c +
           R"(","kind":"linux_container","image":")" + kImage + R"(","nics":1})";
  }
  (void)lab;
  return out;
}

std::string Deploy(const std::string& lab, const std::string& nodes, const std::string& mgmt = "") {
  std::string params = R"({"lab":")" + lab + R"(","wait":true,"nodes":[)" + nodes + "]";
  if (!mgmt.empty()) params += R"(,"mgmt":)" + mgmt;
  return Call("lab.deploy", params + "}");
}

// Every trace a lab's segment could leave on the host, named; "" when there is none.
std::string LeftoversNow(const std::string& gateway, const std::string& lab_state) {
  std::string out;
  if (!Trim(Sh("ovs-vsctl --bare --columns=name find port name=" + gateway)).empty()) {
    out += "port " + gateway + "; ";
  }
  if (Sh("ip -br link show " + gateway + " 2>/dev/null").find(gateway) != std::string::npos) {
    out += "interface " + gateway + "; ";
  }
  // Zombies aside: a process that is gone but not reaped yet holds nothing.
  if (!Trim(Sh("ps -eo stat=,args= | grep -v '^Z' | grep 'dnsmasq.*" + lab_state +
               "' | grep -v grep"))
           .empty()) {
    out += "dnsmasq; ";
  }
  if (fs::exists(lab_state)) out += "directory " + lab_state + "; ";
  if (Sh("nft list tables 2>&1").find("labvirt_" + gateway.substr(4)) != std::string::npos) {
    out += "nft table; ";
  }
  return out;
}

// LeftoversNow, given up to 3 s: ovs-vswitchd deletes an internal port's interface just after the
// port's row goes.
std::string Leftovers(const std::string& gateway, const std::string& lab_state) {
  std::string left;
  for (int i = 0; i < 30; ++i) {
    left = LeftoversNow(gateway, lab_state);
    if (left.empty()) break;
    std::this_thread::sleep_for(100ms);
  }
  return left;
}

class MgmtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    have_image_ = testing::HaveContainerFixtureImage();
    std::ifstream in(testing::ConsoleTranscript("iosv"));
    std::string transcript((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string err = testing::StartFixtureSuite({kPlace, "iosv.qcow2", transcript}, &daemon_);
    healthy_ = err.empty();
    if (!healthy_) std::fprintf(stderr, "%s\n", err.c_str());
  }
  static void TearDownTestSuite() {
    for (const auto& lab : {kLab, kLab2}) Call("lab.destroy", R"({"lab":")" + lab + R"("})");
    daemon_.reset();
    kPlace.Remove();
  }
  void SetUp() override {
    LABVIRT_REQUIRE(testing::DockerdAnswers(), "dockerd answering on /var/run/docker.sock");
    LABVIRT_REQUIRE(have_image_, std::string("docker image ") + kImage +
                                     " (tools/mkcontainer-fixture builds it)");
    LABVIRT_REQUIRE(fs::exists("/usr/sbin/dnsmasq"), "dnsmasq (Debian dnsmasq-base)");
    LABVIRT_REQUIRE(fs::exists("/usr/sbin/nft"), "nft (Debian nftables)");
    LABVIRT_REQUIRE(healthy_, "labvirtd healthy on real libvirtd");
  }
  void TearDown() override {
    for (const auto& lab : {kLab, kLab2}) Call("lab.destroy", R"({"lab":")" + lab + R"("})");
  }

  static inline std::unique_ptr<testing::DaemonProcess> daemon_;
  static inline bool healthy_ = false;
  static inline bool have_image_ = false;
};

TEST_F(MgmtTest, NodesGetTheirStaticLeasesTheHostReachesThemAndDestroyLeavesNothing) {
  // Two containers, and a VM of a kind with a management NIC (XRv's, on the fixture image; its
  // console prints IOSv's "Press RETURN", one of XRv's ready texts). A port forward to c1's ssh.
  std::string vm = R"(,{"name":"v1","kind":"cisco_xrv","image":"iosv.qcow2","memory_mb":64})";
  std::string deployed = Deploy(kLab, Containers(kLab, "12") + vm,
                                R"({"nat":true,"forwards":[{"node":"c1","host_port":42201}]})");
  ASSERT_EQ(deployed.find("\"error\""), std::string::npos) << deployed;
  std::string lab = LabGet(kLab);
  EXPECT_EQ(Field(lab, {"mgmt", "state"}), "up") << lab;
  EXPECT_EQ(Field(lab, {"mgmt", "dhcp", "running"}), "true") << lab;
  std::string gateway = Field(lab, {"mgmt", "interface"});
  std::string gw4 = Field(lab, {"mgmt", "gateway_ipv4"});
  ASSERT_FALSE(gateway.empty()) << lab;
  // The gateway holds its addresses on the host.
  EXPECT_NE(Sh("ip -o addr show dev " + gateway).find(gw4 + "/24"), std::string::npos)
      << Sh("ip -o addr show dev " + gateway);

  for (const char* c : {"c1", "c2"}) {
    std::string want = Field(NodeGet(kLab, c), {"mgmt", "ipv4"});
    ASSERT_FALSE(want.empty()) << NodeGet(kLab, c);
    std::string got = Dhcp(kLab, c);
    EXPECT_NE(got.find("udhcpc: eth0 " + want + "/"), std::string::npos)
        << c << " asked DHCP and got: " << got;
    int rc = -1;
    std::string ping = Sh("ping -c 2 -W 3 " + want + " 2>&1", &rc);
    EXPECT_EQ(rc, 0) << "the host pings " << c << " at " << want << ": " << ping;
  }
  EXPECT_NE(Field(NodeGet(kLab, "c1"), {"mgmt", "ipv4"}),
            Field(NodeGet(kLab, "c2"), {"mgmt", "ipv4"}));
  // IPv6 on the same segment: c1 takes its address by hand (busybox has no DHCPv6 client; the
  // dhcp_server test asks for the lease with its own client), and the host reaches it through the
  // gateway's /64.
  std::string v6 = Field(NodeGet(kLab, "c1"), {"mgmt", "ipv6"});
  ASSERT_FALSE(v6.empty());
  Exec(kLab, "c1", "ip -6 addr add " + v6 + "/64 dev eth0");
  int rc6 = -1;
  std::string ping6;
  for (int i = 0; i < 10 && rc6 != 0; ++i) {  // the container's address does DAD first
    ping6 = Sh("ping -6 -c 1 -W 1 " + v6 + " 2>&1", &rc6);
  }
  EXPECT_EQ(rc6, 0) << "the host pings c1 at " << v6 << ": " << ping6;

  // labvirtctl shows the segment and the addresses, and prints the inventory.
  std::string status =
      Sh(std::string(LABVIRTCTL_PATH) + " --socket " + kPlace.socket + " status " + kLab);
  EXPECT_NE(status.find("MGMT up on " + Field(lab, {"mgmt", "interface"})), std::string::npos)
      << status;
  EXPECT_NE(status.find(Field(NodeGet(kLab, "c1"), {"mgmt", "ipv4"})), std::string::npos) << status;
  EXPECT_NE(status.find("tcp/42201->22"), std::string::npos) << status;
  std::string ctl_inventory =
      Sh(std::string(LABVIRTCTL_PATH) + " --socket " + kPlace.socket + " inventory " + kLab);
  EXPECT_NE(ctl_inventory.find("ansible_host: " + Field(NodeGet(kLab, "c2"), {"mgmt", "ipv4"})),
            std::string::npos)
      << ctl_inventory;

  // The VM: its management tap on the gateway's VLAN, its lease written for its MAC.
  std::string v1 = NodeGet(kLab, "v1");
  EXPECT_EQ(Field(v1, {"state"}), "ready") << v1;
  std::string v1_tap = MgmtTap(kLab, "v1");
  ASSERT_FALSE(v1_tap.empty()) << v1;
  EXPECT_EQ(Trim(Sh("ovs-vsctl get port " + v1_tap + " tag")),
            Trim(Sh("ovs-vsctl get port " + gateway + " tag")));
  std::string lab_state = kPlace.state_dir + "/mgmt/" + kLab;
  std::string hosts = Sh("cat " + lab_state + "/dnsmasq.hosts");
  EXPECT_NE(hosts.find(Field(v1, {"mgmt", "mac"})), std::string::npos) << hosts;
  EXPECT_NE(hosts.find(Field(v1, {"mgmt", "ipv4"})), std::string::npos) << hosts;

  // The forward and NAT, listed in the lab's own nft table.
  std::string table = "labvirt_" + gateway.substr(4);
  std::string rules = Sh("nft list table ip " + table + " 2>&1");
  EXPECT_NE(rules.find("dport 42201"), std::string::npos) << rules;
  EXPECT_NE(rules.find("masquerade"), std::string::npos) << rules;

  // The inventory names every node with an address under its kind.
  std::string inv = Field(Call("lab.inventory", R"({"lab":")" + kLab + R"("})"), {"inventory"});
  EXPECT_NE(inv.find("ansible_host: " + Field(v1, {"mgmt", "ipv4"})), std::string::npos) << inv;
  EXPECT_NE(inv.find("ansible_network_os: cisco.iosxr.iosxr"), std::string::npos) << inv;

  std::string gone = Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
  EXPECT_EQ(gone.find("\"error\""), std::string::npos) << gone;
  EXPECT_EQ(Leftovers(gateway, lab_state), "");
  EXPECT_EQ(Trim(Sh("ovs-vsctl --bare --columns=name find port external_ids:lab=" + kLab)), "");
}

TEST_F(MgmtTest, RestartKeepsAddressesAndAdoptsTheRunningDhcpServer) {
  // A forward without NAT: the lab's nft table holds only it (and goes with the lab).
  ASSERT_EQ(Deploy(kLab, Containers(kLab, "1"), R"({"forwards":[{"node":"c1","host_port":42203}]})")
                .find("\"error\""),
            std::string::npos);
  std::string before = Field(NodeGet(kLab, "c1"), {"mgmt", "ipv4"});
  std::string pid = Field(LabGet(kLab), {"mgmt", "dhcp", "pid"});
  ASSERT_FALSE(before.empty());
  ASSERT_NE(pid, "0");
  daemon_->Kill();
  daemon_->Start();
  ASSERT_TRUE(testing::WaitHealthy(kPlace.socket, 60s));
  std::string lab;
  for (int i = 0; i < 100; ++i) {  // the segment is adopted just after the reconcile pass
    lab = LabGet(kLab);
    if (Field(lab, {"mgmt", "state"}) == "up") break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(Field(lab, {"mgmt", "state"}), "up") << lab;
  EXPECT_EQ(Field(lab, {"mgmt", "dhcp", "pid"}), pid) << "dnsmasq was adopted, not restarted";
  EXPECT_EQ(Field(NodeGet(kLab, "c1"), {"mgmt", "ipv4"}), before);
  EXPECT_NE(Dhcp(kLab, "c1").find("udhcpc: eth0 " + before + "/"), std::string::npos);

  // dnsmasq killed: labvirtd starts it again, and it serves the same lease.
  ::kill(std::stoi(pid), SIGKILL);
  for (int i = 0; i < 100 && Field(LabGet(kLab), {"mgmt", "dhcp", "restarts"}) == "0"; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(Field(LabGet(kLab), {"mgmt", "dhcp", "restarts"}), "1") << LabGet(kLab);
  std::string metrics = Call("metrics", "{}");
  EXPECT_NE(metrics.find("labvirt_mgmt_dhcp_restarts_total{lab=\\\"" + kLab + "\\\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(Dhcp(kLab, "c1").find("udhcpc: eth0 " + before + "/"), std::string::npos);

  // Destroyed after all that: the forward's table goes too, with everything else.
  std::string gateway = Field(LabGet(kLab), {"mgmt", "interface"});
  EXPECT_NE(Sh("nft list tables").find("labvirt_" + gateway.substr(4)), std::string::npos);
  std::string gone = Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
  EXPECT_EQ(gone.find("\"error\""), std::string::npos) << gone;
  EXPECT_EQ(Leftovers(gateway, kPlace.state_dir + "/mgmt/" + kLab), "");
}

TEST_F(MgmtTest, ASegmentWhoseLabVanishedWhileLabvirtdWasDownIsSweptByCleanup) {
  ASSERT_EQ(Deploy(kLab, Containers(kLab, "1"), R"({"forwards":[{"node":"c1","host_port":42202}]})")
                .find("\"error\""),
            std::string::npos);
  std::string gateway = Field(LabGet(kLab), {"mgmt", "interface"});
  std::string domain = Field(NodeGet(kLab, "c1"), {"domain"});
  std::string lab_state = kPlace.state_dir + "/mgmt/" + kLab;
  // labvirtd dies; its lab's only node is removed behind its back: after the restart, no node
  // names the lab, so its segment (port, dnsmasq, nft table, files) is nobody's.
  daemon_->Kill();
  Sh("docker rm -f " + domain + " >/dev/null 2>&1");
  daemon_->Start();
  ASSERT_TRUE(testing::WaitHealthy(kPlace.socket, 60s));
  EXPECT_NE(LeftoversNow(gateway, lab_state), "") << "the segment outlived its lab";
  std::string dry = Call("lab.cleanup", R"({"dry_run":true})");
  EXPECT_NE(dry.find(lab_state), std::string::npos) << dry;
  EXPECT_NE(dry.find(gateway), std::string::npos) << dry;
  std::string swept = Call("lab.cleanup", R"({"dry_run":false})");
  EXPECT_EQ(swept.find("\"error\""), std::string::npos) << swept;
  EXPECT_EQ(Leftovers(gateway, lab_state), "") << swept;
}

TEST_F(MgmtTest, TwoLabsGetDisjointSubnetsAndClashesAreRefusedBeforeAnythingIsMade) {
  ASSERT_EQ(Deploy(kLab, Containers(kLab, "1")).find("\"error\""), std::string::npos);
  ASSERT_EQ(Deploy(kLab2, Containers(kLab2, "1")).find("\"error\""), std::string::npos);
  std::string a = Field(LabGet(kLab), {"mgmt", "subnet_ipv4"});
  std::string b = Field(LabGet(kLab2), {"mgmt", "subnet_ipv4"});
  EXPECT_FALSE(a.empty());
  EXPECT_FALSE(b.empty());
  EXPECT_NE(a, b);
  EXPECT_NE(Field(LabGet(kLab), {"mgmt", "subnet_ipv6"}),
            Field(LabGet(kLab2), {"mgmt", "subnet_ipv6"}));
  Call("lab.destroy", R"({"lab":")" + kLab2 + R"("})");

  // Refused with the field and the clash named, and nothing of the lab made.
  std::string host_route =
      Trim(Sh("ip -4 route show scope link | grep -v 'dev lvgw' | head -1 | cut -d' ' -f1"));
  // A host port in use: a socket of the test's own, listening on every address.
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  socklen_t len = sizeof any;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&any), &len), 0);
  std::string busy_port = std::to_string(ntohs(any.sin_port));
  LABVIRT_REQUIRE(host_route.find('/') != std::string::npos, "a link-scope IPv4 route on the host");
  struct Bad {
    std::string mgmt, field, says;
  } bad[] = {
      {R"({"subnet":")" + a + R"("})", "mgmt.subnet", "lab '" + kLab + "'"},
      {R"({"subnet":")" + host_route + R"("})", "mgmt.subnet", "host route on"},
      {R"({"subnet":"10.1.2.3/24"})", "mgmt.subnet", "host bits"},
      {R"({"subnet":"banana"})", "mgmt.subnet", ""},
      {R"({"forwards":[{"node":"c1","host_port":)" + busy_port + "}]}", "mgmt.forwards", busy_port},
  };
  for (const Bad& b : bad) {
    std::string answer = Deploy(kLab2, Containers(kLab2, "1"), b.mgmt);
    EXPECT_NE(answer.find("\"field\":\"" + b.field), std::string::npos) << b.mgmt << " " << answer;
    EXPECT_NE(answer.find(b.says), std::string::npos) << b.mgmt << " " << answer;
    EXPECT_NE(Call("lab.get", R"({"lab":")" + kLab2 + R"("})").find("\"error\""), std::string::npos)
        << "no lab is left after " << b.mgmt;
    EXPECT_EQ(Trim(Sh("docker ps -aq --filter label=labvirt.lab=" + kLab2)), "") << b.mgmt;
  }
  ::close(listener);
}

TEST_F(MgmtTest, ADhcpServerThatCannotStartFailsTheDeployWithNothingMade) {
  // A second labvirtd whose "dnsmasq" exits at once with a message.
  std::string bin = kPlace.state_dir + "/broken-dnsmasq";
  std::ofstream(bin)
      << "#!/bin/sh\necho 'dnsmasq: failed to create listening socket' >&2\nexit 2\n";
  fs::permissions(bin, fs::perms::owner_all);
  std::string socket = kPlace.socket + ".2", state = kPlace.state_dir + "-2";
  fs::create_directories(state);
  std::string err;
  auto second =
      testing::StartHealthyDaemon({.args = {"--socket", socket, "--image-root", kPlace.image_root,
                                            "--state-dir", state, "--dnsmasq", bin},
                                   .log_path = state + "/labvirtd.log"},
                                  socket, 60s, &err);
  ASSERT_EQ(err, "");
  std::string answer = testing::CallBounded(
      socket, "lab.deploy",
      R"({"lab":"broken)" + kPlace.pid + R"(","wait":true,"nodes":[)" + Containers("", "1") + "]}");
  EXPECT_NE(answer.find("\"field\":\"mgmt\""), std::string::npos) << answer;
  EXPECT_NE(answer.find("DHCP server"), std::string::npos) << answer;
  EXPECT_EQ(Trim(Sh("docker ps -aq --filter label=labvirt.lab=broken" + kPlace.pid)), "");
  EXPECT_EQ(
      Trim(Sh("ovs-vsctl --bare --columns=name find port external_ids:lab=broken" + kPlace.pid)),
      "");
  EXPECT_FALSE(fs::exists(state + "/mgmt/broken" + kPlace.pid));
  second.reset();
  std::error_code ec;
  fs::remove_all(state, ec);
}

}  // namespace
}  // namespace labvirt
