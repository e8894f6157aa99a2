// Boots fixture VMs on the real libvirtd and checks what their serial console
// shows and how they react to lifecycle requests. Needs root, libvirtd and
// QEMU; works under TCG. Skips without libvirtd unless CI=true.
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

#include "tests/support/fixture_domain.h"

namespace labvirt::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kBootTimeout{30000};

class FixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    EnsureDefaultEventLoop();  // before any connection, so that all deliver events
    conn_ = OpenSystemConnection(&error);
    if (conn_ == nullptr) {
      if (InCi()) FAIL() << error;
      GTEST_SKIP() << error << " (set CI=true to fail instead)";
    }
    events_ = OpenSystemConnection(&error);
    ASSERT_NE(events_, nullptr) << error;
    char dir[] = "/tmp/lvtest-transcripts-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    tmp_ = dir;
  }
  void TearDown() override {
    std::error_code ec;
    if (!tmp_.empty()) std::filesystem::remove_all(tmp_, ec);
  }

  // Writes a transcript for this test and returns its path.
  std::string Transcript(const std::string& text) {
    std::string path = tmp_ + "/t" + std::to_string(++count_) + ".txt";
    std::ofstream(path) << text;
    return path;
  }

  // Starts a paused fixture, attaches to its PTY, runs `before_resume` (e.g. to watch events
  // that could otherwise come before the watch: under KVM a fast fixture is through its
  // transcript within milliseconds), then resumes it, so no console byte or event is lost.
  std::unique_ptr<FixtureDomain> StartAttached(
      const std::string& transcript, FixtureOptions options, std::unique_ptr<ConsolePty>* pty,
      const std::function<void(FixtureDomain&)>& before_resume = nullptr) {
    options.start_paused = true;
    std::string error;
    auto fixture = FixtureDomain::Create(conn_.get(), transcript, options, &error);
    EXPECT_NE(fixture, nullptr) << error;
    if (fixture == nullptr) return nullptr;
    std::string path = fixture->PtyPath();
    EXPECT_FALSE(path.empty());
    *pty = ConsolePty::Open(path, &error);
    EXPECT_NE(*pty, nullptr) << error;
    if (*pty == nullptr) return nullptr;
    if (before_resume) before_resume(*fixture);
    error = fixture->Resume();
    EXPECT_EQ(error, "");
    return error.empty() ? std::move(fixture) : nullptr;
  }

  ConnectPtr conn_;
  ConnectPtr events_;  // used by event watches only
  std::string tmp_;
  int count_ = 0;
};

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

// ---------------------------------------------------------------- lifecycle
// Records lifecycle and reboot events of one domain, delivered on the
// default event loop thread. Deregisters on destruction.
class EventWatch {
 public:
  EventWatch(virConnectPtr conn, const std::string& name) : conn_(conn) {
    dom_ = virDomainLookupByName(conn, name.c_str());
    if (dom_ == nullptr) return;
    reboot_id_ = virConnectDomainEventRegisterAny(
        conn, dom_, VIR_DOMAIN_EVENT_ID_REBOOT, VIR_DOMAIN_EVENT_CALLBACK(OnReboot), this, nullptr);
    life_id_ =
        virConnectDomainEventRegisterAny(conn, dom_, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(OnLifecycle), this, nullptr);
  }
  ~EventWatch() {
    if (reboot_id_ >= 0) virConnectDomainEventDeregisterAny(conn_, reboot_id_);
    if (life_id_ >= 0) virConnectDomainEventDeregisterAny(conn_, life_id_);
    if (dom_ != nullptr) virDomainFree(dom_);
  }
  bool ok() const { return reboot_id_ >= 0 && life_id_ >= 0; }

