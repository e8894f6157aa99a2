// Capture throughput: one flood of small frames into a veth pair, captured on the other end by
// labvirt's CaptureSession (packet socket read on the reactor, pcapng to a socket drained by a
// reader thread) and, in the same run, by `tcpdump -w -` on the same interface (written to a
// pipe drained the same way). The sender runs as fast as one thread can; reported per consumer:
// frames delivered of those sent, frames missing (kernel drops: the consumer fell behind), and
// the flood's rate. Needs root and ip(8); tcpdump for the baseline.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "benchmark/benchmark.h"
#include "engine/capture/capture_session.h"
#include "tests/support/shell.h"
#include "tests/support/socket_pair.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kFrames = 200000;
const std::string kA = "lvbca" + std::to_string(::getpid() % 100000);
const std::string kB = "lvbcb" + std::to_string(::getpid() % 100000);

bool MakeVeth() {
  int rc = 0;
  testing::Sh("ip link add " + kA + " type veth peer name " + kB + " && ip link set " + kA +
                  " up && ip link set " + kB + " up",
              &rc);
  return rc == 0;
}
void DropVeth() { testing::Sh("ip link del " + kA + " 2>/dev/null"); }

// Sends `n` 64-byte frames (ethertype 0x88b5) out of kB as fast as one thread can.
void Flood(int n) {
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = static_cast<int>(::if_nametoindex(kB.c_str()));
  to.sll_halen = 6;
  std::string f(64, 'x');
  f.replace(0, 12, std::string(12, '\x02'));
  f[12] = '\x88';
  f[13] = '\xb5';
  for (int i = 0; i < n; ++i) {
    while (::sendto(fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
    }
  }
  ::close(fd);
}

void BM_LabvirtCapture(benchmark::State& state) {
  if (!MakeVeth()) return state.SkipWithError("needs root and ip");
  double delivered = 0, dropped = 0, seconds = 0;
  for (auto _ : state) {
    auto reactor = std::move(reactor::Reactor::Create().value());
    auto pair = testing::MakeSocketPair({.ours_nonblocking = false});
    std::atomic<size_t> bytes{0};
    std::atomic<bool> eof{false};
    std::thread reader([fd = pair->ours.get(), &bytes, &eof] {
      char buf[1 << 16];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) bytes += static_cast<size_t>(n);
      eof = true;
    });
    engine::CaptureSpec spec;
    spec.ifname = kA;
    spec.name = "bench";
    spec.filter = "ether proto 0x88b5";
    spec.max_packets = kFrames;
    bool ended = false;
    engine::CaptureSession session(*reactor, spec, {}, [&](const std::string&) { ended = true; });
    session.Start(std::move(pair->theirs));
    reactor->RunUntilIdle();
    auto t0 = Clock::now();
    Clock::time_point t1;
    std::thread sender([&t1] {
      Flood(kFrames);
      t1 = Clock::now();
    });
    auto idle_since = Clock::now();
    uint64_t seen = 0;
    auto tick = reactor->Every(10ms, [] {});
    while (!ended) {
      reactor->RunOnce(true);
      if (session.frames_delivered() != seen) {
        seen = session.frames_delivered();
        idle_since = Clock::now();
      } else if (Clock::now() - idle_since > 1s) {
        session.Stop("idle");  // the rest were dropped
      }
    }
    sender.join();
    // The ring holds the client socket until its cancelled ops complete: keep the loop running
    // until the reader sees the end of the stream.
    while (!eof) reactor->RunOnce(true);
    reader.join();
    delivered = static_cast<double>(session.frames_delivered());
    dropped = static_cast<double>(session.kernel_drops());
    seconds = std::chrono::duration<double>(t1 - t0).count();
  }
  state.counters["delivered"] = delivered;
  state.counters["missing"] = kFrames - delivered;
  state.counters["kernel_drops"] = dropped;
  state.counters["sent_per_s"] = kFrames / seconds;
  DropVeth();
}

void BM_TcpdumpCapture(benchmark::State& state) {
  if (!testing::HaveCommand("tcpdump")) return state.SkipWithError("needs tcpdump");
  if (!MakeVeth()) return state.SkipWithError("needs root and ip");
  double delivered = 0, dropped = 0, seconds = 0;
  for (auto _ : state) {
    const std::string err = "/tmp/lvbench-tcpdump-" + std::to_string(::getpid());
    // -B 4096: the same 4 MiB kernel buffer labvirt asks for. -U: flush per packet, as a live
    // `| wireshark -k -i -` needs; --immediate-mode: no
    // buffering delay. Its output goes through a pipe to `wc -c` (a reader as fast as ours).
    // timeout(1) stops it (SIGINT: it prints its counters) when frames were dropped.
    FILE* p = ::popen(
        ("exec timeout -s INT 8 tcpdump -i " + kA + " -B 4096 -U --immediate-mode -w - -c " +
         std::to_string(kFrames) + " 'ether proto 0x88b5' 2>" + err + " | wc -c")
            .c_str(),
        "r");
    // Until it listens (its stderr says so).
    for (int i = 0; i < 300; ++i) {
      int rc = 1;
      testing::Sh("grep -q listening " + err + " 2>/dev/null", &rc);
      if (rc == 0) break;
      std::this_thread::sleep_for(10ms);
    }
    auto t0 = Clock::now();
    Flood(kFrames);
    auto t1 = Clock::now();
    char buf[64] = {};
    (void)::fgets(buf, sizeof buf, p);
    ::pclose(p);
    std::string said = testing::Sh("cat " + err);
    if (said.find(" packets captured") == std::string::npos) {
      state.SkipWithError(("tcpdump said: " + said).c_str());
    }
    unsigned long captured = 0, kernel_drops = 0;
    auto at = said.find(" packets captured");
    if (at != std::string::npos) captured = std::stoul(said.substr(said.rfind('\n', at) + 1));
    at = said.find(" packets dropped by kernel");
    if (at != std::string::npos) kernel_drops = std::stoul(said.substr(said.rfind('\n', at) + 1));
    delivered = static_cast<double>(captured);
    dropped = static_cast<double>(kernel_drops);
    seconds = std::chrono::duration<double>(t1 - t0).count();
    testing::Sh("rm -f " + err);
  }
  state.counters["delivered"] = delivered;
  state.counters["missing"] = kFrames - delivered;
  state.counters["kernel_drops"] = dropped;
  state.counters["sent_per_s"] = kFrames / seconds;
  DropVeth();
}

BENCHMARK(BM_LabvirtCapture)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TcpdumpCapture)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace labvirt

BENCHMARK_MAIN();
