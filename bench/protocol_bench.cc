// Control protocol: node.get round trips per second and their latency at 1, 16 and 256 concurrent
// clients, and event fan-out latency to 100 subscribers (engine event published -> each
// subscriber has read its line).
//
// labvirt's side is the real path: ControlServer + RpcMethods + LabEngine (a lab of two defined
// nodes deployed over the socket into an in-process FakeHypervisor), on one reactor thread pinned
// to CPU 0. The baseline is what one would write by hand: a plain epoll loop that reads lines,
// parses each request with simdjson and writes the same answer (the same node JSON) with write(),
// on the same pinned thread. Clients are blocking sockets, one thread each, no pipelining: each
// sends a request and waits for its answer; they run on the other CPUs.
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bench/epoll_loop.h"
#include "bench/line_client.h"
#include "bench/protocol_servers.h"
#include "bench/reactor_options.h"
#include "benchmark/benchmark.h"
#include "engine/catalog/catalog.h"
#include "engine/control/control_server.h"
#include "engine/control/rpc_methods.h"
#include "engine/lab/lab_engine.h"
#include "engine/lab/network_plumber.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"
#include "reactor/worker_pool.h"
#include "tests/support/fake_hypervisor.h"

namespace labvirt::bench {
namespace {

using engine::EngineEvent;
constexpr auto kWarmup = std::chrono::milliseconds(200);
constexpr auto kMeasure = std::chrono::seconds(1);
constexpr int kSubscribers = 100;
constexpr auto kEventPeriod = std::chrono::milliseconds(5);

void PinClient() {
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (long c = 1; c < cpus; ++c) CPU_SET(static_cast<int>(c), &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

class LabvirtServer final : public Server {
 public:
  explicit LabvirtServer(std::string dir) : dir_(std::move(dir)) {
    std::promise<void> ready;
    thread_ = std::thread([this, &ready] { Main(ready); });
    ready.get_future().wait();
    // The lab node.get asks about: two defined nodes, deployed over the socket.
    int fd = Connect(socket());
    LineReader reader(fd);
    std::string resp =
        Call(fd, reader,
             R"({"jsonrpc":"2.0","id":1,"method":"lab.deploy","params":{"name":"bench","nodes":[)"
             R"({"name":"r1","kind":"iosv","image":"disk.img","start":false},)"
             R"({"name":"r2","kind":"iosv","image":"disk.img","start":false}]}})");
    if (resp.find("\"result\"") == std::string::npos) {
      std::fprintf(stderr, "protocol_bench: deploy failed: %s\n", resp.c_str());
      std::abort();
    }
    resp = Call(
        fd, reader,
        R"({"jsonrpc":"2.0","id":2,"method":"node.get","params":{"lab":"bench","node":"r1"}})");
    size_t at = resp.find("\"result\":");
    if (at == std::string::npos) std::abort();
    g_node_json = resp.substr(at + 9, resp.size() - at - 10);
    if (std::getenv("LABVIRT_BENCH_SHOW_NODE")) std::fprintf(stderr, "%s\n", g_node_json.c_str());
    ::close(fd);
  }
  ~LabvirtServer() override {
    reactor_->Post([r = reactor_] { r->Stop(); });
    thread_.join();
  }
  std::string socket() const { return dir_ + "/labvirtd.sock"; }
  // How the reactor got its completions from the kernel: the benchmark's label.
  const std::string& mode() const { return mode_; }
  double CpuSeconds() override {
    std::promise<double> p;
    reactor_->Post([&p] { p.set_value(ThreadCpuSeconds()); });
    return p.get_future().get();
  }
  void PublishOne() override {
    reactor_->Post([this] {
      rpc_->Publish(
          EngineEvent{"node.state", "bench", "r1", "{\"ts\":" + std::to_string(NowNs()) + "}"});
    });
  }

 private:
  void Main(std::promise<void>& ready) {
    PinServer();
    auto reactor = reactor::Reactor::Create(BenchReactorOptions());
    auto catalog = engine::LoadCatalog(engine::DefaultCatalogPath());
    if (!reactor.ok() || !catalog.ok()) std::abort();
    reactor::WorkerPool pool(**reactor, 1, 64);
    testing::FakeHypervisor hv(**reactor);
    engine::NullPlumber plumber;
    engine::EngineOptions options;
    options.image_root = dir_ + "/images";
    options.state_dir = dir_ + "/state";
    engine::LabEngine lab_engine(**reactor, pool, hv, plumber, *catalog, options);
    engine::ControlServer server(**reactor, engine::ControlServerOptions{});
    engine::RpcMethods rpc(server, lab_engine, *catalog, pool);
    rpc.Register();
    if (!server.Listen(socket()).ok()) std::abort();
    reactor_ = reactor->get();
    rpc_ = &rpc;
    mode_ = TaskRunName((*reactor)->task_run());
    ready.set_value();
    (*reactor)->Run();
  }

  std::string dir_;
  std::string mode_;
  reactor::Reactor* reactor_ = nullptr;
  engine::RpcMethods* rpc_ = nullptr;
  std::thread thread_;
};

struct Measured {
  uint64_t requests = 0;
  std::vector<int64_t> latency_ns;
  uint64_t errors = 0;
};

// 0: warming up, 1: measuring, 2: stop.
void ClientMain(const std::string& path, const std::atomic<int>& phase, Measured* m) {
  PinClient();
  int fd = Connect(path);
  LineReader reader(fd);
  m->latency_ns.reserve(1 << 16);
  std::string resp;
  for (uint64_t id = 1; phase.load(std::memory_order_relaxed) != 2; ++id) {
    std::string req = R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
                      R"(,"method":"node.get","params":{"lab":"bench","node":"r1"}})"
                      "\n";
    int64_t t0 = NowNs();
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()) ||
        !reader.Next(&resp)) {
      ++m->errors;
      break;
    }
    int64_t t1 = NowNs();
    std::string want = R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"result":{)";
    if (resp.compare(0, want.size(), want) != 0) ++m->errors;
    if (phase.load(std::memory_order_relaxed) == 1) {
      ++m->requests;
      m->latency_ns.push_back(t1 - t0);
    }
  }
  ::close(fd);
}

double Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(static_cast<double>(v.size()) * p));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return static_cast<double>(v[k]);
}