  // Waits until `seen` holds for the recorded events (lifecycle event ids,
  // plus -1 for each reboot event).
  template <typename Pred>
  bool Wait(milliseconds timeout, Pred seen) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return seen(events_); });
  }

 private:
  static void OnReboot(virConnectPtr, virDomainPtr, void* opaque) {
    static_cast<EventWatch*>(opaque)->Add(-1);
  }
  static int OnLifecycle(virConnectPtr, virDomainPtr, int event, int, void* opaque) {
    static_cast<EventWatch*>(opaque)->Add(event);
    return 0;
  }
  void Add(int event) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(event);
    cv_.notify_all();
  }

  virConnectPtr conn_;
  virDomainPtr dom_ = nullptr;
  int reboot_id_ = -1;
  int life_id_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> events_;
};

bool Has(const std::vector<int>& events, int event) {
  return std::find(events.begin(), events.end(), event) != events.end();
}

class AcpiTest : public FixtureTest, public ::testing::WithParamInterface<Machine> {};

TEST_P(AcpiTest, GracefulPowersOffOnShutdownRequest) {
  FixtureOptions options;
  options.machine = GetParam();
  options.acpi = AcpiMode::kGraceful;
  std::unique_ptr<ConsolePty> pty;
  auto fixture = StartAttached(Transcript("up\n@@prompt Router>\n"), options, &pty);
  ASSERT_NE(fixture, nullptr);
  std::string got;
  ASSERT_TRUE(pty->ReadUntil(&got, "Router>", kBootTimeout));
  EventWatch watch(events_.get(), fixture->name());
  ASSERT_TRUE(watch.ok());
  ASSERT_EQ(fixture->Shutdown(), "");
  // The guest's own power off (QEMU's SHUTDOWN) comes within a second; libvirt
  // then needs a moment more to reap QEMU.
  EXPECT_TRUE(watch.Wait(milliseconds(1000), [](const std::vector<int>& events) {
    return Has(events, VIR_DOMAIN_EVENT_SHUTDOWN) || Has(events, VIR_DOMAIN_EVENT_STOPPED);
  }));
  EXPECT_TRUE(fixture->WaitInactive(milliseconds(3000)));
}

TEST_P(AcpiTest, IgnoreKeepsRunningAfterShutdownRequest) {
  FixtureOptions options;
  options.machine = GetParam();
  options.acpi = AcpiMode::kIgnore;
  std::unique_ptr<ConsolePty> pty;
  auto fixture = StartAttached(Transcript("up\n@@prompt Router>\n"), options, &pty);
  ASSERT_NE(fixture, nullptr);
  std::string got;
  ASSERT_TRUE(pty->ReadUntil(&got, "Router>", kBootTimeout));
  ASSERT_EQ(fixture->Shutdown(), "");
  EXPECT_FALSE(fixture->WaitInactive(milliseconds(3000)));
}

TEST_P(AcpiTest, PoweroffDirectiveStopsTheDomain) {
  FixtureOptions options;
  options.machine = GetParam();
  std::unique_ptr<ConsolePty> pty;
  auto fixture = StartAttached(Transcript("bye\n@@poweroff\n"), options, &pty);
  ASSERT_NE(fixture, nullptr);
  EXPECT_TRUE(fixture->WaitInactive(kBootTimeout));
  int state = 0, reason = 0;
  ASSERT_EQ(virDomainGetState(fixture->domain(), &state, &reason, 0), 0);
  EXPECT_EQ(state, VIR_DOMAIN_SHUTOFF);
  EXPECT_EQ(reason, VIR_DOMAIN_SHUTOFF_SHUTDOWN);
}

INSTANTIATE_TEST_SUITE_P(Machines, AcpiTest, ::testing::Values(Machine::kPc, Machine::kQ35),
                         [](const auto& info) {
                           return info.param == Machine::kPc ? "pc" : "q35";
                         });

// Accelerator x machine: every host checks TCG; a host with /dev/kvm checks KVM as well.
struct MachineCase {
  Accel accel;
  Machine machine;
};

std::vector<MachineCase> MachineCases() {
  std::vector<MachineCase> cases;
  for (Machine m : {Machine::kPc, Machine::kQ35}) {
    cases.push_back({Accel::kTcg, m});
    if (KvmUsable()) cases.push_back({Accel::kAuto, m});
  }
  return cases;
}

