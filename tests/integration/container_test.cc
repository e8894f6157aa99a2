// Container nodes end to end: the built labvirtd on a real dockerd, libvirtd/QEMU and OVS deploys
// a lab that mixes container nodes (linux_container, image labvirt/linux-fixture:1 built locally by
// tools/mkcontainer-fixture from Debian's busybox-static, never pulled) with a fixture VM, linked.
// It proves: containers are ready by their console text, read through the same console hub as a
// VM's serial; a container–container link carries a ping; a container's frames reach the VM's tap
// on the link's VLAN; live link create/carrier/delete and NIC hot-add between a container and a VM
// work as between VMs; labvirtd SIGKILLed and restarted adopts the containers; dockerd restarted
// under a running lab is reconnected (the containers die with it and come back by the restart
// policy), and a deploy while it is down fails only its container nodes; destroy leaves no
// container, veth or OVS port. Bad input: an image that is not on the host, a container that exits
// at once and a name taken by a container labvirt did not make each fail their node with a clear
// error while the VM of the same lab comes up.
#include <net/if.h>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/container_support.h"
#include "tests/support/fixture_suite.h"
#include "tests/support/host_view.h"
#include "tests/support/prereq.h"
#include "tests/support/shell.h"
#include "tests/support/suite_place.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::Sh;
using testing::Trim;

const testing::SuitePlace kPlace("ctr");
const std::string kLab = "ctr" + kPlace.pid;
const char* const kImage = testing::kContainerFixtureImage;

std::string Call(const std::string& method, const std::string& params) {
  return testing::CallBounded(kPlace.socket, method, params);
}

std::string NodeParams(const std::string& node) {
  return R"({"lab":")" + kLab + R"(","node":")" + node + R"("})";
}

std::string StateOf(const std::string& node) {
  return testing::NodeStateOf(kPlace.socket, kLab, node);
}

bool WaitState(const std::string& node, const std::string& state, std::chrono::seconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (StateOf(node) == state) return true;
    std::this_thread::sleep_for(200ms);
  }
  return StateOf(node) == state;
}

// A member of node.get's result ("" when missing).
std::string NodeField(const std::string& node, const char* key) {
  simdjson::dom::parser p;
  simdjson::dom::element d;
  std::string_view v;
  if (p.parse(Call("node.get", NodeParams(node))).get(d) || d["result"][key].get(v)) return "";
  return std::string(v);
}

// The host name of `node`'s data NIC `index` (its tap, or its veth's host end).
std::string HostEnd(const std::string& node, size_t index) {
  simdjson::dom::parser p;
  simdjson::dom::element d;
  if (p.parse(Call("node.get", NodeParams(node))).get(d)) return "";
  size_t i = 0;
  simdjson::dom::array nics;
  if (d["result"]["nics"].get(nics)) return "";
  for (auto nic : nics) {
    std::string_view role, tap;
    if (nic["role"].get(role) || role != "data" || nic["tap"].get(tap)) continue;
    if (i++ == index) return std::string(tap);
  }
  return "";
}

// Runs `cmd` in the node's container (the test's view; labvirtd itself never runs docker).
std::string Exec(const std::string& node, const std::string& cmd, int* rc = nullptr) {
  return testing::DockerExec(NodeField(node, "domain"), cmd, rc);
}

int ContainersOfLab() {
  return std::stoi("0" + Trim(Sh("docker ps -aq --filter label=labvirt.lab=" + kLab + " | wc -l")));
}

std::string Nodes(const std::string& extra_nodes) {
  return R"({"name":"c1","kind":"linux_container","image":")" + std::string(kImage) +
         R"(","nics":2},{"name":"c2","kind":"linux_container","image":")" + kImage +
         R"("},{"name":"v1","kind":"iosv","image":"iosv.qcow2","memory_mb":64,"nics":1})" +
         extra_nodes;
}

class ContainerTest : public ::testing::Test {
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
    Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
    daemon_.reset();
    Sh("docker rm -f lvtest-foreign-" + kPlace.pid + " >/dev/null 2>&1");
    kPlace.Remove();
  }
  void SetUp() override {
    LABVIRT_REQUIRE(testing::DockerdAnswers(), "dockerd answering on /var/run/docker.sock");
    LABVIRT_REQUIRE(have_image_, std::string("docker image ") + kImage +
                                     " (tools/mkcontainer-fixture builds it)");
    LABVIRT_REQUIRE(healthy_, "labvirtd healthy on real libvirtd");
  }
  void TearDown() override { Call("lab.destroy", R"({"lab":")" + kLab + R"("})"); }

  static inline std::unique_ptr<testing::DaemonProcess> daemon_;
  static inline bool healthy_ = false;
  static inline bool have_image_ = false;
};

