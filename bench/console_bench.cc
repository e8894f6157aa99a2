// Console fan-out: 200 PTYs, each written at 100 KB/s by a "QEMU" thread, each read by labvirt's
// ConsoleReader + ConsoleHub and fanned out to 4 viewers (socketpairs) — all on one reactor
// thread. Measures the reactor thread's CPU (getrusage RUSAGE_THREAD) and the PTY-to-viewer
// latency (a timestamp embedded in every 100-byte record), beside the same fan-out done by a plain
// epoll loop with read()/write() (what one would write by hand; it has no scrollback, no bounded
// queues and blocks on a slow viewer) in the same run.
#include <fcntl.h>
#include <pty.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/reactor_options.h"
#include "benchmark/benchmark.h"
#include "engine/console/console_hub.h"
#include "reactor/probe.h"
#include "tests/support/socket_pair.h"

namespace labvirt::engine {
namespace {

using Clock = std::chrono::steady_clock;
// LABVIRT_FANOUT_PTYS overrides the PTY count (for exploring; the row uses 200).
const int kPtys = [] {
  const char* e = std::getenv("LABVIRT_FANOUT_PTYS");
  return e ? std::atoi(e) : 200;
}();
constexpr int kViewers = 4;
constexpr size_t kRecord = 100;
constexpr size_t kBytesPerTick = 1000;  // every 10 ms: 100 KB/s per PTY
constexpr auto kTick = std::chrono::milliseconds(10);
constexpr auto kDuration = std::chrono::seconds(3);

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// The calling thread's CPU use so far: user and system seconds, and how often it slept.
struct ThreadUsage {
  double user = 0;
  double sys = 0;
  double sleeps = 0;     // voluntary context switches
  double preempted = 0;  // involuntary context switches
  ThreadUsage operator-(const ThreadUsage& o) const {
    return {user - o.user, sys - o.sys, sleeps - o.sleeps, preempted - o.preempted};
  }
};

ThreadUsage ThreadCpu() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return {static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6,
          static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6,
          static_cast<double>(ru.ru_nvcsw), static_cast<double>(ru.ru_nivcsw)};
}

struct Setup {
  std::vector<int> masters;                // written by the writer thread
  std::vector<std::string> slave_paths;    // opened by the reader side
  std::vector<std::vector<int>> hub_ends;  // per PTY: the viewer sockets' server ends
  std::vector<int> client_ends;            // read by the viewer threads
};

Setup MakeSetup() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  Setup s;
  for (int i = 0; i < kPtys; ++i) {
    int m, sl;
    char name[64];
    if (openpty(&m, &sl, name, nullptr, nullptr) != 0) std::abort();
    termios t{};
    tcgetattr(sl, &t);
    cfmakeraw(&t);
    tcsetattr(sl, TCSANOW, &t);
    close(sl);
    fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
    s.masters.push_back(m);
    s.slave_paths.push_back(name);
    s.hub_ends.emplace_back();
    for (int v = 0; v < kViewers; ++v) {
      auto pair = testing::MakeSocketPair();  // the client end non-blocking
      if (!pair.ok()) std::abort();
      s.client_ends.push_back(pair->ours.Release());
      s.hub_ends.back().push_back(pair->theirs.Release());
    }
  }
  return s;
}

// Writes records at 100 KB/s per PTY until `stop`.
void WriterMain(const std::vector<int>& masters, const std::atomic<bool>& stop) {
  std::vector<std::string> pending(masters.size());
  auto next = Clock::now();
  while (!stop.load()) {
    char rec[kRecord];
    for (size_t i = 0; i < masters.size(); ++i) {
      if (pending[i].size() < 64 * 1024) {
        for (size_t k = 0; k < kBytesPerTick / kRecord; ++k) {
          std::memset(rec, 'x', sizeof rec);
          rec[0] = 'T';
          auto ts = static_cast<uint64_t>(NowNs());
          for (int d = 16; d >= 1; --d, ts >>= 4) rec[d] = "0123456789abcdef"[ts & 15];
          rec[17] = ' ';
          rec[kRecord - 1] = '\n';
          pending[i].append(rec, kRecord);
        }
      }
      ssize_t n = write(masters[i], pending[i].data(), pending[i].size());
      if (n > 0) pending[i].erase(0, static_cast<size_t>(n));
    }
    next += kTick;
    std::this_thread::sleep_until(next);
  }
}

