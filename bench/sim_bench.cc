// The 5000-node simulation (issue 20): the real engine, control server and console hubs
// (bench/sim_daemon.h) over the fake hypervisor, every node's console a real PTY pair written by
// a simulated device (bench/sim_devices.h), at N = 50, 500 and 5000 nodes. Per N it measures what
// should stay flat per node:
//   - labvirtd's CPU per console byte: the loop thread's CPU time over 5 s of steady output (one
//     80-byte line per node per second) divided by the bytes written;
//   - RSS per node: the process's VmRSS with N nodes ready minus before the deploy, less what the
//     fake hypervisor holds (domain XML and metadata) and what the scrollback rings hold;
//   - lab.get (a 50-node lab) and node.get latency over the control socket, one client: on
//     random labs, on one lab (its records in the CPU's caches, as the only lab at N=50 always
//     is), and on random labs with the consoles quiet;
//   - event fan-out latency: 50 nodes restarted with node.restart; prompt byte written by the
//     device -> the node's `ready` event read by a subscribed client;
//   - reconcile after a restart: a new engine adopting N running domains (the pass's wall and
//     loop CPU time, and the wall time until every node is ready again).
// Nodes come in labs of 50 (N/50 labs, deployed over the socket with lab.deploy), so the lab.get
// answer is the same size at every N. Overlays are pre-made (hard links of one qcow2 overlay):
// qemu-img is not what is measured. Needs a PTY per node (kernel.pty.max, tools/setup-host) and
// about 3 fds per node (RLIMIT_NOFILE is raised, past its hard limit when root).
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench/line_client.h"
#include "bench/sim_daemon.h"
#include "bench/sim_devices.h"
#include "benchmark/benchmark.h"
#include "providers/state_paths.h"
#include "reactor/base/log.h"
#include "tests/support/shell.h"

namespace labvirt::bench {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kLabSize = 50;
constexpr int kRestarts = 50;
constexpr int kQueries = 300;
constexpr auto kSteadyWindow = 5s;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

std::string LabName(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "s%03d", i);
  return buf;
}
std::string NodeName(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "n%02d", i);
  return buf;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(static_cast<double>(v.size()) * p));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

double RssKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6);
  }
  return 0;
}

// Bytes malloc has handed out and not had back, over every arena (mallinfo2 sums them): what
// the process's data take, apart from the heap pages malloc keeps without a use (fragmentation,
// arenas' slack), which VmRSS also counts.
double HeapInUseKib() {
  struct mallinfo2 m = mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd) / 1024;
}

// The string value of "key":"…" in `line` ("" when absent).
std::string Field(const std::string& line, const std::string& key) {
  const std::string k = "\"" + key + "\":\"";
  size_t at = line.find(k);
  if (at == std::string::npos) return "";
  at += k.size();
  return line.substr(at, line.find('"', at) - at);
}

// A client subscribed to node.state events, recording when each node's `ready` event was read.
class ReadyWatcher {
 public:
  explicit ReadyWatcher(const std::string& socket) : fd_(Connect(socket, 1)), reader_(fd_) {
    std::string resp = Call(
        fd_, reader_,
        R"({"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{"types":["node.state"]}})");
    ok_ = resp.find("\"subscribed\":true") != std::string::npos;
    thread_ = std::thread([this] { Main(); });
  }
  ~ReadyWatcher() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  bool ok() const { return ok_; }
  int ready_events() const { return ready_.load(); }
  // "lab/node" -> when its last ready event was read (steady clock ns), since the last call.
  std::map<std::string, int64_t> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(times_, {});
  }

 private:
  void Main() {
    std::string line;
    while (!stop_) {
      errno = 0;
      if (!reader_.Next(&line)) {
        // The 1 s timeout: look at stop_. Anything else (the server went away at the restart)
        // ends the watch rather than spinning on a closed socket.
        if (errno == EAGAIN || errno == EWOULDBLOCK) continue;
        break;
      }
      int64_t now = NowNs();
      if (line.find(R"("data":{"state":"ready")") == std::string::npos) continue;
      ++ready_;
      std::lock_guard<std::mutex> lock(mu_);
      times_[Field(line, "lab") + "/" + Field(line, "node")] = now;
    }
  }

  int fd_;
  LineReader reader_;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> ready_{0};
  std::mutex mu_;
  std::map<std::string, int64_t> times_;
  std::thread thread_;
};

