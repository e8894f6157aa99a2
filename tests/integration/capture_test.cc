// Live captures through the real labvirtd on fixture VMs linked on the real OVS bridge (userspace
// datapath): frames injected on the link's VLAN from an OVS internal port appear in the pcapng
// stream (parsed by the test's reader and by tcpdump), a filter keeps only what it should, two
// captures run at once (one through labvirtctl), bad requests are refused naming the field, a
// client that leaves mid-capture leaves no packet socket behind, and a stopped node is refused.
// And link.set_impairment on the same link: bad values named, netem applied or refused precisely.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/daemon_process.h"
#include "tests/support/deadline.h"
#include "tests/support/fixture_domain.h"
#include "tests/support/host_daemons.h"
#include "tests/support/pcapng_reader.h"
#include "tests/support/prereq.h"
#include "tests/support/shell.h"
#include "tests/support/suite_place.h"
#include "tools/ctl/client.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;
using testing::Sh;
namespace fs = std::filesystem;

const testing::SuitePlace kPlace("cap");
const std::string kLab = "lvc" + kPlace.pid;
const std::string kInject = "lvinj" + std::to_string(::getpid() % 100000);
const std::string kLink = "r1:GigabitEthernet0/0--r2:GigabitEthernet0/0";  // vendor names

std::unique_ptr<testing::DaemonProcess> g_daemon;

std::string Call(const std::string& method, const std::string& params) {
  return testing::CallBounded(kPlace.socket, method, params);
}

int PacketSocketsOn(unsigned ifindex) {
  std::ifstream f("/proc/net/packet");
  std::string line;
  std::getline(f, line);
  int n = 0;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string sk, ref, type, proto;
    unsigned iface = 0;
    in >> sk >> ref >> type >> proto >> iface;
    n += iface == ifindex;
  }
  return n;
}

std::string Frame(uint16_t ethertype, char marker) {
  std::string f(80, marker);
  f.replace(0, 6, std::string(6, '\xFF'));
  f.replace(6, 6, std::string("\x02\x00\x00\x00\x00\x07", 6));
  f[12] = static_cast<char>(ethertype >> 8);
  f[13] = static_cast<char>(ethertype & 0xFF);
  return f;
}

