// Day-0 configuration end to end: the built labvirtd on real libvirtd, QEMU and OVS deploys IOSv
// nodes (kind cisco_iosv: a FAT disk with ios_config.txt) from a fixture whose transcript has
// @@showfat, so the guest prints on its console the first file it finds on its config disk, read
// through the BIOS like a device reads it. The test asserts that the console shows exactly the
// config the client sent, that a node without a config sees no medium, that a wipe rebuilds the
// medium, and that bad configs are refused naming the node and the cause with nothing written.
// LABVIRT_TEST_ACCEL=tcg runs labvirtd's nodes under TCG (--accel tcg).
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "reactor/base/json_writer.h"
#include "tests/support/fixture_suite.h"
#include "tests/support/prereq.h"
#include "tests/support/suite_daemon.h"
#include "tests/support/suite_place.h"
#include "tools/ctl/client.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const testing::SuitePlace kPlace("day0");

// Between these two lines the fixture prints its config file byte for byte.
const char kBefore[] = "iosv-fixture: reading flash1:\r\n";
const char kAfter[] = "\r\niosv-fixture: config end\r\n";
const char kTranscript[] =
    "iosv-fixture: reading flash1:\n"
    "@@showfat\n"
    "\n"
    "iosv-fixture: config end\n"
    "@@prompt Router>\n";

// A config with what a real one has: indentation, '!' comments, CRLF-free lines, non-ASCII text.
const char kConfig[] =
    "hostname r1\n"
    "!\n"
    "interface GigabitEthernet0/1\n"
    " description uplink to Zürich — core\n"
    " ip address 10.0.12.1 255.255.255.0\n"
    " no shutdown\n"
    "!\n"
    "end\n";

// One request, answered within the suite's call timeout (a stuck labvirtd fails the test instead
// of hanging it).
std::string Call(const std::string& method, const std::string& params) {
  return testing::CallBounded(kPlace.socket, method, params);
}

std::string NodeParams(const std::string& lab, const std::string& node) {
  return R"({"lab":")" + lab + R"(","node":")" + node + R"("})";
}

// One node of lab.deploy's params; `config` empty: no startup_config member.
std::string NodeJson(const std::string& name, const std::string& kind, const std::string& config,
                     bool has_config, bool start = true) {
  JsonWriter w;
  w.BeginObject().Key("name").String(name).Key("kind").String(kind);
  w.Key("image").String("iosv.qcow2").Key("memory_mb").Int(64).Key("nics").Int(1);
  w.Key("start").Bool(start);
  if (has_config) w.Key("startup_config").String(config);
  w.EndObject();
  return w.Take();
}

std::string DeployParams(const std::string& lab, const std::vector<std::string>& nodes) {
  std::string out = R"({"lab":")" + lab + R"(","wait":true,"nodes":[)";
  for (size_t i = 0; i < nodes.size(); ++i) out += (i ? "," : "") + nodes[i];
  return out + "]}";
}

struct NodeView {
  std::string state, reason, config_method, config_state;
  int64_t config_bytes = -1;
};

NodeView Get(const std::string& lab, const std::string& node) {
  simdjson::dom::parser p;
  simdjson::dom::element d;
  NodeView v;
  std::string_view state, reason, method, cstate;
  if (p.parse(Call("node.get", NodeParams(lab, node))).get(d) || d["result"]["state"].get(state) ||
      d["result"]["reason"].get(reason) || d["result"]["config"]["method"].get(method) ||
      d["result"]["config"]["state"].get(cstate) ||
      d["result"]["config"]["bytes"].get(v.config_bytes)) {
    return v;
  }
  v.state = state;
  v.reason = reason;
  v.config_method = method;
  v.config_state = cstate;
  return v;
}

bool WaitState(const std::string& lab, const std::string& node, const std::string& state,
               std::chrono::seconds timeout = 90s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Get(lab, node).state == state) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// Everything the node's console has shown so far (console.attach's scrollback), read until the