// "lv-LAB-NODE-TAG" -> "LAB/NODE" (the simulation's names have no '-').
std::string KeyOfDomain(const std::string& domain) {
  size_t a = domain.find('-') + 1, b = domain.find('-', a), c = domain.find('-', b + 1);
  return domain.substr(a, b - a) + "/" + domain.substr(b + 1, c - b - 1);
}

struct Sim {
  std::string dir;
  int nodes = 0;
  std::vector<std::pair<std::string, std::string>> names;
};

// The directory, a raw base image, and every node's overlay made beforehand (hard links of one).
std::string Prepare(Sim& sim) {
  sim.dir = "/tmp/labvirt-sim-bench-" + std::to_string(::getpid());
  fs::remove_all(sim.dir);
  fs::create_directories(sim.dir + "/images");
  const std::string image = sim.dir + "/images/disk.img";
  {
    std::ofstream img(image, std::ios::binary);
    std::string bytes(1 << 20, '\0');
    bytes[510] = '\x55';
    bytes[511] = '\xaa';
    img << bytes;
  }
  const std::string overlay = sim.dir + "/template.qcow2";
  int rc = -1;
  testing::Sh("qemu-img create -q -f qcow2 -F raw -b " + image + " " + overlay, &rc);
  if (rc != 0) return "qemu-img create failed";
  for (const auto& [lab, node] : sim.names) {
    std::string path = providers::OverlayPath(sim.dir + "/state", lab, node);
    fs::create_directories(fs::path(path).parent_path());
    std::error_code ec;
    fs::create_hard_link(overlay, path, ec);
    if (ec) return "link " + path + ": " + ec.message();
  }
  return "";
}

// Enough PTYs and fds for `nodes` consoles, or why not.
std::string Limits(int nodes) {
  // Per node: the fake's master and labvirtd's slave (two in direct-read mode).
  const rlim_t want = static_cast<rlim_t>(3 * nodes + 1024);
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_max < want) rl.rlim_max = want;  // root may raise it (up to fs.nr_open)
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want) {
    return "RLIMIT_NOFILE hard limit " + std::to_string(rl.rlim_max) + " is too low";
  }
  std::ifstream in("/proc/sys/kernel/pty/max");
  int max = 0;
  in >> max;
  if (max < nodes + 1100) {  // the other users' PTYs, and the 1024 that devpts reserves
    return "kernel.pty.max is " + std::to_string(max) + ": run tools/setup-host";
  }
  return "";
}

// Deploys every lab over the socket (lab.deploy, 8 requests in flight) and waits until every
// node's ready event was read.
std::string Deploy(const Sim& sim, SimDaemon& daemon, ReadyWatcher& watcher) {
  int fd = Connect(daemon.socket(), 60);
  LineReader reader(fd);
  const int labs = sim.nodes / kLabSize;
  int sent = 0, answered = 0;
  std::string error;
  while (answered < labs && error.empty()) {
    while (sent < labs && sent - answered < 8) {
      std::string nodes;
      for (int n = 0; n < kLabSize; ++n) {
        if (n > 0) nodes += ",";
        nodes += R"({"name":")" + NodeName(n) + R"(","kind":"linux","image":"disk.img","nics":1})";
      }
      std::string req = R"({"jsonrpc":"2.0","id":)" + std::to_string(sent) +
                        R"(,"method":"lab.deploy","params":{"name":")" + LabName(sent) +
                        R"(","nodes":[)" + nodes + "]}}\n";
      ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
      ++sent;
    }
    std::string resp;
    if (!reader.Next(&resp)) error = "no answer to lab.deploy";
    if (resp.find("\"result\"") == std::string::npos) error = "lab.deploy: " + resp.substr(0, 300);
    ++answered;
  }
  ::close(fd);
  if (!error.empty()) return error;
  auto deadline = Clock::now() + 300s;
  while (watcher.ready_events() < sim.nodes && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  if (watcher.ready_events() < sim.nodes) {
    return std::to_string(watcher.ready_events()) + " of " + std::to_string(sim.nodes) + " ready";
  }
  return "";
}

