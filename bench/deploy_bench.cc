// Deploying 50 fixture VMs (issue 4's benchmark), in the same run:
//   deploy50/labvirt  lab.deploy through a real labvirtd (--boot-budget 8) until every node is
//                     running with its console attached and its NICs on the bridge (`booting`);
//                     the counter `ready_s` goes on until every node printed its readiness text.
//                     Overlays, definitions, consoles and ports are all inside the timed span.
//   deploy50/virsh    what a user does by hand: the same domains (same XML, same overlays)
//                     defined beforehand (untimed), then `virsh start` run 8 at a time (timed).
// Both report `seconds` (wall clock). Needs root, libvirtd, OVS (./tools/setup-host) and
// tools/mkfixture. Each repetition boots 100 TCG VMs, so this runs 2 repetitions whatever
// --benchmark_repetitions says.
#include <libvirt/libvirt.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "bench/virsh_domains.h"
#include "benchmark/benchmark.h"
#include "engine/catalog/catalog.h"
#include "providers/domain_xml.h"
#include "providers/node_naming.h"
#include "tools/ctl/client.h"

namespace labvirt {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr int kNodes = 50;
constexpr int kParallel = 8;
const std::string kPid = std::to_string(::getpid());
const std::string kRoot = "/var/lib/libvirt/images/lvbench-deploy-" + kPid;
const std::string kImages = kRoot + "/images";
const std::string kState = kRoot + "/state";
const std::string kSocket = "/tmp/lvbench-deploy-" + kPid + ".sock";

bool Run(const std::string& cmd) { return std::system(cmd.c_str()) == 0; }

// The fixture image and a running labvirtd, made once for every repetition.
struct Setup {
  bool ok = false;
  std::string error;
  pid_t daemon = -1;