// occurrence number `count` of kAfter has arrived or `timeout` passed.
std::string ConsoleText(const std::string& lab, const std::string& node, int count,
                        std::chrono::seconds timeout = 30s) {
  auto c = ctl::Client::Connect(kPlace.socket);
  if (!c.ok()) return "";
  auto reply =
      c->Call("console.attach", R"({"lab":")" + lab + R"(","node":")" + node + R"(","mode":"ro"})");
  if (!reply.ok() || reply->find("\"error\"") != std::string::npos) return "";
  std::string got = c->TakeBuffered();
  auto seen = [&] {
    int n = 0;
    for (size_t at = got.find(kAfter); at != std::string::npos; at = got.find(kAfter, at + 1)) ++n;
    return n >= count;
  };
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (!seen() && std::chrono::steady_clock::now() < deadline) {
    ssize_t n = ::recv(c->fd(), buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else {
      std::this_thread::sleep_for(20ms);
    }
  }
  return got;
}

// Runs `cmd` through the shell; its stdout and stderr, and its exit status in *rc.
std::string Shell(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// The domain's persistent XML, as libvirt keeps it.
std::string DomainXml(const std::string& lab, const std::string& node) {
  simdjson::dom::parser p;
  simdjson::dom::element d;
  std::string_view domain;
  if (p.parse(Call("node.get", NodeParams(lab, node))).get(d) ||
      d["result"]["domain"].get(domain)) {
    return "";
  }
  int rc = 0;
  return Shell("virsh -c qemu:///system dumpxml --inactive " + std::string(domain), &rc);
}

// What the guest printed between kBefore and kAfter, boot number `boot` (1-based).
std::string GuestSaw(const std::string& console, int boot) {
  size_t at = std::string::npos;
  for (int i = 0; i < boot; ++i) {
    at = console.find(kBefore, at == std::string::npos ? 0 : at + 1);
    if (at == std::string::npos) return "<no boot " + std::to_string(boot) + ">";
  }
  size_t begin = at + std::strlen(kBefore);
  size_t end = console.find(kAfter, begin);
  return end == std::string::npos ? "<unterminated>" : console.substr(begin, end - begin);
}

class Day0ConfigTest : public ::testing::Test {
 protected:
  static inline const testing::FixtureSuite kSuite{kPlace, "iosv.qcow2", kTranscript};
  static void SetUpTestSuite() {
    std::string err = testing::StartFixtureSuite(kSuite, &daemon_);
    healthy_ = err.empty();
    if (!healthy_) std::fprintf(stderr, "%s\n", err.c_str());
  }
  // (Re)starts labvirtd on the suite's socket and state dir; "" once healthy, else why not.
  static std::string StartDaemon() { return testing::StartSuiteDaemon(kSuite, &daemon_); }
  static void TearDownTestSuite() {
    daemon_.reset();
    kPlace.Remove();
  }
  void SetUp() override { LABVIRT_REQUIRE(healthy_, "labvirtd healthy on real libvirtd"); }
  void TearDown() override {
    for (const auto& lab : labs_) Call("lab.destroy", R"({"lab":")" + lab + R"("})");
  }
  std::string Lab(const std::string& suffix) {
    labs_.push_back("d0" + kPlace.pid + suffix);
    return labs_.back();
  }
  static std::string Day0Dir(const std::string& lab) { return kPlace.state_dir + "/day0/" + lab; }

  std::vector<std::string> labs_;
  static inline std::unique_ptr<testing::DaemonProcess> daemon_;
  static inline bool healthy_ = false;
};

TEST_F(Day0ConfigTest, TheGuestSeesExactlyItsConfigAndAWipeMakesTheMediumAgain) {
  const std::string lab = Lab("g");
  std::string deployed =
      Call("lab.deploy", DeployParams(lab, {NodeJson("r1", "iosv", kConfig, true),
                                            NodeJson("r2", "iosv", "", false)}));
  ASSERT_EQ(deployed.find("\"error\""), std::string::npos) << deployed << daemon_->Warnings();
  ASSERT_TRUE(WaitState(lab, "r1", "ready")) << Get(lab, "r1").reason;
  NodeView r1 = Get(lab, "r1");
  EXPECT_EQ(r1.config_method, "fat");
  EXPECT_EQ(r1.config_state, "attached");
  EXPECT_EQ(r1.config_bytes, static_cast<int64_t>(std::strlen(kConfig)));
  EXPECT_EQ(GuestSaw(ConsoleText(lab, "r1", 1), 1), kConfig);
  std::string xml = DomainXml(lab, "r1");
  EXPECT_NE(xml.find(Day0Dir(lab) + "/r1.img"), std::string::npos) << xml;
  if (testing::NodesUnderTcg()) {
    EXPECT_NE(xml.find("<domain type='qemu'"), std::string::npos) << xml;
  }
  // The other node has no medium, and the guest says so.
  ASSERT_TRUE(WaitState(lab, "r2", "ready")) << Get(lab, "r2").reason;
  NodeView r2 = Get(lab, "r2");
  EXPECT_EQ(r2.config_state, "none");
  EXPECT_EQ(r2.config_bytes, 0);
  EXPECT_EQ(GuestSaw(ConsoleText(lab, "r2", 1), 1), "<no config medium>");

  // A wipe makes the medium again from the saved text: the same config on the next boot.
  std::string medium = Day0Dir(lab) + "/r1.img";
  ASSERT_TRUE(fs::exists(medium));
  std::ofstream(medium, std::ios::in | std::ios::out).write("garbage!", 8);  // the guest's writes
  std::string stopped = Call("node.stop", R"({"lab":")" + lab +
                                              R"(","node":"r1","force":true,)"
                                              R"("wait":true})");
  ASSERT_EQ(stopped.find("\"error\""), std::string::npos) << stopped;
  EXPECT_EQ(Get(lab, "r1").config_state, "written");
  std::string wiped = Call("node.wipe", NodeParams(lab, "r1"));
  ASSERT_EQ(wiped.find("\"error\""), std::string::npos) << wiped;
  std::string started = Call("node.start", R"({"lab":")" + lab + R"(","node":"r1","wait":true})");
  ASSERT_EQ(started.find("\"error\""), std::string::npos) << started;
  ASSERT_TRUE(WaitState(lab, "r1", "ready")) << Get(lab, "r1").reason;
  EXPECT_EQ(GuestSaw(ConsoleText(lab, "r1", 2), 2), kConfig);

  // Destroying the lab removes its day-0 files.
  std::string destroyed = Call("lab.destroy", R"({"lab":")" + lab + R"("})");
  ASSERT_EQ(destroyed.find("\"error\""), std::string::npos) << destroyed;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (fs::exists(medium) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_FALSE(fs::exists(medium));
  EXPECT_FALSE(fs::exists(Day0Dir(lab) + "/r1.cfg"));
}

// Each bad config is refused with the node's field, the node's name and the cause; nothing of the
// deploy is made, and a lab that was there is left as it was.
TEST_F(Day0ConfigTest, BadConfigsAreRefusedNamingTheNodeAndNothingIsWritten) {
  const std::string lab = Lab("b");
  std::string deployed =
      Call("lab.deploy", DeployParams(lab, {NodeJson("keep", "iosv", kConfig, true, false)}));
  ASSERT_EQ(deployed.find("\"error\""), std::string::npos) << deployed;
  NodeView kept = Get(lab, "keep");
  ASSERT_EQ(kept.config_state, "written");  // defined with its medium, not started
  struct Case {
    std::string kind, config, cause;
  };
  const Case cases[] = {
      {"iosv", std::string(262145, 'x'), "takes at most 262144"},
      {"iosv", std::string("hostname r9\n\x01\x02\x03", 15), "control byte 1 at offset 12"},
      {"iosv", std::string("binary\0data", 11), "control byte 0"},
      {"iosv", "", "is empty"},
      {"linux", kConfig, "takes no startup config"},
      {"veos", "ok\n" + std::string(1025, 'x') + "\n", "at most 1024 bytes a line"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.cause);
    std::string answer =
        Call("lab.deploy", DeployParams(lab, {NodeJson("keep", "iosv", kConfig, true, false),
                                              NodeJson("bad", c.kind, c.config, true, false)}));
    EXPECT_NE(answer.find("\"field\":\"nodes[1].startup_config\""), std::string::npos) << answer;
    EXPECT_NE(answer.find("node bad: "), std::string::npos) << answer;
    EXPECT_NE(answer.find(c.cause), std::string::npos) << answer;
    EXPECT_FALSE(fs::exists(Day0Dir(lab) + "/bad.cfg"));
    EXPECT_FALSE(fs::exists(Day0Dir(lab) + "/bad.img"));
  }
  EXPECT_EQ(Get(lab, "bad").state, "");  // no such node
  kept = Get(lab, "keep");
  EXPECT_EQ(kept.state, "defined");
  EXPECT_EQ(kept.config_state, "written");
  EXPECT_EQ(kept.config_bytes, static_cast<int64_t>(std::strlen(kConfig)));
  std::ifstream text(Day0Dir(lab) + "/keep.cfg");
  std::stringstream s;
  s << text.rdbuf();
  EXPECT_EQ(s.str(), kConfig);
  // A day-0 file no node claims is a leftover for lab.cleanup; the kept node's files are not (a
  // dry run: the sweep's removal is the one overlays and logs go through).
  std::ofstream(Day0Dir(lab) + "/ghost.img") << "x";
  std::string found = Call("lab.cleanup", R"({"dry_run":true})");
  size_t day0 = found.find("\"day0\":[");
  ASSERT_NE(day0, std::string::npos) << found;
  size_t ghost = found.find(Day0Dir(lab) + "/ghost.img", day0);
  EXPECT_LT(ghost, found.find("\"domains\"", day0)) << "listed under day0: " << found;
  EXPECT_EQ(found.find("keep.cfg"), std::string::npos) << found;
  EXPECT_EQ(found.find("keep.img"), std::string::npos) << found;
}

// A labvirtd restart adopts the node from its domain's metadata with its config: the medium stays
// attached and the guest still finds it when the node starts after the restart.
TEST_F(Day0ConfigTest, TheConfigSurvivesALabvirtdRestart) {
  const std::string lab = Lab("r");
  std::string deployed =
      Call("lab.deploy", DeployParams(lab, {NodeJson("r1", "iosv", kConfig, true, false)}));
  ASSERT_EQ(deployed.find("\"error\""), std::string::npos) << deployed;
  std::string err = StartDaemon();
  ASSERT_EQ(err, "");
  NodeView r1 = Get(lab, "r1");
  EXPECT_EQ(r1.config_state, "written");
  EXPECT_EQ(r1.config_bytes, static_cast<int64_t>(std::strlen(kConfig)));
  std::string started = Call("node.start", R"({"lab":")" + lab + R"(","node":"r1","wait":true})");
  ASSERT_EQ(started.find("\"error\""), std::string::npos) << started;
  ASSERT_TRUE(WaitState(lab, "r1", "ready")) << Get(lab, "r1").reason;
  EXPECT_EQ(Get(lab, "r1").config_state, "attached");
  EXPECT_EQ(GuestSaw(ConsoleText(lab, "r1", 1), 1), kConfig);
}

// An ISO kind (CSR1000v: iosxe_config.txt on a CD-ROM) gets a CD-ROM whose file holds the config
// (read back with isoinfo; the fixture reads FAT only, so this node is not booted).
TEST_F(Day0ConfigTest, AnIsoKindGetsItsConfigOnACdrom) {
  const std::string lab = Lab("i");
  std::string deployed =
      Call("lab.deploy", DeployParams(lab, {NodeJson("c1", "csr1000v", kConfig, true, false)}));
  ASSERT_EQ(deployed.find("\"error\""), std::string::npos) << deployed;
  NodeView c1 = Get(lab, "c1");
  EXPECT_EQ(c1.config_method, "iso");
  EXPECT_EQ(c1.config_state, "written");
  std::string iso = Day0Dir(lab) + "/c1.iso";
  std::string xml = DomainXml(lab, "c1");
  EXPECT_NE(xml.find("device='cdrom'"), std::string::npos) << xml;
  EXPECT_NE(xml.find(iso), std::string::npos) << xml;
  int rc = -1;
  if (Shell("command -v isoinfo", &rc); rc != 0) GTEST_SKIP() << "isoinfo missing (genisoimage)";
  EXPECT_EQ(Shell("isoinfo -R -i " + iso + " -x /iosxe_config.txt", &rc), kConfig);
}

// labvirtctl reads a topology's startup-config file itself (relative to the topology file) and
// sends the text; a missing file is its error, naming the file, and nothing reaches labvirtd.
TEST_F(Day0ConfigTest, LabvirtctlReadsStartupConfigFilesNextToTheTopology) {
  const std::string lab = Lab("c");
  std::string dir = kPlace.state_dir + "/topo-" + lab;
  fs::create_directories(dir + "/configs");
  std::ofstream(dir + "/configs/r1.cfg") << kConfig;
  std::ofstream(dir + "/lab.yaml") << "name: " << lab << "\ntopology:\n  nodes:\n"
                                   << "    r1: {kind: iosv, image: iosv.qcow2, memory_mb: 64, "
                                      "nics: 1, start: false, startup-config: configs/r1.cfg}\n";
  std::ofstream(dir + "/missing.yaml")
      << "name: " << lab << "x\ntopology:\n  nodes:\n"
      << "    r1: {kind: iosv, image: iosv.qcow2, startup-config: configs/nope.cfg}\n";
  std::string ctl = std::string(LABVIRTCTL_PATH) + " --socket " + kPlace.socket + " deploy ";
  int rc = -1;
  std::string out = Shell("timeout 60 " + ctl + dir + "/lab.yaml", &rc);
  EXPECT_EQ(rc, 0) << out;
  NodeView r1 = Get(lab, "r1");
  EXPECT_EQ(r1.config_state, "written") << out;
  EXPECT_EQ(r1.config_bytes, static_cast<int64_t>(std::strlen(kConfig)));
  std::ifstream text(Day0Dir(lab) + "/r1.cfg");
  std::stringstream s;
  s << text.rdbuf();
  EXPECT_EQ(s.str(), kConfig);

  out = Shell("timeout 60 " + ctl + dir + "/missing.yaml", &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("startup-config file '" + dir + "/configs/nope.cfg' cannot be read"),
            std::string::npos)
      << out;
  EXPECT_NE(Call("lab.get", R"({"lab":")" + lab + R"(x"})").find("\"error\""), std::string::npos);
}

}  // namespace
}  // namespace labvirt