// Sends `frames` into the bridge from the injection port (on the link's VLAN).
void Inject(const std::vector<std::string>& frames) {
  UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(fd.valid());
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = static_cast<int>(::if_nametoindex(kInject.c_str()));
  to.sll_halen = 6;
  for (const auto& f : frames) {
    ASSERT_EQ(
        ::sendto(fd.get(), f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
        static_cast<ssize_t>(f.size()));
  }
}

// A capture started over its own connection; Read() collects the stream until it ends.
struct Capture {
  explicit Capture(const std::string& method, const std::string& params) {
    auto c = testing::ConnectBounded(kPlace.socket, 20s);
    if (!c.ok()) return;
    client = std::make_unique<ctl::Client>(std::move(c).value());
    auto r = client->Call(method, params);
    reply = r.ok() ? *r : r.status().ToString();
    bytes = client->TakeBuffered();
  }
  bool ok() const { return client && reply.find("\"result\"") != std::string::npos; }
  // Reads until `pred(bytes)` or EOF or 20 s; true when pred holds.
  bool ReadUntil(const std::function<bool(const std::string&)>& pred) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    char buf[65536];
    while (!pred(bytes) && std::chrono::steady_clock::now() < deadline) {
      ssize_t n = ::recv(client->fd(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        bytes.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        eof = true;
        break;
      } else {
        std::this_thread::sleep_for(10ms);
      }
    }
    return pred(bytes);
  }
  std::vector<testing::PcapngBlock> ReadAll() {
    ReadUntil([this](const std::string&) { return eof; });
    return testing::ParsePcapng(bytes).value_or(std::vector<testing::PcapngBlock>{});
  }
  std::unique_ptr<ctl::Client> client;
  std::string reply, bytes;
  bool eof = false;
};

std::string Field(const std::string& error) {
  auto at = error.find("\"field\":\"");
  if (at == std::string::npos) return "";
  at += 9;
  return error.substr(at, error.find('"', at) - at);
}

// lab.get's nodes and links, minified: the lab's own state. Not its `admission` member, whose
// host readings (PSI, MemAvailable) move between two calls a second apart (a CI run saw it).
std::string LabState(const std::string& lab) {
  simdjson::dom::parser p;
  simdjson::dom::element result;
  if (p.parse(Call("lab.get", R"({"lab":")" + lab + R"("})"))["result"].get(result)) return "";
  return simdjson::minify(result["nodes"]) + simdjson::minify(result["links"]);
}

class CaptureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kPlace.Make();
    std::string err = testing::BuildFixtureImage(
        testing::ConsoleTranscript("iosv"), kPlace.image_root + "/iosv.qcow2",
        testing::AcpiMode::kGraceful, testing::Speed::kFast);
    ASSERT_EQ(err, "");
    g_daemon = std::make_unique<testing::DaemonProcess>(kPlace.DaemonOptions());
    healthy_ = testing::WaitHealthy(kPlace.socket, 30s);
    if (!healthy_) return;
    std::string deployed = Call(
        "lab.deploy", R"({"name":")" + kLab +
                          R"(","wait":true,"nodes":[)"
                          R"({"name":"r1","kind":"iosv","image":"iosv.qcow2","memory_mb":64},)"
                          R"({"name":"r2","kind":"iosv","image":"iosv.qcow2","memory_mb":64}],)"
                          R"("links":[{"endpoints":["r1:eth1","r2:eth1"]}]})");
    deployed_ = deployed.find("\"error\"") == std::string::npos ? "" : deployed;
    // The injection port: an OVS internal port on the link's VLAN.
    std::string tap = TapOf("r1");
    std::string tag = Sh("ovs-vsctl get port " + tap + " tag");
    tag.erase(tag.find_last_not_of(" \n") + 1);
    int rc = 0;
    Sh("ovs-vsctl -- --may-exist add-port arch-ovs " + kInject + " tag=" + tag +
           " -- set interface " + kInject + " type=internal",
       &rc);
    for (int i = 0; i < 100 && ::if_nametoindex(kInject.c_str()) == 0; ++i) {
      std::this_thread::sleep_for(50ms);
    }
    Sh("ip link set " + kInject + " up");
  }
  static void TearDownTestSuite() {
    Sh("ovs-vsctl --if-exists del-port arch-ovs " + kInject);
    if (healthy_) Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
    g_daemon.reset();
    kPlace.Remove();
  }
  void SetUp() override {
    LABVIRT_REQUIRE(healthy_, "labvirtd healthy on real libvirtd");
    ASSERT_EQ(deployed_, "") << "the lab's deploy failed";
    ASSERT_NE(::if_nametoindex(kInject.c_str()), 0u) << "injection port " << kInject;
  }
  // The tap of `node`'s eth1.
  static std::string TapOf(const std::string& node) {
    std::string resp = Call("node.get", R"({"lab":")" + kLab + R"(","node":")" + node + R"("})");
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(resp).get(doc)) return "";
    for (auto nic : doc["result"]["nics"].get_array()) {
      if (std::string_view(nic["role"].get_string()) == "data") {
        return std::string(nic["tap"].get_string().value());  // the first data NIC: eth1
      }
    }
    return "";
  }
  std::string Params(const std::string& node, const std::string& extra) {
    return R"({"lab":")" + kLab + R"(","node":")" + node + R"(","interface":"eth1")" + extra + "}";
  }
  static inline bool healthy_ = false;
  static inline std::string deployed_;
};