TEST_F(ContainerTest, MixedLabLinksContainersAndAVmAndLeavesNothingBehind) {
  std::string err = testing::DeployReady(
      *daemon_, kPlace.socket, kLab,
      R"({"name":")" + kLab + R"(","wait":true,"nodes":[)" + Nodes("") +
          R"(],"links":[{"endpoints":["c1:eth1","c2:eth1"]},{"endpoints":["c1:eth2","v1:eth1"]}]})",
      {"c1", "c2", "v1"});
  ASSERT_EQ(err, "");
  // Ready by the console text, through the console hub.
  std::string tail = Call("console.tail", NodeParams("c1"));
  EXPECT_NE(tail.find("labvirt container fixture ready"), std::string::npos) << tail;
  // Inside: the kind's interface names, labvirt's MACs, up.
  std::string links = Exec("c1", "ip -o link");
  EXPECT_NE(links.find("eth1"), std::string::npos) << links;
  EXPECT_NE(links.find("eth2"), std::string::npos) << links;
  // Container to container: a ping over the link.
  Exec("c1", "ip addr add 10.9.0.1/24 dev eth1");
  Exec("c2", "ip addr add 10.9.0.2/24 dev eth1");
  int rc = -1;
  std::string ping = Exec("c1", "ping -c 2 -W 3 10.9.0.2", &rc);
  EXPECT_EQ(rc, 0) << ping;
  // Container to VM: the same VLAN tag on both ends, and c1's frames seen on the VM's tap.
  std::string c1_end = HostEnd("c1", 1), v1_tap = HostEnd("v1", 0);
  ASSERT_FALSE(c1_end.empty());
  ASSERT_FALSE(v1_tap.empty());
  std::string tag_c = Trim(Sh("ovs-vsctl get port " + c1_end + " tag"));
  EXPECT_EQ(tag_c, Trim(Sh("ovs-vsctl get port " + v1_tap + " tag")));
  EXPECT_NE(tag_c, Trim(Sh("ovs-vsctl get port " + HostEnd("c1", 0) + " tag")));
  Sh("rm -f " + kPlace.state_dir + "/seen.txt; (timeout 10 tcpdump -l -n -c 1 -i " + v1_tap +
     " arp and host 10.9.1.2 > " + kPlace.state_dir + "/seen.txt 2>/dev/null &)");
  std::this_thread::sleep_for(1500ms);
  Exec("c1", "ip addr add 10.9.1.1/24 dev eth2; ping -c 3 -W 1 10.9.1.2");
  std::this_thread::sleep_for(1s);
  EXPECT_NE(Sh("cat " + kPlace.state_dir + "/seen.txt").find("10.9.1.2"), std::string::npos)
      << "c1's ARP did not reach the VM's tap " << v1_tap;

  // labvirtd SIGKILLed and restarted: the containers are adopted, still ready and still linked.
  daemon_->Kill();
  daemon_->Start();
  ASSERT_TRUE(testing::WaitHealthy(kPlace.socket, 60s));
  EXPECT_TRUE(WaitState("c1", "ready", 60s)) << StateOf("c1");
  EXPECT_TRUE(WaitState("v1", "ready", 60s)) << StateOf("v1");
  ping = Exec("c1", "ping -c 1 -W 3 10.9.0.2", &rc);
  EXPECT_EQ(rc, 0) << "after the restart: " << ping;
  std::string tail2 = Call("console.tail", NodeParams("c2"));
  EXPECT_EQ(tail2.find("\"error\""), std::string::npos) << tail2;

  // A stop and a start: the veth pairs come back, the link carries again.
  std::string stopped = Call("node.stop", R"({"lab":")" + kLab + R"(","node":"c2","wait":true})");
  EXPECT_TRUE(WaitState("c2", "stopped", 30s)) << stopped;
  std::string c2_end = HostEnd("c2", 0);
  for (int i = 0; i < 50 && ::if_nametoindex(c2_end.c_str()) != 0; ++i) {
    std::this_thread::sleep_for(100ms);  // the kernel removes a dead namespace's links shortly
  }
  EXPECT_EQ(::if_nametoindex(c2_end.c_str()), 0u)
      << "the veth went with the container: " << Sh("ip -br link; docker ps -a") << StateOf("c2");
  Call("node.start", R"({"lab":")" + kLab + R"(","node":"c2","wait":true})");
  ASSERT_TRUE(WaitState("c2", "ready", 60s)) << StateOf("c2");
  Exec("c2", "ip addr add 10.9.0.2/24 dev eth1");
  ping = Exec("c1", "ping -c 2 -W 3 10.9.0.2", &rc);
  EXPECT_EQ(rc, 0) << "after c2's restart: " << ping;

  std::vector<std::string> ends = {HostEnd("c1", 0), HostEnd("c1", 1), HostEnd("c2", 0)};
  std::string gone = Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
  EXPECT_EQ(gone.find("\"error\""), std::string::npos) << gone;
  EXPECT_EQ(ContainersOfLab(), 0) << "a container outlived the lab";
  for (const auto& end : ends) {
    EXPECT_EQ(::if_nametoindex(end.c_str()), 0u) << "veth " << end << " outlived the lab";
  }
  EXPECT_TRUE(testing::PortsOfLab(kLab).empty()) << "an OVS port outlived the lab";
  EXPECT_TRUE(fs::is_empty(kPlace.state_dir + "/containers")) << "a definition outlived the lab";
}