// kQueries of lab.get and of node.get, alternating, on random nodes among the first `among` of
// sim.names (lab by lab: kLabSize is the first lab's) and their labs; counters named `prefix` +
// lab_get_p50_ms etc.
void Queries(benchmark::State& state, const Sim& sim, const std::string& socket, size_t among,
             const std::string& prefix) {
  int fd = Connect(socket, 10);
  LineReader reader(fd);
  std::vector<double> lab_ms, node_ms;
  unsigned seed = 1;
  for (int i = 0; i < kQueries; ++i) {
    const auto& [lab, node] = sim.names[rand_r(&seed) % among];
    std::string q1 =
        R"({"jsonrpc":"2.0","id":1,"method":"lab.get","params":{"lab":")" + lab + R"("}})";
    std::string q2 = R"({"jsonrpc":"2.0","id":2,"method":"node.get","params":{"lab":")" + lab +
                     R"(","node":")" + node + R"("}})";
    int64_t t0 = NowNs();
    bool ok = Call(fd, reader, q1).find("\"result\"") != std::string::npos;
    int64_t t1 = NowNs();
    ok = Call(fd, reader, q2).find("\"result\"") != std::string::npos && ok;
    int64_t t2 = NowNs();
    if (!ok) state.counters["query_errors"] += 1;
    lab_ms.push_back(static_cast<double>(t1 - t0) / 1e6);
    node_ms.push_back(static_cast<double>(t2 - t1) / 1e6);
  }
  ::close(fd);
  state.counters[prefix + "lab_get_p50_ms"] = Percentile(lab_ms, 0.5);
  state.counters[prefix + "lab_get_p99_ms"] = Percentile(lab_ms, 0.99);
  state.counters[prefix + "node_get_p50_ms"] = Percentile(node_ms, 0.5);
  state.counters[prefix + "node_get_p99_ms"] = Percentile(node_ms, 0.99);
}

// Restarts kRestarts nodes spread over the labs, 20 ms apart, and measures prompt -> ready event.
std::string Restarts(benchmark::State& state, const Sim& sim, SimDaemon& daemon,
                     SimDevices& devices, ReadyWatcher& watcher) {
  devices.TakePromptTimes();
  watcher.Take();
  int fd = Connect(daemon.socket(), 10);
  LineReader reader(fd);
  std::set<std::string> sample;
  const size_t step = sim.names.size() / kRestarts;
  for (int i = 0; i < kRestarts; ++i) {
    // A different lab each time where there are enough, a different node name too.
    const size_t pick = static_cast<size_t>(i) * step + (step >= kLabSize ? i % kLabSize : 0);
    const auto& [lab, node] = sim.names[pick];
    sample.insert(lab + "/" + node);
    std::string resp = Call(fd, reader,
                            R"({"jsonrpc":"2.0","id":3,"method":"node.restart","params":{"lab":")" +
                                lab + R"(","node":")" + node + R"("}})");
    if (resp.find("\"result\"") == std::string::npos) return "node.restart: " + resp;
    std::this_thread::sleep_for(20ms);
  }
  ::close(fd);
  std::map<std::string, int64_t> prompts, ready;
  auto deadline = Clock::now() + 60s;
  while (Clock::now() < deadline) {
    for (auto& [domain, t] : devices.TakePromptTimes()) prompts[KeyOfDomain(domain)] = t;
    for (auto& [key, t] : watcher.Take()) ready[key] = t;
    size_t seen = 0;
    for (const auto& key : sample) seen += prompts.count(key) && ready.count(key);
    if (seen == sample.size()) break;
    std::this_thread::sleep_for(20ms);
  }
  std::vector<double> ms;
  for (const auto& key : sample) {
    if (prompts.count(key) && ready.count(key)) {
      ms.push_back(static_cast<double>(ready[key] - prompts[key]) / 1e6);
    }
  }
  if (ms.size() != sample.size()) {
    return std::to_string(ms.size()) + " of " + std::to_string(sample.size()) + " restarts seen";
  }
  state.counters["ready_p50_ms"] = Percentile(ms, 0.5);
  state.counters["ready_p99_ms"] = Percentile(ms, 0.99);
  return "";
}

