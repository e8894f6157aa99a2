// Saving the running configs of 50 ready fixture VMs (issue 15's benchmark), in the same run:
//   configsave50/labvirt       lab.config.save on a real labvirtd: every node's console script
//                              (enable, terminal length 0, show running-config), at most 8 at
//                              once, each config written as a version under the state dir.
//   configsave50/virsh_console the seed agent's way, a pexpect-style script: for each node in turn
//                              `virsh console --force`, wait for the prompt, type the same
//                              commands, read the answer up to the next prompt, write it to a file.
// Both report `configs_per_s`. The nodes are IOSv-kind fixtures whose `show running-config` prints
// a 120-line config. The 50 VMs boot once (untimed); the baseline runs after labvirtd is stopped
// (its VMs keep running: nobody else may read their PTYs), and labvirtd comes back to destroy the
// lab at the end. Needs root, libvirtd, OVS (./tools/setup-host) and tools/mkfixture.
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_daemon.h"
#include "benchmark/benchmark.h"
#include "reactor/base/json_writer.h"
#include "tools/ctl/client.h"

namespace labvirt {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr int kNodes = 50;
const std::string kPid = std::to_string(::getpid());
const std::string kRoot = "/var/lib/libvirt/images/lvbench-cfg-" + kPid;
const std::string kImages = kRoot + "/images";
const std::string kState = kRoot + "/state";
const std::string kSocket = "/tmp/lvbench-cfg-" + kPid + ".sock";
const std::string kLab = "cfg" + kPid;

// The IOSv transcript, then a CLI whose running config is 120 lines.
std::string Transcript() {
  std::ifstream in(std::string(LABVIRT_SOURCE_DIR) + "/tests/data/consoles/iosv.txt");
  std::string t((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  t += "@@goto enable => Router#\n@@reply show running-config => Building configuration...\\r\\n"
       "\\r\\nCurrent configuration : 4242 bytes\\r\\n!\\r\\nhostname Router\\r\\n";
  for (int i = 0; i < 30; ++i) {
    t += "interface GigabitEthernet0/" + std::to_string(i) + "\\r\\n description link " +
         std::to_string(i) + "\\r\\n ip address 10.0." + std::to_string(i) +
         ".1 255.255.255.0\\r\\n!\\r\\n";
  }
  return t + "end\n";
}

pid_t StartDaemon() {
  return bench::StartBenchDaemon(
      {"--socket", kSocket, "--image-root", kImages, "--state-dir", kState, "--boot-budget", "8"},
      kSocket, kState + "/labvirtd.log");
}
void StopDaemon(pid_t pid) {
  if (pid > 0) bench::StopBenchDaemon(pid);
}

// The image, labvirtd and the 50 ready nodes, made once; labvirtd is back at the end to destroy.
struct Setup {
  bool ok = false;
  std::string error;
  pid_t daemon = -1;
  std::vector<std::string> domains;

  Setup() {
    fs::create_directories(kImages);
    fs::create_directories(kState);
    std::ofstream(kState + "/cli.txt") << Transcript();
    std::string mk = std::string(LABVIRT_SOURCE_DIR) + "/tools/mkfixture --transcript " + kState +
                     "/cli.txt --out " + kImages + "/iosv.qcow2 --speed fast >/dev/null";
    if (std::system(mk.c_str()) != 0) {
      error = "tools/mkfixture failed";
      return;
    }
    daemon = StartDaemon();
    if (daemon <= 0) {
      error = "labvirtd did not become healthy (see " + kState + "/labvirtd.log)";
      return;
    }
    JsonWriter w;
    w.BeginObject().Key("lab").String(kLab).Key("wait").Bool(true).Key("nodes").BeginArray();
    for (int i = 0; i < kNodes; ++i) {
      w.BeginObject().Key("name").String("n" + std::to_string(i)).Key("kind").String("iosv");
      w.Key("image").String("iosv.qcow2").Key("memory_mb").Int(64).Key("nics").Int(1).EndObject();
    }
    w.EndArray().EndObject();
    auto c = ctl::Client::Connect(kSocket);
    auto r = c.ok() ? c->Call("lab.deploy", w.Take()) : Result<std::string>(c.status());
    simdjson::dom::parser p;
    simdjson::dom::element lab;
    if (!r.ok() || p.parse(*r).get(lab) || lab["result"]["nodes"].get(lab)) {
      error = "lab.deploy failed: " + (r.ok() ? *r : r.status().message());
      return;
    }
    for (auto n : lab.get_array()) {
      std::string_view state, domain;
      if (n["state"].get(state) || state != "ready" || n["domain"].get(domain)) {
        error = "a node did not become ready (see " + kState + "/labvirtd.log)";
        return;
      }
      domains.emplace_back(domain);
    }
    ok = true;
  }
  ~Setup() {
    if (daemon <= 0) daemon = StartDaemon();  // the baseline stopped it: back to clean up
    if (daemon > 0) {
      auto c = ctl::Client::Connect(kSocket);
      if (c.ok()) (void)c->Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
    }
    StopDaemon(daemon);
    std::error_code ec;
    fs::remove_all(kRoot, ec);
  }
};

Setup& TheSetup() {
  static Setup s;
  return s;
}

void SaveLabvirt(benchmark::State& state) {
  Setup& s = TheSetup();
  if (!s.ok) return state.SkipWithError(s.error.c_str());
  for (auto _ : state) {
    auto c = ctl::Client::Connect(kSocket);
    if (!c.ok()) return state.SkipWithError("connect");
    auto t0 = Clock::now();
    auto r = c->Call("lab.config.save", R"({"lab":")" + kLab + R"("})");
    std::chrono::duration<double> took = Clock::now() - t0;
    if (!r.ok() || r->find(R"("failed":[])") == std::string::npos) {
      return state.SkipWithError("lab.config.save failed");
    }
    state.SetIterationTime(took.count());
    state.counters["configs_per_s"] = kNodes / took.count();
  }
}

const std::regex kPrompt(R"([\w.-]+(\([\w./-]+\))?[>#] ?$)");
// virsh console's banner; it makes the terminal raw (flushing what was typed) just before.
const std::regex kConnected(R"(Escape character is \^\])");

// Reads from `fd` until the end of what was read matches `want` (pexpect's expect), or `timeout`.
bool Expect(int fd, std::string* got, const std::regex& want, std::chrono::seconds timeout) {
  auto deadline = Clock::now() + timeout;
  char buf[4096];
  while (Clock::now() < deadline) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      got->append(buf, static_cast<size_t>(n));
      std::string tail = got->substr(got->size() > 256 ? got->size() - 256 : 0);
      if (std::regex_search(tail, want)) return true;
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return false;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  return false;
}

// One node the pexpect way: `virsh console`, wake, commands, capture, file, leave.
bool SaveOverVirshConsole(const std::string& domain, const std::string& out_path) {
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    ::execlp("virsh", "virsh", "-c", "qemu:///system", "console", "--force", domain.c_str(),
             nullptr);
    ::_exit(127);
  }
  ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
  std::string got;
  bool ok = Expect(master, &got, kConnected, std::chrono::seconds(30));
  ok = ok && ::write(master, "\r", 1) == 1 &&
       Expect(master, &got, kPrompt, std::chrono::seconds(30));
  for (const char* cmd : {"enable\r", "terminal length 0\r", "show running-config\r"}) {
    got.clear();
    ok = ok && ::write(master, cmd, std::strlen(cmd)) > 0 &&
         Expect(master, &got, kPrompt, std::chrono::seconds(30));
  }
  if (ok) std::ofstream(out_path) << got;
  (void)::write(master, "\x1d", 1);  // Ctrl-]: virsh console leaves
  ::close(master);
  ::waitpid(pid, nullptr, 0);
  return ok && got.find("\nend") != std::string::npos;
}

void SaveVirshConsole(benchmark::State& state) {
  Setup& s = TheSetup();
  if (!s.ok) return state.SkipWithError(s.error.c_str());
  // labvirtd reads every PTY; a second reader would split the bytes. Its VMs keep running.
  StopDaemon(s.daemon);
  s.daemon = -1;
  fs::create_directories(kState + "/virsh-configs");
  for (auto _ : state) {
    auto t0 = Clock::now();
    for (const auto& d : s.domains) {
      if (!SaveOverVirshConsole(d, kState + "/virsh-configs/" + d + ".cfg")) {
        return state.SkipWithError(("virsh console script failed on " + d).c_str());
      }
    }
    std::chrono::duration<double> took = Clock::now() - t0;
    state.SetIterationTime(took.count());
    state.counters["configs_per_s"] = kNodes / took.count();
  }
}

BENCHMARK(SaveLabvirt)
    ->Name("configsave50/labvirt")
    ->UseManualTime()
    ->Iterations(1)
    ->Repetitions(3)
    ->Unit(benchmark::kSecond);
BENCHMARK(SaveVirshConsole)
    ->Name("configsave50/virsh_console")
    ->UseManualTime()
    ->Iterations(1)
    ->Repetitions(3)
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace labvirt

BENCHMARK_MAIN();