// The tag of the OVS port `port` ("" when it has none or is gone).
std::string TagOf(const std::string& port) {
  return Trim(Sh("ovs-vsctl get port " + port + " tag"));
}

// Whether an ARP for `ip` sent from `node`'s data NIC `dev` (addressed `addr`) reaches `tap`.
bool ArpReaches(const std::string& node, const std::string& dev, const std::string& addr,
                const std::string& ip, const std::string& tap) {
  const std::string seen = kPlace.state_dir + "/arp-" + tap + ".txt";
  Sh("rm -f " + seen + "; (timeout 8 tcpdump -l -n -c 1 -i " + tap + " arp and host " + ip + " > " +
     seen + " 2>/dev/null &)");
  std::this_thread::sleep_for(1500ms);
  Exec(node, "ip addr replace " + addr + " dev " + dev + "; ping -c 3 -W 1 " + ip);
  std::this_thread::sleep_for(1s);
  return Sh("cat " + seen).find(ip) != std::string::npos;
}

// Live changes between a container and a VM work as between two VMs: link.create puts both ends on
// one tag (the container's frames reach the VM's tap), link.set_state down isolates them and up
// joins them again, link.delete parts them; node.nic.add gives a running container its next
// interface, with labvirt's MAC, which a new link then uses.
TEST_F(ContainerTest, LiveLinksAndNicsBetweenAContainerAndAVmWorkLikeVmLinks) {
  std::string err = testing::DeployReady(
      *daemon_, kPlace.socket, kLab,
      R"({"name":")" + kLab + R"(","wait":true,"nodes":[)" + Nodes("") + "]}", {"c1", "c2", "v1"});
  ASSERT_EQ(err, "");
  std::string c1_end = HostEnd("c1", 0), v1_tap = HostEnd("v1", 0);
  ASSERT_FALSE(c1_end.empty());
  ASSERT_FALSE(v1_tap.empty());
  EXPECT_NE(TagOf(c1_end), TagOf(v1_tap)) << "unlinked ends share a tag";

  std::string made =
      Call("link.create", R"({"lab":")" + kLab + R"(","endpoints":["c1:eth1","v1:eth1"]})");
  simdjson::dom::parser parser;
  std::string_view id;
  ASSERT_EQ(parser.parse(made)["result"]["id"].get(id), simdjson::SUCCESS) << made;
  const std::string link(id);
  EXPECT_EQ(TagOf(c1_end), TagOf(v1_tap));
  EXPECT_TRUE(ArpReaches("c1", "eth1", "10.9.2.1/24", "10.9.2.2", v1_tap))
      << "c1's ARP did not reach the VM's tap over the new link";

  std::string down = Call("link.set_state",
                          R"({"lab":")" + kLab + R"(","link":")" + link + R"(","state":"down"})");
  EXPECT_EQ(down.find("\"error\""), std::string::npos) << down;
  EXPECT_NE(TagOf(c1_end), TagOf(v1_tap)) << "carrier down keeps the ends apart";
  EXPECT_FALSE(ArpReaches("c1", "eth1", "10.9.2.1/24", "10.9.2.3", v1_tap));
  Call("link.set_state", R"({"lab":")" + kLab + R"(","link":")" + link + R"(","state":"up"})");
  EXPECT_EQ(TagOf(c1_end), TagOf(v1_tap));

  std::string deleted =
      Call("link.delete", R"({"lab":")" + kLab + R"(","link":")" + link + R"("})");
  EXPECT_EQ(deleted.find("\"error\""), std::string::npos) << deleted;
  EXPECT_NE(TagOf(c1_end), TagOf(v1_tap)) << "a deleted link's ends still share a tag";

  // c2 has one data NIC; a second one appears in the running container as eth2.
  std::string added = Call("node.nic.add", NodeParams("c2"));
  EXPECT_EQ(added.find("\"error\""), std::string::npos) << added;
  std::string c2_new = HostEnd("c2", 1);
  ASSERT_FALSE(c2_new.empty()) << Call("node.get", NodeParams("c2"));
  EXPECT_NE(::if_nametoindex(c2_new.c_str()), 0u) << "the new veth's host end";
  std::string inside = Exec("c2", "cat /sys/class/net/eth2/address");
  EXPECT_FALSE(Trim(inside).empty()) << Exec("c2", "ip -o link");
  EXPECT_NE(Call("node.get", NodeParams("c2")).find(Trim(inside)), std::string::npos)
      << "eth2's MAC is not the one labvirt gave it: " << inside;
  made = Call("link.create", R"({"lab":")" + kLab + R"(","endpoints":["c2:eth2","v1:eth1"]})");
  EXPECT_EQ(made.find("\"error\""), std::string::npos) << made;
  EXPECT_EQ(TagOf(c2_new), TagOf(v1_tap));
  EXPECT_TRUE(ArpReaches("c2", "eth2", "10.9.3.1/24", "10.9.3.2", v1_tap))
      << "c2's new interface does not reach the VM";
}