void RunRequests(benchmark::State& state, Server& server, const std::string& path) {
  const int clients = static_cast<int>(state.range(0));
  std::atomic<int> phase{0};
  std::vector<Measured> m(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) threads.emplace_back(ClientMain, path, std::cref(phase), &m[i]);
  std::this_thread::sleep_for(kWarmup);
  double cpu0 = server.CpuSeconds();
  auto t0 = Clock::now();
  phase = 1;
  std::this_thread::sleep_for(kMeasure);
  phase = 2;
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = server.CpuSeconds() - cpu0;
  for (auto& t : threads) t.join();
  Measured all;
  for (auto& x : m) {
    all.requests += x.requests;
    all.errors += x.errors;
    all.latency_ns.insert(all.latency_ns.end(), x.latency_ns.begin(), x.latency_ns.end());
  }
  state.counters["requests_per_second"] = static_cast<double>(all.requests) / wall;
  state.counters["p50_latency_ms"] = Percentile(all.latency_ns, 0.50) / 1e6;
  state.counters["p99_latency_ms"] = Percentile(all.latency_ns, 0.99) / 1e6;
  state.counters["server_cpu_pct"] = 100.0 * cpu / wall;
  // Requests per second of server CPU: the rate one fully busy core would serve.
  state.counters["requests_per_cpu_second"] = cpu > 0 ? static_cast<double>(all.requests) / cpu : 0;
  state.counters["errors"] = static_cast<double>(all.errors);
}

// Each subscriber reads its events on its own blocking socket and records publish->read times.
void SubscriberMain(int fd, const std::atomic<bool>& stop, std::vector<int64_t>* lat,
                    std::atomic<uint64_t>* errors) {
  PinClient();
  LineReader reader(fd);
  std::string line;
  timeval tv{0, 100000};  // wake up now and then to see `stop`
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (!stop.load()) {
    if (!reader.Next(&line)) continue;
    int64_t now = NowNs();
    size_t at = line.find("\"ts\":");
    if (at == std::string::npos) {
      ++*errors;
      continue;
    }
    lat->push_back(now - std::strtoll(line.c_str() + at + 5, nullptr, 10));
  }
}

