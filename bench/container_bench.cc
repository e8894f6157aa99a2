// Deploying 50 container nodes with 2 links each, to ready (issue 16's benchmark), in the same run:
//   containers50/labvirt        a fresh labvirtd (--boot-budget 8, its own socket and state dir)
//                               per repetition; one `lab.deploy` with `wait: true` of 50
//                               `linux_container` nodes (image labvirt/linux-fixture:1, "nics": 2)
//                               in a ring (node i eth1 - node i+1 eth2), timed from the call to its
//                               answer; every node must be `ready`. Containers, veth pairs into the
//                               netns, OVS ports with the links' tags, consoles and readiness are
//                               all inside the timed span. Then labvirtd's RSS with the 50 running
//                               minus its RSS once healthy, over 50: `rss_kib_per_container`.
//                               `lab.destroy` (untimed) must leave no container of the lab.
//   containers50/docker_script  what a user's script does, to the same finish line: 8 workers, each
//                               taking the next node and running, one shell command at a time,
//                               `docker run -d -t --network none --cap-add NET_ADMIN`, `docker
//                               inspect` for its PID, then per interface `ip link add HOST type
//                               veth peer name ethN netns PID`, `ip link set HOST up`, `nsenter ...
//                               ip link set ethN up` and `ovs-vsctl add-port arch-ovs HOST tag=T`
//                               (the ring link's tag), then polls `docker logs` every 0.2 s until
//                               the fixture printed its readiness text. Clean-up is untimed.
// Both report `seconds` (wall clock) and `per_node_ms`. Needs root, dockerd, libvirtd, OVS
// (./tools/setup-host) and the image from tools/mkcontainer-fixture (never pulled).
#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
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
constexpr int kParallel = 8;
const char kImage[] = "labvirt/linux-fixture:1";
const char kReady[] = "labvirt container fixture ready";
const std::string kPid = std::to_string(::getpid());
const std::string kShort = std::to_string(::getpid() % 100000);  // host names are <= 15 chars
const std::string kRoot = "/var/lib/libvirt/images/lvbench-ctr-" + kPid;
const std::string kSocket = "/tmp/lvbench-ctr-" + kPid + ".sock";
bool g_keep_logs = false;  // labvirtd's logs stay under kRoot when it failed

bool Run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

std::string Out(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>/dev/null").c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ::pclose(p);
  out.erase(out.find_last_not_of(" \n") + 1);
  return out;
}

long RssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// A fresh labvirtd on its own socket and state dir; -pid if it did not become healthy.
pid_t StartDaemon(const std::string& state) {
  fs::create_directories(kRoot + "/images");
  fs::create_directories(state);
  return bench::StartBenchDaemon({"--socket", kSocket, "--image-root", kRoot + "/images",
                                  "--state-dir", state, "--boot-budget", std::to_string(kParallel)},
                                 kSocket, state + "/labvirtd.log");
}

void StopDaemon(pid_t pid) { bench::StopBenchDaemon(pid); }

std::string Node(int i) { return "c" + std::to_string(i); }