TEST_F(ContainerTest, BadContainersFailTheirNodeClearlyAndTheVmComesUp) {
  // A container named as c3's will be, made by someone else: its name must not be taken over.
  std::string probe = Call("lab.deploy", R"({"name":")" + kLab +
                                             R"(","wait":true,"nodes":[{"name":"c3","kind":)"
                                             R"("linux_container","image":")" +
                                             kImage + R"("}]})");
  std::string c3 = NodeField("c3", "domain");
  ASSERT_FALSE(c3.empty()) << probe;
  Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
  int rc = -1;
  Sh("docker create --name " + c3 + std::string(" ") + kImage + " >/dev/null", &rc);
  ASSERT_EQ(rc, 0);
  // An image whose container exits at once (made from the fixture, never pulled).
  const std::string quits = "lvtest-quits:" + kPlace.pid;
  Sh("docker rm -f lvtest-q-" + kPlace.pid + " >/dev/null 2>&1; docker create --name lvtest-q-" +
         kPlace.pid + " " + kImage +
         " >/dev/null && docker commit --change 'ENTRYPOINT [\"/bin/sh\", \"-c\", \"exit 3\"]' " +
         "--change 'CMD []' lvtest-q-" + kPlace.pid + " " + quits +
         " >/dev/null && docker rm lvtest-q-" + kPlace.pid + " >/dev/null",
     &rc);
  ASSERT_EQ(rc, 0);

  std::string deployed =
      Call("lab.deploy",
           R"({"name":")" + kLab + R"(","wait":true,"nodes":[)" +
               R"({"name":"v1","kind":"iosv","image":"iosv.qcow2","memory_mb":64,"nics":1},)"
               R"({"name":"missing","kind":"linux_container","image":"labvirt/not-here:9"},)"
               R"({"name":"quits","kind":"linux_container","image":")" +
               quits +
               R"("},)"
               R"({"name":"c3","kind":"linux_container","image":")" +
               kImage + R"("},)" +
               R"({"name":"vmimg","kind":"linux_container","image":"iosv.qcow2"}]})");
  EXPECT_EQ(StateOf("v1"), "ready") << deployed;
  EXPECT_EQ(StateOf("missing"), "failed");
  EXPECT_NE(NodeField("missing", "reason").find("is not on this host"), std::string::npos)
      << NodeField("missing", "reason");
  // It exits before its NICs are plugged ("exited at once") or just after (a crash while booting,
  // and the restart policy's retries exit too); either way the node ends failed, saying why.
  EXPECT_TRUE(WaitState("quits", "failed", 120s)) << StateOf("quits");
  std::string quit_reason = NodeField("quits", "reason");
  EXPECT_TRUE(quit_reason.find("exited at once") != std::string::npos ||
              quit_reason.find("restart policy exhausted") != std::string::npos)
      << quit_reason;
  EXPECT_EQ(StateOf("c3"), "failed");
  EXPECT_NE(NodeField("c3", "reason").find("labvirt did not make"), std::string::npos)
      << NodeField("c3", "reason");
  EXPECT_EQ(StateOf("vmimg"), "failed");
  EXPECT_NE(NodeField("vmimg", "reason").find("not a container image"), std::string::npos)
      << NodeField("vmimg", "reason");
  // The foreign container is untouched.
  EXPECT_EQ(Trim(Sh("docker inspect -f '{{.State.Status}}' " + c3)), "created");
  Sh("docker rm -f " + c3 + " >/dev/null 2>&1; docker rmi " + quits + " >/dev/null 2>&1");
  Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
  EXPECT_EQ(ContainersOfLab(), 0);
}