std::string MachineCaseName(const ::testing::TestParamInfo<MachineCase>& info) {
  return std::string(info.param.accel == Accel::kTcg ? "tcg" : "kvm") +
         (info.param.machine == Machine::kPc ? "_pc" : "_q35");
}

class AccelTest : public FixtureTest, public ::testing::WithParamInterface<MachineCase> {
 protected:
  FixtureOptions Options() const {
    FixtureOptions options;
    options.accel = GetParam().accel;
    options.machine = GetParam().machine;
    return options;
  }
};

TEST_P(AccelTest, CrashDirectiveRaisesRebootEvent) {
  std::unique_ptr<ConsolePty> pty;
  std::unique_ptr<EventWatch> watch;
  // The watch must exist before the VM runs: under KVM the reset comes within milliseconds.
  auto fixture = StartAttached(
      Transcript("going down\n@@crash\n"), Options(), &pty,
      [&](FixtureDomain& f) { watch = std::make_unique<EventWatch>(events_.get(), f.name()); });
  ASSERT_NE(fixture, nullptr);
  ASSERT_TRUE(watch->ok());
  // @@crash resets the machine: libvirt reports REBOOT (on_reboot=restart), and the domain runs on.
  EXPECT_TRUE(watch->Wait(kBootTimeout, [](const std::vector<int>& events) {
    return Has(events, -1);
  })) << "no REBOOT event";
  EXPECT_TRUE(fixture->IsActive());
  std::string got;
  EXPECT_TRUE(pty->ReadUntil(&got, "going down\r\n", milliseconds(1000)));
}

// Seconds of CPU (user + system) the process has used, from /proc/PID/stat; -1 if unreadable.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  long ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stol(field);  // utime, stime
  }
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// An idle fixture wakes only for input or the power button: its QEMU uses (next to) no CPU, and
// the power button is still answered (the SCI wakes the halted CPU). With the BIOS timer's 55 ms
// wake-ups one at its prompt cost ~1% of a core under TCG and up to ~5% under KVM on PVM hosts,
// and a silent one busy-looped at ~93%; hundreds of fixtures idle at once in the deploy benchmark.
// One boot per case checks both, because under KVM on a PVM host every boot costs ~5 s of SeaBIOS.
TEST_P(AccelTest, IdleCostsNoCpuAndAnswersThePowerButton) {
  for (const char* text : {"up\n@@prompt Router>\n", "up\n"}) {
    std::unique_ptr<ConsolePty> pty;
    auto fixture = StartAttached(Transcript(text), Options(), &pty);
    ASSERT_NE(fixture, nullptr);
    std::string got;
    ASSERT_TRUE(pty->ReadUntil(&got, "up\r\n", kBootTimeout)) << got;
    pty->ReadAtLeast(&got, 1000, milliseconds(300));  // let it settle
    pid_t pid = fixture->QemuPid();
    ASSERT_GT(pid, 0);
    double before = CpuSeconds(pid);
    auto start = Clock::now();
    std::this_thread::sleep_for(milliseconds(2500));
    double used = CpuSeconds(pid) - before;
    double share = used / std::chrono::duration<double>(Clock::now() - start).count();
    // 0.4%: one 10 ms clock tick in 2.5 s; the 55 ms BIOS tick alone cost ~1%.
    EXPECT_LE(share, 0.004) << text << ": QEMU used " << used << " s of CPU in 2.5 s idle";
    RecordProperty(std::string(text[3] == '@' ? "prompt" : "silent") + "_idle_cpu_permille",
                   static_cast<int>(share * 1000));
    ASSERT_EQ(fixture->Shutdown(), "");
    EXPECT_TRUE(fixture->WaitInactive(milliseconds(3000))) << text << ": power button unanswered";
  }
}

INSTANTIATE_TEST_SUITE_P(Accels, AccelTest, ::testing::ValuesIn(MachineCases()), MachineCaseName);

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
