// The whole engine through the real labvirtd binary and its socket, on real libvirtd and QEMU with
// fixture VMs: deploy with events, console byte-exact both ways, bad deploys that leave nothing,
// stop/start keeping the disk, labvirtd killed and restarted (reconciled), destroy leaving nothing.
#include <libvirt/libvirt.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/fixture_domain.h"
#include "tests/integration/prereq.h"
#include "tools/ctl/client.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::string kPid = std::to_string(::getpid());
const std::string kImageRoot = "/var/lib/libvirt/images/lvtest-lab-" + kPid;
const std::string kStateDir = "/var/lib/libvirt/images/lvtest-lab-" + kPid + "-state";
const std::string kSocket = "/tmp/lvtest-lab-" + kPid + ".sock";
const std::string kLab = "lvt" + kPid;

pid_t g_daemon = -1;

void StartDaemon() {
  g_daemon = ::fork();
  if (g_daemon == 0) {
    std::string log = kStateDir + "/labvirtd.log";
    FILE* f = std::fopen(log.c_str(), "a");
    if (f) ::dup2(fileno(f), STDERR_FILENO);
    ::execl(LABVIRTD_PATH, LABVIRTD_PATH, "--socket", kSocket.c_str(), "--image-root",
            kImageRoot.c_str(), "--state-dir", kStateDir.c_str(), "--boot-budget", "4", nullptr);
    ::_exit(127);
  }
}

// Waits until host.info says healthy (libvirt connected and reconciled).
bool WaitHealthy() {
  for (int i = 0; i < 300; ++i) {
    auto c = ctl::Client::Connect(kSocket);
    if (c.ok()) {
      auto r = c->Call("host.info", "{}");
      if (r.ok() && r->find("\"healthy\":true") != std::string::npos) return true;
    }
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

std::string Call(const std::string& method, const std::string& params) {
  auto c = ctl::Client::Connect(kSocket);
  if (!c.ok()) return "connect failed: " + c.status().message();
  auto r = c->Call(method, params);
  return r.ok() ? *r : "call failed: " + r.status().message();
}

std::string LabJson(const std::string& extra_node = "") {
  return R"({"name":")" + kLab +
         R"(","wait":true,"nodes":[)"
         R"({"name":"r1","kind":"iosv","image":"iosv.qcow2","memory_mb":64},)"
         R"({"name":"r2","kind":"vsrx","image":"vsrx.qcow2","memory_mb":64})" +
         extra_node + R"(],"links":[{"endpoints":["r1:eth1","r2:eth1"]}]})";
}

// "name tag" lines of the OVS ports labvirt made for this lab (via ovs-vsctl, the user's view).
std::vector<std::string> PortsOfLab() {
  std::string cmd =
      "ovs-vsctl --no-wait --format=csv --data=bare --no-headings "
      "--columns=name,tag find port external_ids:lab=" +
      kLab + " 2>/dev/null";
  std::vector<std::string> out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char line[512];
  while (std::fgets(line, sizeof line, p)) {
    std::string l(line);
    if (!l.empty() && l.back() == '\n') l.pop_back();
    out.push_back(l);
  }
  ::pclose(p);
  return out;
}

int DomainsOfLab() {
  virConnectPtr conn = virConnectOpen("qemu:///system");
  if (conn == nullptr) return -1;
  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(conn, &doms, 0), mine = 0;
  for (int i = 0; i < n; ++i) {
    mine += std::string(virDomainGetName(doms[i])).rfind("lv-" + kLab + "-", 0) == 0;
    virDomainFree(doms[i]);
  }
  free(doms);
  virConnectClose(conn);
  return mine;
}

class LabTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fs::create_directories(kImageRoot);
    fs::create_directories(kStateDir);
    for (const char* t : {"iosv", "vsrx"}) {
      std::string err =
          testing::BuildFixtureImage(testing::ConsoleTranscript(t), kImageRoot + "/" + t + ".qcow2",
                                     testing::AcpiMode::kGraceful, testing::Speed::kFast);
      ASSERT_EQ(err, "") << t;
    }
    StartDaemon();
    healthy_ = WaitHealthy();
  }
  static void TearDownTestSuite() {
    if (healthy_) Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
    if (g_daemon > 0) {
      ::kill(g_daemon, SIGTERM);
      ::waitpid(g_daemon, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(kImageRoot, ec);
    fs::remove_all(kStateDir, ec);
  }
  void SetUp() override { LABVIRT_REQUIRE(healthy_, "labvirtd healthy on real libvirtd"); }
  static inline bool healthy_ = false;
};

TEST_F(LabTest, BadDeploysAreRefusedAndLeaveNothing) {
  struct Case {
    std::string params, field;
  };
  const std::vector<Case> cases = {
      {R"({"name":"bad lab","nodes":[]})", "name"},
      {R"({"name":"x","nodes":[{"name":"r;1","kind":"iosv","image":"iosv.qcow2"}]})",
       "nodes[0].name"},
      {R"({"name":"x","nodes":[{"name":"r1","kind":"iosv","image":"../../../etc/passwd"}]})",
       "lab"},
      {R"({"name":"x","nodes":[{"name":"r1","kind":"iosv","image":"missing.qcow2"}]})", "lab"},
      {R"({"name":"x","nodes":[{"name":"r1","kind":"iosv","image":"iosv.qcow2","memory_mb":1}]})",
       "nodes[0].memory_mb"},
      {R"({"name":"x","nodes":[{"name":"r1","kind":"iosv","image":"iosv.qcow2"},{"name":"r1","kind":"iosv","image":"iosv.qcow2"}]})",
       "nodes[1].name"},
      {R"({"name":"x","nodes":[{"name":"r1","kind":"iosv","image":"iosv.qcow2"}],"links":[{"endpoints":["r1:eth1","r1:eth1"]}]})",
       "links[0].endpoints[1]"},
      {R"({"name":"x","nodes":[{"name":"r1","kind":"cat9kv","image":"iosv.qcow2"}]})",
       "nodes[0].kind"},
      {R"({"name":"x","nodes":[{"name":"r1","kind":"iosv","image":"iosv.qcow2","bogus":1}]})",
       "nodes[0].bogus"},
  };
  simdjson::dom::parser parser;
  for (const auto& c : cases) {
    std::string resp = Call("lab.deploy", c.params);
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(resp).get(doc), simdjson::SUCCESS) << resp;
    simdjson::dom::element err;
    ASSERT_EQ(doc["error"].get(err), simdjson::SUCCESS) << c.params << " -> " << resp;
    if (!c.field.empty()) {
      std::string_view field;
      ASSERT_EQ(err["data"]["field"].get(field), simdjson::SUCCESS) << resp;
      EXPECT_EQ(field, c.field) << resp;
    }
  }
  std::string labs = Call("lab.list", "{}");
  EXPECT_EQ(labs.find("\"name\":\"x\""), std::string::npos) << "no partial lab: " << labs;
}