void RunFanout(benchmark::State& state, Server& server, const std::string& path) {
  std::vector<int> fds;
  for (int i = 0; i < kSubscribers; ++i) {
    int fd = Connect(path);
    LineReader reader(fd);
    std::string resp =
        Call(fd, reader, R"({"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{}})");
    if (resp.find("\"subscribed\":true") == std::string::npos) std::abort();
    fds.push_back(fd);
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> errors{0};
  std::vector<std::vector<int64_t>> lat(kSubscribers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kSubscribers; ++i) {
    threads.emplace_back(SubscriberMain, fds[i], std::cref(stop), &lat[i], &errors);
  }
  std::this_thread::sleep_for(kWarmup / 2);  // every subscriber thread is reading
  double cpu0 = server.CpuSeconds();
  auto t0 = Clock::now();
  // Events on a fixed schedule, the same for both servers.
  uint64_t published = 0;
  for (auto next = t0; next < t0 + kMeasure; next += kEventPeriod, ++published) {
    std::this_thread::sleep_until(next);
    server.PublishOne();
  }
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = server.CpuSeconds() - cpu0;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the last lines arrive
  stop = true;
  for (auto& t : threads) t.join();
  for (int fd : fds) ::close(fd);
  std::vector<int64_t> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  state.counters["p50_latency_ms"] = Percentile(all, 0.50) / 1e6;
  state.counters["p99_latency_ms"] = Percentile(all, 0.99) / 1e6;
  state.counters["server_cpu_pct"] = 100.0 * cpu / wall;
  state.counters["events_published"] = static_cast<double>(published);
  // Every subscriber must have read every event; anything else is a lost line.
  state.counters["lines_lost"] =
      static_cast<double>(published * kSubscribers) - static_cast<double>(all.size());
  state.counters["errors"] = static_cast<double>(errors.load());
}

// A private directory with a small raw disk image (an MBR signature) for the nodes.
std::string MakeDir() {
  std::string dir = "/tmp/labvirt-protocol-bench-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir + "/images");
  std::ofstream img(dir + "/images/disk.img", std::ios::binary);
  std::string bytes(1 << 20, '\0');
  bytes[510] = '\x55';
  bytes[511] = '\xaa';
  img << bytes;
  return dir;
}

struct Env {
  Env() : dir(MakeDir()) {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    SetLogLevel(std::getenv("LABVIRT_BENCH_LOG") ? LogLevel::kDebug : LogLevel::kWarn);
    labvirt = std::make_unique<LabvirtServer>(dir);
    epoll = std::make_unique<EpollServer>(dir + "/epoll.sock");
    line = std::make_unique<ReactorLineServer>(dir + "/line.sock");
  }
  ~Env() {
    line.reset();
    epoll.reset();
    labvirt.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string dir;
  std::unique_ptr<LabvirtServer> labvirt;
  std::unique_ptr<EpollServer> epoll;
  std::unique_ptr<ReactorLineServer> line;
};

Env& TheEnv() {
  static Env env;
  return env;
}

void BM_NodeGetLabvirt(benchmark::State& state) {
  for (auto _ : state) RunRequests(state, *TheEnv().labvirt, TheEnv().labvirt->socket());
  state.SetLabel(TheEnv().labvirt->mode());
}
void BM_NodeGetEpoll(benchmark::State& state) {
  for (auto _ : state) RunRequests(state, *TheEnv().epoll, TheEnv().dir + "/epoll.sock");
}
void BM_NodeGetReactorLine(benchmark::State& state) {
  for (auto _ : state) RunRequests(state, *TheEnv().line, TheEnv().dir + "/line.sock");
}
void BM_FanoutLabvirt(benchmark::State& state) {
  for (auto _ : state) RunFanout(state, *TheEnv().labvirt, TheEnv().labvirt->socket());
}
void BM_FanoutEpoll(benchmark::State& state) {
  for (auto _ : state) RunFanout(state, *TheEnv().epoll, TheEnv().dir + "/epoll.sock");
}

BENCHMARK(BM_NodeGetLabvirt)
    ->Name("node_get/labvirt")
    ->ArgName("clients")
    ->Arg(1)
    ->Arg(16)
    ->Arg(256)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NodeGetEpoll)
    ->Name("node_get/epoll")
    ->ArgName("clients")
    ->Arg(1)
    ->Arg(16)
    ->Arg(256)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NodeGetReactorLine)
    ->Name("node_get/reactor_line")
    ->ArgName("clients")
    ->Arg(1)
    ->Arg(16)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FanoutLabvirt)
    ->Name("event_fanout/labvirt")
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FanoutEpoll)
    ->Name("event_fanout/epoll")
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace labvirt::bench

// Repetitions of labvirt and of the baseline interleave at random, so load drifting on a shared
// machine hits both alike. A later --benchmark_enable_random_interleaving=false still wins.
int main(int argc, char** argv) {
  std::string interleave = "--benchmark_enable_random_interleaving=true";
  std::vector<char*> args(argv, argv + argc);
  args.insert(args.begin() + 1, interleave.data());
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
