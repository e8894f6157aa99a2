// Boots fixture VMs on the real libvirtd and checks what their serial console shows: transcripts
// byte-exact over every disk bus and machine, a large one streamed, prompts that echo and answer,
// host-timed sleeps and rates, and the helper leaving nothing behind. How they react to lifecycle
// requests is fixture_power_test.cc. Needs root, libvirtd and QEMU; works under TCG. Skips without
// libvirtd unless CI=true.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/integration/fixture_test_base.h"
#include "tests/support/fixture_domain.h"

namespace labvirt::testing {
namespace {

using namespace fixture_test;

// ---------------------------------------------------------------- byte-exact
struct ConsoleCase {
  std::string transcript;
  DiskBus bus;
  Machine machine;
};

class ConsoleExactTest : public FixtureTest, public ::testing::WithParamInterface<ConsoleCase> {};

TEST_P(ConsoleExactTest, ShowsWholeTranscriptByteExact) {
  const ConsoleCase& c = GetParam();
  std::string expected;
  ASSERT_EQ(ExpectedConsole(ConsoleTranscript(c.transcript), &expected), "");
  ASSERT_FALSE(expected.empty());
  FixtureOptions options;
  options.bus = c.bus;
  options.machine = c.machine;
  std::unique_ptr<ConsolePty> pty;
  auto fixture = StartAttached(ConsoleTranscript(c.transcript), options, &pty);
  ASSERT_NE(fixture, nullptr);
  std::string got;
  EXPECT_TRUE(pty->ReadAtLeast(&got, expected.size(), kBootTimeout))
      << "got " << got.size() << " of " << expected.size() << " bytes";
  pty->ReadAtLeast(&got, expected.size() + 1, milliseconds(300));  // nothing more may follow
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "console differs from mkfixture --print-expected";
}

std::vector<ConsoleCase> ConsoleCases() {
  std::vector<ConsoleCase> cases;
  for (const char* name : {"iosv", "iosvl2", "csr1000v", "cat8000v", "nexus9000v", "asav", "xrv9k",
                           "vsrx", "veos", "linux", "kernel_panic"}) {
    cases.push_back({name, DiskBus::kVirtio, Machine::kPc});
  }
  cases.push_back({"iosv", DiskBus::kIde, Machine::kPc});
  cases.push_back({"nexus9000v", DiskBus::kSata, Machine::kPc});
  cases.push_back({"csr1000v", DiskBus::kSata, Machine::kQ35});
  cases.push_back({"cat8000v", DiskBus::kVirtio, Machine::kQ35});
  return cases;
}

std::string CaseName(const ::testing::TestParamInfo<ConsoleCase>& info) {
  const ConsoleCase& c = info.param;
  const char* bus = c.bus == DiskBus::kVirtio ? "virtio" : c.bus == DiskBus::kIde ? "ide" : "sata";
  return c.transcript + "_" + bus + (c.machine == Machine::kPc ? "_pc" : "_q35");
}

INSTANTIATE_TEST_SUITE_P(Shipped, ConsoleExactTest, ::testing::ValuesIn(ConsoleCases()), CaseName);

TEST_F(FixtureTest, StreamsLargeTranscriptByteExact) {
  // ~400 KB: far more than one bytecode chunk or one TEXT op (64 KiB).
  std::string text;
  for (int i = 0; i < 5000; ++i) {
    text += "%LINK-3-UPDOWN: Interface GigabitEthernet0/" + std::to_string(i) +
            ", changed state to up \\e[0m\\x41 ############################\n";
  }
  text += "@@prompt Router>\n";
  std::string transcript = Transcript(text);
  std::string expected;
  ASSERT_EQ(ExpectedConsole(transcript, &expected), "");
  ASSERT_GT(expected.size(), 400000u);
  std::unique_ptr<ConsolePty> pty;
  auto fixture = StartAttached(transcript, FixtureOptions(), &pty);
  ASSERT_NE(fixture, nullptr);
  std::string got;
  EXPECT_TRUE(pty->ReadAtLeast(&got, expected.size(), milliseconds(60000)))
      << "got " << got.size() << " of " << expected.size() << " bytes";
  EXPECT_TRUE(got == expected);
}

// ---------------------------------------------------------------- interaction
TEST_F(FixtureTest, PromptEchoesInputAndAnswersReplies) {
  std::string t = Transcript(
      "booted\n@@reply show version => Cisco IOS Software, IOSv\\r\\nuptime is 1 minute\n"
      "@@reply enable => \\e[1mok\\e[0m\n@@prompt Router>\n");
  std::unique_ptr<ConsolePty> pty;
  auto fixture = StartAttached(t, FixtureOptions(), &pty);
  ASSERT_NE(fixture, nullptr);
  std::string got;
  ASSERT_TRUE(pty->ReadUntil(&got, "booted\r\nRouter>", kBootTimeout)) << got;
  got.clear();
  ASSERT_TRUE(pty->Write("show version\r"));
  EXPECT_TRUE(pty->ReadUntil(&got, "minute\r\nRouter>", milliseconds(5000))) << got;
  EXPECT_EQ(got, "show version\r\nCisco IOS Software, IOSv\r\nuptime is 1 minute\r\nRouter>");
  got.clear();
  ASSERT_TRUE(pty->Write("bogus\r"));
  EXPECT_TRUE(pty->ReadUntil(&got, "Router>", milliseconds(5000))) << got;
  EXPECT_EQ(got, "bogus\r\nRouter>");
  got.clear();
  ASSERT_TRUE(
      pty->Write("enabx\x7f"
                 "le\n"));  // LF ends a line too; DEL erases
  EXPECT_TRUE(pty->ReadUntil(&got, "Router>", milliseconds(5000))) << got;
  EXPECT_EQ(got, "enabx\b \ble\r\n\x1b[1mok\x1b[0m\r\nRouter>");
}

// A CLI session as console scripts drive it: @@goto changes the prompt (login, enable, configure
// terminal, end), every matching record answers in transcript order (a reply, then the new prompt),
// typed lines no record answers are recorded as typed and @@recorded prints them back between the
// two replies of show running-config. One VM for all of it: boots dominate this suite's time.
TEST_F(FixtureTest, GotoChangesPromptAndRecordedPrintsUnansweredLines) {
  std::string t = Transcript(
      "R1 booted\n"
      "@@goto admin => Password:\\x20\n"
      "@@goto cisco => Router>\n"
      "@@goto enable => Router#\n"
      "@@reply configure terminal => Enter configuration commands, one per line.\n"
      "@@goto configure terminal => Router(config)#\n"
      "@@reply ip routing => % ip routing is already enabled\n"
      "@@goto end => Router#\n"
      "@@reply show running-config => Building configuration...\n"
      "@@recorded show running-config\n"
      "@@reply show running-config => end\n"
      "@@prompt Username:\\x20\n");
  std::unique_ptr<ConsolePty> pty;
  auto fixture = StartAttached(t, FixtureOptions(), &pty);
  ASSERT_NE(fixture, nullptr);
  std::string got;
  ASSERT_TRUE(pty->ReadUntil(&got, "R1 booted\r\nUsername: ", kBootTimeout)) << got;
  // Types `input` and expects exactly `shown` back: the echo, the answers and the next prompt.
  auto type = [&](std::string_view input, const std::string& shown) {
    std::string out;
    ASSERT_TRUE(pty->Write(input));
    EXPECT_TRUE(pty->ReadUntil(&out, shown, milliseconds(5000))) << out;
    EXPECT_EQ(out, shown);
  };
  type("admin\r", "admin\r\nPassword: ");
  type("cisco\r", "cisco\r\nRouter>");
  type("enable\r", "enable\r\nRouter#");
  // A reply and a goto for one line: the reply, then the new prompt.
  type("configure terminal\r",
       "configure terminal\r\nEnter configuration commands, one per line.\r\nRouter(config)#");
  // Unanswered: recorded as typed (leading space kept, after DEL's editing, without the CR).
  type("hostname R1\r", "hostname R1\r\nRouter(config)#");
  type(" ip address 10.0.0.1 255.255.255.0\r",
       " ip address 10.0.0.1 255.255.255.0\r\nRouter(config)#");
  type("no shutdowx\x7fn\r", "no shutdowx\b \bn\r\nRouter(config)#");
  type("\r", "\r\nRouter(config)#");  // empty: not recorded
  // Answered by a reply: not recorded.
  type("ip routing\r", "ip routing\r\n% ip routing is already enabled\r\nRouter(config)#");
  type("end\r", "end\r\nRouter#");
  // All three records of show running-config, in transcript order; the prompt stays.
  type("show running-config\r",
       "show running-config\r\nBuilding configuration...\r\n"
       "hostname R1\r\n ip address 10.0.0.1 255.255.255.0\r\nno shutdown\r\n"
       "end\r\nRouter#");
}

// ---------------------------------------------------------------- time
TEST_F(FixtureTest, SleepAndRateFollowHostTimeInRealSpeed) {
  std::string line(98, 'x');
  std::string text = "A\n@@sleep 1000\nB\n@@rate 2000\n";
  for (int i = 0; i < 10; ++i) text += line + "\n";  // 1000 bytes with CRLF
  text += "@@rate 0\nC\n@@prompt >\n";
  FixtureOptions options;
  options.speed = Speed::kReal;
  std::unique_ptr<ConsolePty> pty;
  auto fixture = StartAttached(Transcript(text), options, &pty);
  ASSERT_NE(fixture, nullptr);
  std::string got;
  ASSERT_TRUE(pty->ReadUntil(&got, "A\r\n", kBootTimeout));
  auto a = Clock::now();
  ASSERT_TRUE(pty->ReadUntil(&got, "B\r\n", milliseconds(5000)));
  auto b = Clock::now();
  ASSERT_TRUE(pty->ReadUntil(&got, "C\r\n", milliseconds(5000)));
  auto c = Clock::now();
  double sleep_s = std::chrono::duration<double>(b - a).count();
  double rate_s = std::chrono::duration<double>(c - b).count();
  EXPECT_NEAR(sleep_s, 1.0, 0.15) << "@@sleep 1000";
  EXPECT_NEAR(rate_s, 0.5, 0.1) << "1000 bytes at @@rate 2000";
}

// ---------------------------------------------------------------- cleanup
TEST_F(FixtureTest, HelperLeavesNothingBehind) {
  std::string name, image;
  {
    std::string error;
    auto fixture =
        FixtureDomain::Create(conn_.get(), Transcript("x\n@@prompt >\n"), FixtureOptions(), &error);
    ASSERT_NE(fixture, nullptr) << error;
    name = fixture->name();
    image = fixture->image_path();
    EXPECT_TRUE(std::filesystem::exists(image));
    EXPECT_TRUE(fixture->IsActive());
    EXPECT_EQ(name.rfind("lvtest-" + std::to_string(getpid()) + "-", 0), 0u) << name;
  }
  virDomainPtr dom = virDomainLookupByName(conn_.get(), name.c_str());
  EXPECT_EQ(dom, nullptr) << name << " still defined";
  if (dom != nullptr) virDomainFree(dom);
  EXPECT_FALSE(std::filesystem::exists(image));
}

TEST_F(FixtureTest, RemovesLeftoversOfDeadProcesses) {
  pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  waitpid(child, nullptr, 0);  // a pid that is now dead
  std::string name = "lvtest-" + std::to_string(child) + "-1";
  std::string image = std::string(kImageDir) + "/" + name + ".qcow2";
  std::filesystem::create_directories(kImageDir);
  ASSERT_EQ(BuildFixtureImage(Transcript("stale\n"), image, AcpiMode::kIgnore, Speed::kFast), "");
  std::string xml = "<domain type='qemu'><name>" + name +
                    "</name><memory unit='MiB'>16</memory><os><type arch='x86_64' "
                    "machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>"
                    "<driver name='qemu' type='qcow2'/><source file='" +
                    image + "'/><target dev='vda' bus='virtio'/></disk></devices></domain>";
  virDomainPtr dom = virDomainDefineXML(conn_.get(), xml.c_str());
  ASSERT_NE(dom, nullptr);
  virDomainFree(dom);
  RemoveStaleFixtures(conn_.get());
  dom = virDomainLookupByName(conn_.get(), name.c_str());
  EXPECT_EQ(dom, nullptr);
  if (dom != nullptr) {
    virDomainUndefine(dom);
    virDomainFree(dom);
  }
  EXPECT_FALSE(std::filesystem::exists(image));
}

}  // namespace
}  // namespace labvirt::testing