TEST_F(LabTest, DeployReportsEventsAndEveryNodeBecomesReady) {
  auto sub = ctl::Client::Connect(kSocket);
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(sub->Call("events.subscribe", R"({"labs":[")" + kLab + R"("]})").ok());
  std::string resp = Call("lab.deploy", LabJson());
  ASSERT_EQ(resp.find("\"error\""), std::string::npos) << resp;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(resp);
  for (auto n : doc["result"]["nodes"].get_array()) {
    EXPECT_EQ(std::string_view(n["state"].get_string()), "ready") << simdjson::minify(n);
  }
  // The subscriber saw each node go queued -> starting -> booting -> ready, in that order.
  std::map<std::string, std::vector<std::string>> states;
  auto last_is_ready = [&](const char* n) {
    return !states[n].empty() && states[n].back() == "ready";
  };
  while (!last_is_ready("r1") || !last_is_ready("r2")) {
    auto line = sub->ReadLine();
    ASSERT_TRUE(line.ok());
    simdjson::dom::element ev = parser.parse(*line)["params"];
    if (std::string_view(ev["type"].get_string()) != "node.state") continue;
    states[std::string(ev["node"].get_string().value())].emplace_back(
        ev["data"]["state"].get_string().value());
  }
  for (const char* n : {"r1", "r2"}) {
    std::vector<std::string> want = {"queued", "starting", "booting", "ready"};
    EXPECT_EQ(std::vector<std::string>(states[n].end() - 4, states[n].end()), want) << n;
  }
  EXPECT_EQ(DomainsOfLab(), 2);
  // Every NIC is on the bridge; the linked pair (data NIC 0 of both nodes) shares one tag and
  // every other NIC has a tag of its own.
  std::vector<std::string> ports = PortsOfLab();
  ASSERT_EQ(ports.size(), 8u) << "2 nodes x 4 NICs";
  std::map<std::string, int> tags;
  for (const auto& p : ports) tags[p.substr(p.find(',') + 1)]++;
  EXPECT_EQ(tags.size(), 7u) << "one shared link tag + 6 isolated tags";
  int shared = 0;
  for (const auto& [tag, count] : tags) shared += count == 2;
  EXPECT_EQ(shared, 1);
}