std::string LabSpec(const std::string& lab) {
  JsonWriter w;
  w.BeginObject().Key("lab").String(lab).Key("wait").Bool(true).Key("nodes").BeginArray();
  for (int i = 0; i < kNodes; ++i) {
    w.BeginObject().Key("name").String(Node(i)).Key("kind").String("linux_container");
    w.Key("image").String(kImage).Key("nics").Int(2).EndObject();
  }
  w.EndArray().Key("links").BeginArray();
  for (int i = 0; i < kNodes; ++i) {
    w.BeginObject().Key("endpoints").BeginArray();
    w.String(Node(i) + ":eth1").String(Node((i + 1) % kNodes) + ":eth2").EndArray().EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

bool HaveImage() { return Out(std::string("docker image inspect -f ok ") + kImage) == "ok"; }

void DeployLabvirt(benchmark::State& state) {
  if (!HaveImage()) return state.SkipWithError("no labvirt/linux-fixture:1 (mkcontainer-fixture)");
  static int round = 0;  // each repetition is a new call: names and state dirs must differ
  for (auto _ : state) {
    std::string lab = "cb" + kPid + "x" + std::to_string(round);
    std::string dir = kRoot + "/state" + std::to_string(round++);
    pid_t daemon = StartDaemon(dir);
    if (daemon < 0) {
      StopDaemon(daemon);
      g_keep_logs = true;
      return state.SkipWithError(("labvirtd not healthy, see " + dir + "/labvirtd.log").c_str());
    }
    long rss0 = RssKib(daemon);
    auto c = ctl::Client::Connect(kSocket);
    if (!c.ok()) {
      StopDaemon(daemon);
      return state.SkipWithError("connect");
    }
    auto t0 = Clock::now();
    auto r = c->Call("lab.deploy", LabSpec(lab));
    std::chrono::duration<double> took = Clock::now() - t0;
    long rss1 = RssKib(daemon);
    int ready = 0;
    simdjson::dom::parser p;
    simdjson::dom::element nodes;
    if (r.ok() && !p.parse(*r).get(nodes) && !nodes["result"]["nodes"].get(nodes)) {
      for (auto n : nodes.get_array()) {
        std::string_view st;
        if (!n["state"].get(st) && st == "ready") ++ready;
      }
    }
    auto gone = c->Call("lab.destroy", R"({"lab":")" + lab + R"("})");
    std::string left = Out("docker ps -aq --filter label=labvirt.lab=" + lab);
    std::string ports = Out("ovs-vsctl --bare --columns=name find port external_ids:lab=" + lab);
    StopDaemon(daemon);
    if (ready != kNodes) {
      g_keep_logs = true;
      return state.SkipWithError(
          ("only " + std::to_string(ready) + " nodes ready, see " + dir + "/labvirtd.log").c_str());
    }
    if (!gone.ok() || gone->find("\"error\"") != std::string::npos) {
      return state.SkipWithError("lab.destroy failed");
    }
    if (!left.empty() || !ports.empty()) {
      return state.SkipWithError("a container or an OVS port outlived lab.destroy");
    }
    state.SetIterationTime(took.count());
    state.counters["seconds"] = took.count();
    state.counters["per_node_ms"] = took.count() * 1000 / kNodes;
    state.counters["rss_kib_per_container"] = static_cast<double>(rss1 - rss0) / kNodes;
  }
}

// The script's names: containers lvbench-cbPID-R-I, host ends cbPID%1e5 R n I e J.
struct ScriptNames {
  std::string prefix, veth;
  std::string Container(int i) const { return prefix + std::to_string(i); }
  std::string Host(int i, int j) const {
    return veth + "n" + std::to_string(i) + "e" + std::to_string(j);
  }
};

// One node, as a script's per-node function: run, plug two interfaces, wait for the console.
// Returns "" or the command that failed.
std::string ScriptNode(const ScriptNames& n, int i) {
  std::string name = n.Container(i);
  std::string run =
      "docker run -d -t --network none --cap-add NET_ADMIN "
      "-e 'LABVIRT_INTFS=eth1 eth2' --name " +
      name + " " + kImage;
  if (!Run(run)) return run;
  std::string pid = Out("docker inspect -f '{{.State.Pid}}' " + name);
  if (pid.empty() || pid == "0") return "docker inspect " + name;
  for (int j = 1; j <= 2; ++j) {
    // eth1 is on link i (to node i+1's eth2), eth2 on link i-1 (from node i-1's eth1).
    int tag = 3000 + (j == 1 ? i : (i + kNodes - 1) % kNodes);
    std::string host = n.Host(i, j), eth = "eth" + std::to_string(j);
    for (const std::string& cmd :
         {"ip link add " + host + " type veth peer name " + eth + " netns " + pid,
          "ip link set " + host + " up", "nsenter -t " + pid + " -n ip link set " + eth + " up",
          "ovs-vsctl add-port arch-ovs " + host + " tag=" + std::to_string(tag)}) {
      if (!Run(cmd)) return cmd;
    }
  }
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    if (Run("docker logs " + name + " 2>&1 | grep -q '" + kReady + "'")) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return name + " not ready within 60 s";
}

// Removes what the script made (untimed); true if nothing of it is left.
bool CleanScript(const ScriptNames& n) {
  std::string ovs = "ovs-vsctl", links, names;
  for (int i = 0; i < kNodes; ++i) {
    names += " " + n.Container(i);
    for (int j = 1; j <= 2; ++j) {
      ovs += " -- --if-exists del-port arch-ovs " + n.Host(i, j);
      links += "ip link del " + n.Host(i, j) + " 2>/dev/null; ";
    }
  }
  Run(ovs);
  Run("sh -c '" + links + "true'");
  Run("timeout 120 docker rm -f" + names);  // a dockerd that lost a container's shim hangs here
  return Out("docker ps -aq --filter name=" + n.prefix).empty() &&
         Out("ip -br link | grep -c '^" + n.veth + "n'") == "0" &&
         Out("ovs-vsctl list-ports arch-ovs | grep -c '^" + n.veth + "n'") == "0";
}

void DeployDockerScript(benchmark::State& state) {
  if (!HaveImage()) return state.SkipWithError("no labvirt/linux-fixture:1 (mkcontainer-fixture)");
  if (!Run("ovs-vsctl br-exists arch-ovs")) return state.SkipWithError("no OVS bridge arch-ovs");
  static int round = 0;
  for (auto _ : state) {
    ScriptNames n{"lvbench-cb" + kPid + "-" + std::to_string(round) + "-",
                  "cb" + kShort + std::to_string(round % 10)};
    ++round;
    std::atomic<int> next{0};
    std::atomic<bool> failed{false};
    std::mutex mu;
    std::string why;
    auto t0 = Clock::now();
    std::vector<std::thread> workers;
    for (int w = 0; w < kParallel; ++w) {
      workers.emplace_back([&] {
        for (int i; !failed && (i = next++) < kNodes;) {
          std::string err = ScriptNode(n, i);
          if (!err.empty()) {
            std::lock_guard lock(mu);
            why = err;
            failed = true;
          }
        }
      });
    }
    for (auto& t : workers) t.join();
    std::chrono::duration<double> took = Clock::now() - t0;
    bool clean = CleanScript(n);
    if (failed) return state.SkipWithError(("the docker script failed: " + why).c_str());
    if (!clean) return state.SkipWithError("a container, veth or OVS port outlived clean-up");
    state.SetIterationTime(took.count());
    state.counters["seconds"] = took.count();
    state.counters["per_node_ms"] = took.count() * 1000 / kNodes;
  }
}

BENCHMARK(DeployLabvirt)
    ->Name("containers50/labvirt")
    ->UseManualTime()
    ->Iterations(1)
    ->Repetitions(3)
    ->Unit(benchmark::kSecond);
BENCHMARK(DeployDockerScript)
    ->Name("containers50/docker_script")
    ->UseManualTime()
    ->Iterations(1)
    ->Repetitions(3)
    ->Unit(benchmark::kSecond);

struct RemoveRoot {
  ~RemoveRoot() {
    std::error_code ec;
    if (!g_keep_logs) fs::remove_all(kRoot, ec);
  }
} remove_root;

}  // namespace
}  // namespace labvirt

BENCHMARK_MAIN();