// Checks one record's framing and, if it was written at or after `measure_from_ns`, records its
// latency (µs).
void RecordLatency(std::string_view rec, int64_t now, int64_t measure_from_ns,
                   std::vector<int64_t>* lat, std::atomic<uint64_t>* bad) {
  if (rec[0] != 'T' || rec[kRecord - 1] != '\n') {
    ++*bad;
    return;
  }
  uint64_t ts = 0;
  for (size_t k = 1; k <= 16; ++k) {
    const char c = rec[k];
    ts = ts * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  if (static_cast<int64_t>(ts) >= measure_from_ns) {
    lat->push_back((now - static_cast<int64_t>(ts)) / 1000);
  }
}

// Reads every client socket, checks record framing and collects the latencies (µs) of records
// written at or after `measure_from_ns` (the warm-up's backlog is not part of the result).
void ViewerMain(std::vector<int> fds, int64_t measure_from_ns, const std::atomic<bool>& stop,
                std::vector<int64_t>* lat, std::atomic<uint64_t>* bytes,
                std::atomic<uint64_t>* bad) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<std::string> partial(fds.size());
  for (size_t i = 0; i < fds.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
  }
  lat->reserve(fds.size() * 1000 * 4);  // 1000 records/s per socket for 3 s, and margin
  std::vector<epoll_event> evs(256);
  char buf[65536];
  while (!stop.load()) {
    int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 50);
    for (int e = 0; e < n; ++e) {
      size_t i = evs[e].data.u64;
      ssize_t r;
      while ((r = read(fds[i], buf, sizeof buf)) > 0) {
        *bytes += static_cast<uint64_t>(r);
        // Parse in place; only a record cut by the read is carried over. (The viewers share the
        // two cores with the loop under test, so they must stay cheap.)
        std::string& p = partial[i];
        const int64_t now = NowNs();
        std::string_view in(buf, static_cast<size_t>(r));
        if (!p.empty()) {
          const size_t take = std::min(kRecord - p.size(), in.size());
          p.append(in.substr(0, take));
          in.remove_prefix(take);
          if (p.size() < kRecord) continue;
          RecordLatency(p, now, measure_from_ns, lat, bad);
          p.clear();
        }
        for (; in.size() >= kRecord; in.remove_prefix(kRecord)) {
          RecordLatency(in.substr(0, kRecord), now, measure_from_ns, lat, bad);
        }
        p.assign(in);
      }
    }
  }
  close(ep);
}

// What the loop under test reports: its thread's CPU use over `wall` seconds of measurement.
struct LoopUsage {
  ThreadUsage cpu;
  double wall = 0;
  double passes = 0;  // loop iterations (RunOnce / epoll_wait)
};

struct Result2 {
  LoopUsage loop;
  double p50_ms, p99_ms;
  double mbytes_per_s;
  uint64_t bad;
};