  Setup() {
    fs::create_directories(kImages);
    fs::create_directories(kState);
    std::string mk = std::string(LABVIRT_SOURCE_DIR) + "/tools/mkfixture --transcript " +
                     LABVIRT_SOURCE_DIR + "/tests/data/consoles/iosv.txt --out " + kImages +
                     "/iosv.qcow2 --acpi graceful --speed fast >/dev/null";
    if (!Run(mk)) {
      error = "tools/mkfixture failed";
      return;
    }
    daemon = ::fork();
    if (daemon == 0) {
      FILE* f = std::fopen((kState + "/labvirtd.log").c_str(), "a");
      if (f) ::dup2(fileno(f), STDERR_FILENO);
      ::execl(LABVIRTD_PATH, LABVIRTD_PATH, "--socket", kSocket.c_str(), "--image-root",
              kImages.c_str(), "--state-dir", kState.c_str(), "--boot-budget",
              std::to_string(kParallel).c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 300 && !ok; ++i) {
      auto c = ctl::Client::Connect(kSocket);
      if (c.ok()) {
        auto r = c->Call("host.info", "{}");
        ok = r.ok() && r->find("\"healthy\":true") != std::string::npos;
      }
      if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!ok) error = "labvirtd did not become healthy (see " + kState + "/labvirtd.log)";
  }
  ~Setup() {
    if (daemon > 0) {
      ::kill(daemon, SIGTERM);
      ::waitpid(daemon, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(kRoot, ec);
  }
};

Setup& TheSetup() {
  static Setup s;
  return s;
}

void DeployLabvirt(benchmark::State& state) {
  Setup& s = TheSetup();
  if (!s.ok) return state.SkipWithError(s.error.c_str());
  int round = 0;
  for (auto _ : state) {
    std::string lab = "bd" + kPid + "x" + std::to_string(round++);
    auto events = ctl::Client::Connect(kSocket);
    if (!events.ok()) return state.SkipWithError("connect");
    auto sub =
        events->Call("events.subscribe", R"({"labs":[")" + lab + R"("],"types":["node.state"]})");
    if (!sub.ok()) return state.SkipWithError("subscribe");
    auto deployer = ctl::Client::Connect(kSocket);
    if (!deployer.ok()) return state.SkipWithError("connect");
    auto t0 = Clock::now();
    if (!deployer->Send("lab.deploy", bench::FixtureLabSpec(lab, kNodes), 1).ok())
      return state.SkipWithError("send");
    auto fail = [&](const char* why) {
      // Leave nothing behind for the next repetition (or the host).
      (void)ctl::Client::Connect(kSocket)->Call("lab.destroy", R"({"lab":")" + lab + R"("})");
      state.SkipWithError(why);
    };
    std::set<std::string> running, ready;
    Clock::time_point t_running{}, t_ready{};
    simdjson::dom::parser parser;
    while (ready.size() < kNodes) {
      auto line = events->ReadLine();
      if (!line.ok()) return fail("event stream ended");
      simdjson::dom::element ev;
      if (parser.parse(*line).get(ev)) continue;
      std::string_view node, st;
      if (ev["params"]["node"].get_string().get(node) ||
          ev["params"]["data"]["state"].get_string().get(st)) {
        continue;
      }
      if (st == "failed") return fail("a node failed to boot (see the labvirtd log)");
      if (st == "booting" || st == "ready") running.insert(std::string(node));
      if (st == "ready") ready.insert(std::string(node));
      if (running.size() == kNodes && t_running == Clock::time_point{}) t_running = Clock::now();
    }
    t_ready = Clock::now();
    std::chrono::duration<double> to_running = t_running - t0, to_ready = t_ready - t0;
    state.SetIterationTime(to_running.count());
    state.counters["seconds"] = to_running.count();
    state.counters["ready_s"] = to_ready.count();
    (void)deployer->ReadLine();  // the deploy's own answer
    auto gone = ctl::Client::Connect(kSocket)->Call("lab.destroy", R"({"lab":")" + lab + R"("})");
    if (!gone.ok() || gone->find("\"error\"") != std::string::npos) {
      return state.SkipWithError("lab.destroy failed");
    }
  }
}

// The same domains as labvirt defines (same kind, overlays, NIC count), made by hand.
void DeployVirsh(benchmark::State& state) {
  Setup& s = TheSetup();
  if (!s.ok) return state.SkipWithError(s.error.c_str());
  auto catalog = engine::LoadCatalog(engine::DefaultCatalogPath());
  if (!catalog.ok()) return state.SkipWithError("catalog");
  auto kind = catalog->Resolve("iosv");
  if (!kind.ok()) return state.SkipWithError("kind");
  providers::DeviceKind k = *kind;
  k.memory_mb = 64;
  int round = 0;
  for (auto _ : state) {
    std::string lab = "bv" + kPid + "x" + std::to_string(round++);
    virConnectPtr conn = virConnectOpen("qemu:///system");
    if (conn == nullptr) return state.SkipWithError("libvirt");
    auto defined =
        bench::DefineByHand(conn, lab, kNodes, k, "iosv", kImages + "/iosv.qcow2", kState);
    if (!defined.ok()) return state.SkipWithError(defined.status().message().c_str());
    const std::vector<std::string>& names = *defined;
    std::string list = kState + "/virsh-names";
    {
      std::ofstream out(list);
      for (const auto& n : names) out << n << "\n";
    }
    auto t0 = Clock::now();
    // 50 VMs with cache='none' need about 43k of the host's fs.aio-max-nr (setup-host raises it).
    bool started = Run("xargs -P " + std::to_string(kParallel) + " -n 1 virsh -q start < " + list +
                       " >/dev/null");
    std::chrono::duration<double> took = Clock::now() - t0;
    state.SetIterationTime(took.count());
    state.counters["seconds"] = took.count();
    bench::RemoveByHand(conn, names, lab, kState);
    virConnectClose(conn);
    if (!started) return state.SkipWithError("virsh start failed");
  }
}

BENCHMARK(DeployLabvirt)
    ->Name("deploy50/labvirt")
    ->UseManualTime()
    ->Iterations(1)
    ->Repetitions(2)
    ->Unit(benchmark::kSecond);
BENCHMARK(DeployVirsh)
    ->Name("deploy50/virsh")
    ->UseManualTime()
    ->Iterations(1)
    ->Repetitions(2)
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace labvirt

BENCHMARK_MAIN();