TEST_F(CaptureTest, InjectedFramesAppearFilteredAndTcpdumpReadsThem) {
  Capture cap("node.nic.capture", Params("r1", R"(,"filter":"ether proto 0x88b5","count":5)"));
  ASSERT_TRUE(cap.ok()) << cap.reply;
  EXPECT_NE(cap.reply.find("\"stream\":\"pcapng\""), std::string::npos) << cap.reply;
  EXPECT_NE(cap.reply.find("\"link\":\"" + kLink + "\""), std::string::npos) << cap.reply;
  // The headers arrive once the packet socket is open: frames sent after them are captured.
  ASSERT_TRUE(cap.ReadUntil([](const std::string& b) { return b.size() >= 28 + 20; }));
  for (int i = 0; i < 5; ++i)
    Inject({Frame(0x88b6, 'x'), Frame(0x88b5, static_cast<char>('a' + i))});
  auto blocks = cap.ReadAll();
  ASSERT_GE(blocks.size(), 3u) << "stream: " << cap.bytes.size() << " bytes";
  EXPECT_EQ(blocks[1].options[2], kLab + "/r1:GigabitEthernet0/0");
  int packets = 0;
  for (const auto& b : blocks) {
    if (b.type != 6) continue;
    ++packets;
    EXPECT_EQ(b.data.substr(12, 2), "\x88\xb5") << "the filter let another ethertype through";
    EXPECT_EQ(b.Flags() & 3, 1u) << "bridge -> VM: the node receives it (inbound)";
  }
  EXPECT_EQ(packets, 5);
  EXPECT_EQ(blocks.back().type, 5u);
  EXPECT_EQ(blocks.back().options[1], "capture ended: packet limit reached");
  // An independent reader: tcpdump from Debian.
  std::string file = kPlace.state_dir + "/cap.pcapng";
  std::ofstream(file, std::ios::binary) << cap.bytes;
  int rc = 0;
  std::string shown = Sh("tcpdump -nn -e -r " + file + " 2>&1", &rc);
  EXPECT_EQ(rc, 0) << shown;
  int lines = 0;
  for (size_t at = shown.find("0x88b5"); at != std::string::npos;
       at = shown.find("0x88b5", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 5) << shown;
}

TEST_F(CaptureTest, TwoCapturesAtOnceOneThroughLabvirtctl) {
  std::string file = kPlace.state_dir + "/cli.pcapng";
  std::string err = kPlace.state_dir + "/cli.err";
  // labvirtctl in the background, on the link (its first running end: r1).
  // Its stdout must not be the shell's pipe, or Sh() would wait for it to exit.
  std::string cmd = "timeout 60 " + std::string(LABVIRTCTL_PATH) + " --socket " + kPlace.socket +
                    " capture " + kLab + " " + kLink +
                    " --filter 'ether proto 0x88b5' --count 3 -w " + file + " >/dev/null 2>" + err +
                    " & echo $!";
  Capture other("node.nic.capture", Params("r2", R"(,"filter":"ether proto 0x88b5","count":3)"));
  ASSERT_TRUE(other.ok()) << other.reply;
  ASSERT_TRUE(other.ReadUntil([](const std::string& b) { return b.size() >= 48; }));
  std::string pid = Sh(cmd);
  pid.erase(pid.find_last_not_of(" \n") + 1);
  // Until labvirtctl's capture runs (its packet socket is on r1's tap), keep injecting.
  const unsigned r1 = ::if_nametoindex(TapOf("r1").c_str());
  const int base = PacketSocketsOn(r1);
  for (int i = 0; i < 200 && PacketSocketsOn(r1) == base; ++i) std::this_thread::sleep_for(20ms);
  Inject({Frame(0x88b5, '1'), Frame(0x88b5, '2'), Frame(0x88b5, '3')});
  auto blocks = other.ReadAll();
  int packets = 0;
  for (const auto& b : blocks) packets += b.type == 6;
  EXPECT_EQ(packets, 3) << "r2's capture";
  int rc = 0;
  for (int i = 0; i < 500 && Sh("kill -0 " + pid + " 2>/dev/null; echo $?") == "0\n"; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  std::string shown = Sh("tcpdump -nn -e -r " + file + " 2>&1", &rc);
  EXPECT_EQ(rc, 0) << shown;
  int lines = 0;
  for (size_t at = shown.find("0x88b5"); at != std::string::npos;
       at = shown.find("0x88b5", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 3) << "labvirtctl's capture file: " << shown;
  std::ifstream e(err);
  std::string said((std::istreambuf_iterator<char>(e)), std::istreambuf_iterator<char>());
  EXPECT_NE(said.find("packet limit reached (3 frames"), std::string::npos) << said;
}

TEST_F(CaptureTest, BadRequestsAreRefusedNamingTheField) {
  const std::string lab = R"({"lab":")" + kLab + R"(")";
  struct Bad {
    std::string method, params, field, says;
  } cases[] = {
      {"node.nic.capture", R"({"lab":"nolab","node":"r1","interface":"eth1"})", "lab", "no lab"},
      {"node.nic.capture", lab + R"(,"node":"r9","interface":"eth1"})", "node", "r9"},
      {"node.nic.capture", lab + R"(,"node":"r1","interface":"eth9"})", "interface", "data"},
      {"node.nic.capture", Params("r1", R"(,"filter":"ether proto ((")"), "filter", "syntax error"},
      {"node.nic.capture", Params("r1", R"(,"snaplen":10)"), "snaplen", "64..65535"},
      {"node.nic.capture", Params("r1", R"(,"count":-1)"), "count", "integer"},
      {"link.capture", lab + R"(,"link":"r1:eth7--r2:eth7"})", "link", "no link"},
      {"link.capture", lab + R"(,"link":")" + kLink + R"(","end":"c"})", "end", "must be"},
  };
  const unsigned r1 = ::if_nametoindex(TapOf("r1").c_str());
  const int base = PacketSocketsOn(r1);
  for (const auto& c : cases) {
    std::string resp = Call(c.method, c.params);
    EXPECT_EQ(Field(resp), c.field) << c.params << " -> " << resp;
    EXPECT_NE(resp.find(c.says), std::string::npos) << c.params << " -> " << resp;
  }
  EXPECT_EQ(PacketSocketsOn(r1), base) << "a refused capture opened nothing";
  EXPECT_NE(Call("host.info", "{}").find("\"healthy\":true"), std::string::npos);
}

// labvirtd holds at most 64 captures at once (each is a packet socket and up to 4 MiB queued):
// the 65th is refused saying so and opens nothing; one ending frees its place.
TEST_F(CaptureTest, SixtyFifthCaptureIsRefusedUntilOneEnds) {
  const unsigned r1 = ::if_nametoindex(TapOf("r1").c_str());
  const int base = PacketSocketsOn(r1);
  std::vector<std::unique_ptr<Capture>> held;
  for (int i = 0; i < 64; ++i) {
    held.push_back(std::make_unique<Capture>("node.nic.capture", Params("r1", "")));
    ASSERT_TRUE(held.back()->ok()) << "capture " << i << ": " << held.back()->reply;
  }
  for (int i = 0; i < 250 && PacketSocketsOn(r1) != base + 64; ++i)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(PacketSocketsOn(r1), base + 64);
  Capture refused("node.nic.capture", Params("r1", ""));
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.reply.find("at most 64 captures"), std::string::npos) << refused.reply;
  EXPECT_EQ(PacketSocketsOn(r1), base + 64) << "a refused capture opened nothing";
  held.pop_back();  // its connection closes: the daemon ends that capture
  bool admitted = false;
  for (int i = 0; i < 250 && !admitted; ++i) {
    Capture again("node.nic.capture", Params("r1", ""));
    admitted = again.ok();
    if (!admitted) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(admitted) << "no room after a capture ended";
  held.clear();
  for (int i = 0; i < 250 && PacketSocketsOn(r1) != base; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(PacketSocketsOn(r1), base) << "every packet socket closed";
}

TEST_F(CaptureTest, ClientLeavingMidCaptureLeavesNoSocket) {
  const unsigned r1 = ::if_nametoindex(TapOf("r1").c_str());
  const int base = PacketSocketsOn(r1);
  {
    Capture cap("node.nic.capture", Params("r1", ""));
    ASSERT_TRUE(cap.ok()) << cap.reply;
    ASSERT_TRUE(cap.ReadUntil([](const std::string& b) { return b.size() >= 48; }));
    EXPECT_EQ(PacketSocketsOn(r1), base + 1);
  }  // the connection closes here
  bool gone = false;
  for (int i = 0; i < 250 && !gone; ++i) {
    gone = PacketSocketsOn(r1) == base;
    if (!gone) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(gone) << "the daemon kept the packet socket of a client that left";
  EXPECT_NE(g_daemon->Log().find("reason=\"client hung up\""), std::string::npos);
}

// link.set_impairment through labvirtd: bad values are refused naming the field and change
// nothing; a good one is applied with netem where the kernel has it (checked with tc, kept across
// a restart of the receiving end), or refused with the kernel's own words where it has not (this
// project's CI host: CONFIG_NET_SCH_NETEM is not set), leaving the link unshaped.
TEST_F(CaptureTest, ImpairmentIsCheckedAppliedOrRefusedPrecisely) {
  const std::string link = R"({"lab":")" + kLab + R"(","link":")" + kLink + R"(")";
  const std::string before = LabState(kLab);
  ASSERT_NE(before, "");
  struct Bad {
    std::string params, field, says;
  } cases[] = {
      {link + R"(,"a_to_b":{"loss_pct":150}})", "a_to_b.loss_pct", "0..100"},
      {link + R"(,"b_to_a":{"reorder_pct":5}})", "b_to_a.reorder_pct", "needs a delay"},
      {link + R"(,"a_to_b":{"latency":5}})", "a_to_b.latency", "unknown impairment"},
      {link + R"(,"a_to_b":{"delay_ms":"20ms"}})", "a_to_b.delay_ms", "integer 0..60000"},
      {R"({"lab":")" + kLab + R"(","link":"r1:x--r2:y","a_to_b":{}})", "link", "no link"},
  };
  for (const auto& c : cases) {
    std::string resp = Call("link.set_impairment", c.params);
    EXPECT_EQ(Field(resp), c.field) << c.params << " -> " << resp;
    EXPECT_NE(resp.find(c.says), std::string::npos) << c.params << " -> " << resp;
  }
  EXPECT_EQ(LabState(kLab), before) << "nothing changed";

  const std::string tap_r2 = TapOf("r2");
  const bool netem =
      Sh("zcat /proc/config.gz 2>/dev/null | grep NET_SCH_NETEM").find("is not set") ==
      std::string::npos;
  std::string set = Call("link.set_impairment", link + R"(,"a_to_b":{"delay_ms":100}})");
  if (!netem) {
    EXPECT_EQ(Field(set), "a_to_b") << set;
    EXPECT_NE(set.find("Specified qdisc kind is unknown"), std::string::npos) << set;
    EXPECT_NE(set.find("impairment not applied"), std::string::npos) << set;
    EXPECT_EQ(LabState(kLab), before) << "nothing recorded";
    int rc = 0;
    std::string cli = Sh(std::string(LABVIRTCTL_PATH) + " --socket " + kPlace.socket + " link " +
                             kLab + " impair " + kLink + " --delay 20ms --loss 1% 2>&1",
                         &rc);
    EXPECT_NE(rc, 0) << cli;
    EXPECT_NE(cli.find("qdisc kind is unknown"), std::string::npos) << cli;
    return;
  }
  ASSERT_EQ(set.find("\"error\""), std::string::npos) << set;
  EXPECT_NE(Sh("tc qdisc show dev " + tap_r2).find("delay 100ms"), std::string::npos);
  std::string restart =
      Call("node.restart", R"({"lab":")" + kLab + R"(","node":"r2","wait":true})");
  ASSERT_NE(restart.find("\"state\":\"ready\""), std::string::npos) << restart;
  EXPECT_NE(Sh("tc qdisc show dev " + TapOf("r2")).find("delay 100ms"), std::string::npos)
      << "shaped again after r2's restart";
  std::string cleared = Call("link.set_impairment", link + R"(,"a_to_b":{},"b_to_a":{}})");
  ASSERT_EQ(cleared.find("\"error\""), std::string::npos) << cleared;
  EXPECT_EQ(Sh("tc qdisc show dev " + TapOf("r2")).find("netem"), std::string::npos);
}

// A rate limit alone is a token bucket, which every kernel has: set through labvirtctl, shown in
// the IMPAIRMENT column, on the receiving end's tap, applied again after that node restarts and
// after labvirtd restarts (the qdisc taken off behind its back while it was down), kept when
// ovs-vswitchd restarts, then cleared.
TEST_F(CaptureTest, ARateLimitIsShownAndSurvivesNodeAndLabvirtdRestarts) {
  const std::string ctl = std::string(LABVIRTCTL_PATH) + " --socket " + kPlace.socket;
  auto has_tbf = [](const std::string& tap) {
    return Sh("tc qdisc show dev " + tap).find("tbf") != std::string::npos;
  };
  int rc = -1;
  std::string set =
      Sh(ctl + " link " + kLab + " impair " + kLink + " --rate 200kbit --direction a-b 2>&1", &rc);
  ASSERT_EQ(rc, 0) << set;
  std::string status = Sh(ctl + " status " + kLab);
  EXPECT_NE(status.find("a>b rate_kbit=200; b>a -"), std::string::npos) << status;
  EXPECT_NE(Sh("tc qdisc show dev " + TapOf("r2")).find("rate 200Kbit"), std::string::npos);
  EXPECT_FALSE(has_tbf(TapOf("r1"))) << "b_to_a is unshaped";

  std::string restart =
      Call("node.restart", R"({"lab":")" + kLab + R"(","node":"r2","wait":true})");
  ASSERT_NE(restart.find("\"state\":\"ready\""), std::string::npos) << restart;
  EXPECT_TRUE(has_tbf(TapOf("r2")))
      << "shaped again after r2's restart: " << Sh("tc qdisc show dev " + TapOf("r2"))
      << TapOf("r2") << g_daemon->Warnings();

  const std::string tap = TapOf("r2");  // asked before labvirtd goes
  ASSERT_FALSE(tap.empty());
  g_daemon->Kill();
  Sh("tc qdisc del dev " + tap + " root");
  ASSERT_FALSE(has_tbf(tap));
  g_daemon->Start();
  ASSERT_TRUE(testing::WaitHealthy(kPlace.socket, 30s));
  bool again = false;
  for (int i = 0; i < 100 && !again; ++i) {  // applied when the adopted node's ports are plugged
    again = has_tbf(tap);
    if (!again) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(again) << "labvirtd applied the link's rate again after its restart";

  {  // ovs-vswitchd restarting (an upgrade, an operator) opens every port again: the rate stays.
    testing::HostDaemonsGuard guard;
    ASSERT_TRUE(testing::RestartOvsVswitchd())
        << "it did not exit, or tools/setup-host could not start it";
    EXPECT_TRUE(testing::WaitForDatapathPort(tap));
    EXPECT_TRUE(has_tbf(tap)) << "after ovs-vswitchd restarted: " << Sh("tc qdisc show dev " + tap);
  }

  std::string cleared = Sh(ctl + " link " + kLab + " impair " + kLink + " --clear 2>&1", &rc);
  EXPECT_EQ(rc, 0) << cleared;
  EXPECT_FALSE(has_tbf(TapOf("r2")));
}

TEST_F(CaptureTest, StoppedNodeIsRefusedAndARunningCaptureEnds) {
  Capture running("node.nic.capture", Params("r2", ""));
  ASSERT_TRUE(running.ok()) << running.reply;
  ASSERT_TRUE(running.ReadUntil([](const std::string& b) { return b.size() >= 48; }));
  std::string stop = Call("node.stop", R"({"lab":")" + kLab + R"(","node":"r2","wait":true})");
  ASSERT_NE(stop.find("\"state\":\"stopped\""), std::string::npos) << stop;
  auto blocks = running.ReadAll();
  ASSERT_FALSE(blocks.empty());
  EXPECT_EQ(blocks.back().type, 5u);
  EXPECT_NE(blocks.back().options[1].find("went away"), std::string::npos)
      << blocks.back().options[1];

  std::string refused = Call("node.nic.capture", Params("r2", ""));
  EXPECT_EQ(Field(refused), "node") << refused;
  EXPECT_NE(refused.find("r2 is stopped"), std::string::npos) << refused;
  std::string end_b = Call(
      "link.capture", R"({"lab":")" + kLab + R"(","link":")" + kLink + R"(","end":"b","count":1})");
  EXPECT_EQ(Field(end_b), "node") << end_b;
  // Without an end the link is captured where it still runs.
  Capture link("link.capture",
               R"({"lab":")" + kLab + R"(","link":")" + kLink + R"(","duration_ms":200})");
  ASSERT_TRUE(link.ok()) << link.reply;
  EXPECT_NE(link.reply.find("\"node\":\"r1\""), std::string::npos) << link.reply;
  auto ended = link.ReadAll();
  ASSERT_FALSE(ended.empty());
  EXPECT_EQ(ended.back().options[1], "capture ended: duration reached");
}

}  // namespace
}  // namespace labvirt