TEST_F(LabTest, ConsoleAttachIsByteExactBothWays) {
  std::string expected;
  ASSERT_EQ(testing::ExpectedConsole(testing::ConsoleTranscript("iosv"), &expected), "");
  auto c = ctl::Client::Connect(kSocket);
  ASSERT_TRUE(c.ok());
  auto reply = c->Call("console.attach", R"({"lab":")" + kLab + R"(","node":"r1","mode":"rw"})");
  ASSERT_TRUE(reply.ok());
  ASSERT_EQ(reply->find("\"error\""), std::string::npos) << *reply;
  std::string got = c->TakeBuffered();
  auto read_until = [&](const std::string& needle) {
    char buf[65536];
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (got.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      ssize_t n = ::recv(c->fd(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0)
        got.append(buf, static_cast<size_t>(n));
      else
        std::this_thread::sleep_for(10ms);
    }
    return got.find(needle) != std::string::npos;
  };
  // Late joiner: the scrollback holds the whole boot, from its first byte.
  ASSERT_TRUE(read_until(expected.substr(expected.size() - 8)));
  EXPECT_TRUE(got.substr(0, expected.size()) == expected) << "scrollback differs from the boot";
  got.clear();
  std::string input = "enable\r";
  ASSERT_EQ(::send(c->fd(), input.data(), input.size(), MSG_NOSIGNAL), 7);
  EXPECT_TRUE(read_until("% No password set")) << got;
  EXPECT_NE(got.find("enable"), std::string::npos) << "input echoed through the PTY: " << got;
  // A second read-write attach is refused while the lease is held.
  std::string second = Call("console.attach", R"({"lab":")" + kLab + R"(","node":"r1"})");
  EXPECT_NE(second.find("\"error\""), std::string::npos) << second;
}

TEST_F(LabTest, StopThenStartKeepsTheOverlay) {
  std::string stop = Call("node.stop", R"({"lab":")" + kLab + R"(","node":"r2","wait":true})");
  EXPECT_NE(stop.find("\"state\":\"stopped\""), std::string::npos) << stop;
  std::string overlay = kStateDir + "/overlays/" + kLab + "/r2.qcow2";
  ASSERT_TRUE(fs::exists(overlay));
  auto inode = fs::last_write_time(overlay);
  std::string start = Call("node.start", R"({"lab":")" + kLab + R"(","node":"r2","wait":true})");
  EXPECT_NE(start.find("\"state\":\"ready\""), std::string::npos) << start;
  EXPECT_TRUE(fs::exists(overlay));
  EXPECT_LE(inode, fs::last_write_time(overlay));
  std::string tail = Call("console.tail", R"({"lab":")" + kLab + R"(","node":"r2","bytes":4096})");
  EXPECT_NE(tail.find("login:"), std::string::npos) << "virtlogd's log has the console: " << tail;
}

TEST_F(LabTest, KilledDaemonRestartsAndReconcilesTheLab) {
  ASSERT_EQ(::kill(g_daemon, SIGKILL), 0);
  ::waitpid(g_daemon, nullptr, 0);
  StartDaemon();
  ASSERT_TRUE(WaitHealthy());
  std::string lab;
  for (int i = 0; i < 100; ++i) {
    lab = Call("lab.get", R"({"lab":")" + kLab + R"("})");
    size_t first = lab.find("\"state\":\"ready\"");
    if (first != std::string::npos &&
        lab.find("\"state\":\"ready\"", first + 1) != std::string::npos) {
      break;  // both nodes adopted as ready
    }
    std::this_thread::sleep_for(100ms);
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(lab);
  ASSERT_EQ(doc["result"]["nodes"].get_array().size(), 2u) << lab;
  for (auto n : doc["result"]["nodes"].get_array()) {
    EXPECT_EQ(std::string_view(n["state"].get_string()), "ready") << simdjson::minify(n);
    EXPECT_TRUE(n["console"]["attached"].get_bool().value()) << simdjson::minify(n);
  }
  EXPECT_EQ(doc["result"]["links"].get_array().size(), 1u);
  EXPECT_EQ(DomainsOfLab(), 2) << "nothing lost or duplicated";
}

TEST_F(LabTest, DestroyLeavesNothingBehind) {
  std::string resp = Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
  EXPECT_NE(resp.find("\"destroyed\":2"), std::string::npos) << resp;
  EXPECT_EQ(DomainsOfLab(), 0);
  EXPECT_TRUE(PortsOfLab().empty()) << "no dangling port rows";
  EXPECT_FALSE(fs::exists(kStateDir + "/overlays/" + kLab + "/r1.qcow2"));
  EXPECT_FALSE(fs::exists(kStateDir + "/overlays/" + kLab + "/r2.qcow2"));
  EXPECT_EQ(Call("lab.list", "{}").find(kLab), std::string::npos);
  // Idempotent.
  EXPECT_NE(Call("lab.destroy", R"({"lab":")" + kLab + R"("})").find("\"destroyed\":0"),
            std::string::npos);
}

}  // namespace
}  // namespace labvirt