TEST_F(ContainerTest, DockerdRestartIsReconnectedAndTheLabComesBack) {
  std::string err =
      testing::DeployReady(*daemon_, kPlace.socket, kLab,
                           R"({"name":")" + kLab + R"(","wait":true,"nodes":[)" + Nodes("") +
                               R"(],"links":[{"endpoints":["c1:eth1","c2:eth1"]}]})",
                           {"c1", "c2", "v1"});
  ASSERT_EQ(err, "");
  // dockerd SIGKILLed and started again (tools/setup-host --dockerd, as CI set it up).
  int rc = -1;
  Sh("kill -9 $(cat /var/run/docker.pid); sleep 1", &rc);
  // A deploy while dockerd is down: its container node fails saying why, its VM comes up, and
  // nothing of the container is left once dockerd is back and the lab is gone.
  const std::string down_lab = "down" + kPlace.pid;
  std::string down =
      Call("lab.deploy",
           R"({"name":")" + down_lab + R"(","wait":true,"nodes":[)" +
               R"({"name":"vd","kind":"iosv","image":"iosv.qcow2","memory_mb":64,"nics":1},)"
               R"({"name":"cd","kind":"linux_container","image":")" +
               kImage + R"("}]})");
  EXPECT_EQ(testing::NodeStateOf(kPlace.socket, down_lab, "vd"), "ready") << down;
  EXPECT_EQ(testing::NodeStateOf(kPlace.socket, down_lab, "cd"), "failed") << down;
  EXPECT_NE(down.find("container: "), std::string::npos) << down;
  std::string restarted =
      Sh(std::string(LABVIRT_SOURCE_DIR) + "/tools/setup-host --dockerd 2>&1", &rc);
  ASSERT_EQ(rc, 0) << "dockerd did not restart: " << restarted;
  std::string gone = Call("lab.destroy", R"({"lab":")" + down_lab + R"("})");
  EXPECT_EQ(gone.find("\"error\""), std::string::npos) << gone;
  EXPECT_EQ(Trim(Sh("docker ps -aq --filter label=labvirt.lab=" + down_lab)), "");
  // The containers died with dockerd (no live-restore): labvirt's restart policy brings them back.
  EXPECT_TRUE(WaitState("c1", "ready", 90s)) << StateOf("c1") << " " << NodeField("c1", "reason");
  EXPECT_TRUE(WaitState("c2", "ready", 90s)) << StateOf("c2");
  EXPECT_EQ(StateOf("v1"), "ready") << "a VM does not care about dockerd";
  Exec("c1", "ip addr add 10.9.0.1/24 dev eth1");
  Exec("c2", "ip addr add 10.9.0.2/24 dev eth1");
  std::string ping = Exec("c1", "ping -c 2 -W 3 10.9.0.2", &rc);
  EXPECT_EQ(rc, 0) << ping;
}

}  // namespace
}  // namespace labvirt