template <typename RunLoop>
Result2 RunFanout(Setup& s, RunLoop run_loop) {
  std::atomic<bool> stop{false};
  std::vector<std::vector<int64_t>> lat(2);
  std::atomic<uint64_t> bytes{0}, bad{0};
  std::vector<int> half1(s.client_ends.begin(), s.client_ends.begin() + s.client_ends.size() / 2);
  std::vector<int> half2(s.client_ends.begin() + s.client_ends.size() / 2, s.client_ends.end());
  const auto t0 = Clock::now();
  const auto warm = t0 + std::chrono::milliseconds(300);
  const int64_t warm_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(warm.time_since_epoch()).count();
  std::thread v1(ViewerMain, half1, warm_ns, std::cref(stop), &lat[0], &bytes, &bad);
  std::thread v2(ViewerMain, half2, warm_ns, std::cref(stop), &lat[1], &bytes, &bad);
  std::thread w(WriterMain, std::cref(s.masters), std::cref(stop));
  LoopUsage usage = run_loop(warm, t0 + kDuration);
  stop = true;
  w.join();
  v1.join();
  v2.join();
  std::vector<int64_t> all = lat[0];
  all.insert(all.end(), lat[1].begin(), lat[1].end());
  std::sort(all.begin(), all.end());
  Result2 r{};
  r.loop = usage;
  if (!all.empty()) {
    r.p50_ms = static_cast<double>(all[all.size() / 2]) / 1000.0;
    r.p99_ms = static_cast<double>(all[all.size() * 99 / 100]) / 1000.0;
  }
  r.mbytes_per_s =
      static_cast<double>(bytes.load()) / 1e6 / std::chrono::duration<double>(kDuration).count();
  r.bad = bad.load();
  return r;
}

void Report(benchmark::State& state, const Result2& r) {
  const double wall = r.loop.wall > 0 ? r.loop.wall : 1;
  state.counters["reactor_cpu_pct"] = 100.0 * (r.loop.cpu.user + r.loop.cpu.sys) / wall;
  state.counters["reactor_user_pct"] = 100.0 * r.loop.cpu.user / wall;
  state.counters["reactor_sys_pct"] = 100.0 * r.loop.cpu.sys / wall;
  state.counters["reactor_sleeps_per_s"] = r.loop.cpu.sleeps / wall;
  state.counters["reactor_preempted_per_s"] = r.loop.cpu.preempted / wall;
  state.counters["loop_passes_per_s"] = r.loop.passes / wall;
  // CPU per delivered byte: comparable across runs even when a loaded machine starves the
  // writer or the viewers and less than the offered 80 MB/s flows.
  state.counters["reactor_ns_per_viewer_byte"] =
      r.mbytes_per_s > 0
          ? 1e9 * (r.loop.cpu.user + r.loop.cpu.sys) /
                (r.mbytes_per_s * 1e6 * std::chrono::duration<double>(kDuration).count())
          : 0;
  state.counters["p50_latency_ms"] = r.p50_ms;
  state.counters["p99_latency_ms"] = r.p99_ms;
  state.counters["viewer_MB_per_s"] = r.mbytes_per_s;
  state.counters["bad_records"] = static_cast<double>(r.bad);
}

void CloseSetup(Setup& s) {
  for (int fd : s.masters) close(fd);
  for (int fd : s.client_ends) close(fd);
  for (auto& v : s.hub_ends) {
    for (int fd : v) close(fd);
  }
}