void RunSim(benchmark::State& state) {
  Sim sim;
  sim.nodes = static_cast<int>(state.range(0));
  for (int l = 0; l < sim.nodes / kLabSize; ++l) {
    for (int n = 0; n < kLabSize; ++n) sim.names.emplace_back(LabName(l), NodeName(n));
  }
  auto fail = [&](const std::string& why) { state.SkipWithError(why.c_str()); };
  if (std::string why = Limits(sim.nodes); !why.empty()) return fail(why);
  if (std::string why = Prepare(sim); !why.empty()) return fail(why);
  {
    SimDevices devices(SimDeviceOptions{});
    SimDaemon daemon(sim.dir, devices);
    const double rss0 = RssKib();
    const double heap0 = HeapInUseKib();
    ReadyWatcher watcher(daemon.socket());
    if (!watcher.ok()) return fail("events.subscribe failed");
    auto t0 = Clock::now();
    if (std::string why = Deploy(sim, daemon, watcher); !why.empty()) return fail(why);
    state.counters["deploy_s"] = std::chrono::duration<double>(Clock::now() - t0).count();

    // Steady output: CPU per console byte, RSS per node.
    devices.SetSteady(true);
    std::this_thread::sleep_for(2s);  // every console's first steady line is out
    const double cpu0 = daemon.LoopCpuSeconds();
    const uint64_t bytes0 = devices.bytes_written();
    std::this_thread::sleep_for(kSteadyWindow);
    const double cpu = daemon.LoopCpuSeconds() - cpu0;
    const double bytes = static_cast<double>(devices.bytes_written() - bytes0);
    state.counters["console_bytes_per_s"] =
        bytes / std::chrono::duration<double>(kSteadyWindow).count();
    state.counters["loop_cpu_pct"] =
        100 * cpu / std::chrono::duration<double>(kSteadyWindow).count();
    state.counters["loop_ns_per_console_byte"] = bytes > 0 ? cpu * 1e9 / bytes : 0;
    const double rss = RssKib();
    SimHeld held = daemon.Held(sim.names);
    state.counters["rss_kib_per_node"] = (rss - rss0) / sim.nodes;
    state.counters["rss_kib_per_node_beyond_scrollback"] =
        (rss - rss0 - static_cast<double>(held.hypervisor_bytes + held.scrollback_bytes) / 1024) /
        sim.nodes;
    // The same beyond-scrollback figure from malloc's count instead of VmRSS: if this one is
    // flat in N where RSS is not, the growth is the allocator's slack, not labvirt's records.
    state.counters["heap_kib_per_node_beyond_scrollback"] =
        (HeapInUseKib() - heap0 -
         static_cast<double>(held.hypervisor_bytes + held.scrollback_bytes) / 1024) /
        sim.nodes;
    state.counters["scrollback_kib_per_node"] =
        static_cast<double>(held.scrollback_bytes) / 1024 / sim.nodes;

    Queries(state, sim, daemon.socket(), sim.names.size(), "");
    // What a query costs apart from where its lab lies in memory: the same queries on one lab,
    // whose records stay in the CPU's caches (at N=50 every query is on the only lab; at 5000 a
    // random lab's 50 node records are rarely cached); and with the consoles quiet, apart from
    // the N lines a second that the loop and the host's cores also serve.
    Queries(state, sim, daemon.socket(), kLabSize, "one_lab_");
    devices.SetSteady(false);
    std::this_thread::sleep_for(1500ms);  // the last steady lines are read
    Queries(state, sim, daemon.socket(), sim.names.size(), "quiet_");
    devices.SetSteady(true);
    if (std::string why = Restarts(state, sim, daemon, devices, watcher); !why.empty()) {
      return fail(why);
    }

    // labvirtd restarted over N running domains.
    auto r0 = Clock::now();
    SimDaemon::PassTimes pass = daemon.RestartAndReconcile();
    if (pass.wall < 0) return fail("reconcile failed");
    while (daemon.Held(sim.names).ready < sim.nodes && Clock::now() < r0 + 120s) {
      std::this_thread::sleep_for(10ms);
    }
    double all_ready = std::chrono::duration<double>(Clock::now() - r0).count();
    held = daemon.Held(sim.names);
    if (held.ready < sim.nodes) {
      return fail(std::to_string(held.ready) + " of " + std::to_string(sim.nodes) +
                  " ready after the reconcile");
    }
    // Wall time on this shared host is mostly waiting for a core; the loop's CPU is the cost.
    state.counters["reconcile_s"] = pass.wall;
    state.counters["reconcile_ms_per_node"] = pass.wall * 1e3 / sim.nodes;
    state.counters["reconcile_cpu_ms_per_node"] = pass.cpu * 1e3 / sim.nodes;
    state.counters["readopted_s"] = all_ready;
    state.counters["dropped_console_bytes"] = static_cast<double>(devices.dropped_bytes());
    state.counters["nodes"] = sim.nodes;
  }
  std::error_code ec;
  fs::remove_all(sim.dir, ec);
}

void BM_Sim(benchmark::State& state) {
  SetLogLevel(std::getenv("LABVIRT_BENCH_LOG") ? LogLevel::kDebug : LogLevel::kWarn);
  for (auto _ : state) RunSim(state);
}

BENCHMARK(BM_Sim)
    ->Name("sim")
    ->ArgName("nodes")
    ->Arg(50)
    ->Arg(500)
    ->Arg(5000)
    ->Iterations(1)
    ->Repetitions(3)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace labvirt::bench

BENCHMARK_MAIN();