// `other_read`: the PTY read mode labvirtd would not pick on this kernel (poll + read() where it
// picks direct io_uring reads, and the reverse), to measure the choice in the same run.
void RunLabvirt(benchmark::State& state, bool other_read) {
  for (auto _ : state) {
    Setup s = MakeSetup();
    auto reactor = reactor::Reactor::Create(bench::BenchReactorOptions());
    if (!reactor.ok()) {
      state.SkipWithError(reactor.status().ToString().c_str());
      return;
    }
    auto features = reactor::ProbeIoUring();
    const bool daemon_choice = features.ok() && features->direct_tty_read;
    const bool direct_read = daemon_choice != other_read;
    state.SetLabel(std::string(direct_read ? "direct_read, " : "poll+read, ") +
                   bench::TaskRunName((*reactor)->task_run()));
    std::vector<std::unique_ptr<ConsoleHub>> hubs;
    for (int i = 0; i < kPtys; ++i) {
      ConsoleHubOptions o;
      // As labvirtd does: direct io_uring Read ops when the probe allows (kernel >= 6.12), else
      // poll + read() (the reverse with other_read).
      o.reader.direct_read = direct_read;
      hubs.push_back(std::make_unique<ConsoleHub>(**reactor, "pty" + std::to_string(i), o,
                                                  ConsoleHubCallbacks{}));
      if (!hubs.back()->Open(s.slave_paths[i]).ok()) std::abort();
      for (int v = 0; v < kViewers; ++v) {
        int fd = std::exchange(s.hub_ends[i][v], -1);
        auto id = hubs.back()->Attach(UniqueFd(fd), ViewerMode::kReadOnly, false);
        if (!id.ok()) std::abort();
      }
    }
    Result2 r = RunFanout(s, [&](Clock::time_point warm, Clock::time_point end) {
      reactor::OpHandle tick = (*reactor)->Every(std::chrono::milliseconds(50), [] {});
      while (Clock::now() < warm) (*reactor)->RunOnce(true);
      ThreadUsage c0 = ThreadCpu();
      auto w0 = Clock::now();
      double passes = 0;
      for (; Clock::now() < end; ++passes) (*reactor)->RunOnce(true);
      return LoopUsage{ThreadCpu() - c0, std::chrono::duration<double>(Clock::now() - w0).count(),
                       passes};
    });
    uint64_t cut = 0;
    for (auto& h : hubs) cut += h->viewers_cut_off();
    state.counters["viewers_cut_off"] = static_cast<double>(cut);
    hubs.clear();
    (*reactor)->RunUntilIdle();
    CloseSetup(s);
    Report(state, r);
  }
}

// The hand-written baseline: epoll, read() each PTY, write() the bytes to each viewer (blocking
// sockets would freeze everyone on one slow viewer; here the sockets are fast readers).
void BM_Epoll(benchmark::State& state) {
  for (auto _ : state) {
    Setup s = MakeSetup();
    std::vector<int> slaves;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < kPtys; ++i) {
      int fd = open(s.slave_paths[i].c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
      termios t{};
      tcgetattr(fd, &t);
      cfmakeraw(&t);
      tcsetattr(fd, TCSANOW, &t);
      slaves.push_back(fd);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = static_cast<uint32_t>(i);
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    Result2 r = RunFanout(s, [&](Clock::time_point warm, Clock::time_point end) {
      std::vector<epoll_event> evs(256);
      char buf[65536];
      ThreadUsage c0;
      Clock::time_point w0{};
      bool measuring = false;
      double passes = 0;
      while (Clock::now() < end) {
        if (measuring) ++passes;
        if (!measuring && Clock::now() >= warm) {
          measuring = true;
          c0 = ThreadCpu();
          w0 = Clock::now();
        }
        int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 50);
        for (int e = 0; e < n; ++e) {
          uint32_t i = evs[e].data.u32;
          ssize_t got;
          while ((got = read(slaves[i], buf, sizeof buf)) > 0) {
            for (int fd : s.hub_ends[i]) {
              size_t off = 0;
              while (off < static_cast<size_t>(got)) {
                ssize_t w = write(fd, buf + off, static_cast<size_t>(got) - off);
                if (w > 0) off += static_cast<size_t>(w);
              }
            }
          }
        }
      }
      return LoopUsage{ThreadCpu() - c0, std::chrono::duration<double>(Clock::now() - w0).count(),
                       passes};
    });
    for (int fd : slaves) close(fd);
    close(ep);
    CloseSetup(s);
    Report(state, r);
  }
}

void BM_Labvirt(benchmark::State& state) { RunLabvirt(state, false); }
void BM_LabvirtOtherRead(benchmark::State& state) { RunLabvirt(state, true); }

BENCHMARK(BM_Labvirt)
    ->Name("fanout/labvirt")
    ->UseRealTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LabvirtOtherRead)
    ->Name("fanout/labvirt_other_read")
    ->UseRealTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Epoll)
    ->Name("fanout/epoll")
    ->UseRealTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace labvirt::engine

BENCHMARK_MAIN();
