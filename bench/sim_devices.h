// SimDevices: the guest side of many simulated consoles, for the 5000-node simulation
// (bench/sim_bench.cc). Each console is a PTY master handed over when its fake domain resumes
// (testing::FakeHypervisor::on_resumed); one thread of its own writes into every master what a
// booting device prints — boot lines at a device-like pace, then the kind's login prompt — and,
// while steady output is on, one syslog-like line per console per period.
//
// Borrows every master it is given until Forget(domain) or ForgetAll() returns: after that the
// writer thread never touches the fd again, so the owner may close it (no dup() per console:
// 5000 consoles already take 15,000 of the 20,000 fds this host allows a process). Writes are
// non-blocking: a console whose reader fell behind loses the line (counted in dropped_bytes), as
// a device's UART would overrun. Thread: every method may be called from any thread.
#ifndef LABVIRT_BENCH_SIM_DEVICES_H_
#define LABVIRT_BENCH_SIM_DEVICES_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace labvirt::bench {

struct SimDeviceOptions {
  int boot_lines = 20;                             // ~80 bytes each
  std::chrono::milliseconds boot_line_period{50};  // 20 lines: a one-second boot
  std::string prompt = "\r\nsim login: ";          // the linux kind's success pattern
  std::chrono::milliseconds steady_period{1000};   // one line a second per console
};

class SimDevices {
 public:
  explicit SimDevices(SimDeviceOptions options);
  ~SimDevices();
  SimDevices(const SimDevices&) = delete;
  SimDevices& operator=(const SimDevices&) = delete;

  // Domain `domain` runs from now on, its console behind `master` (borrowed, see above): it
  // boots from its first line.
  void Add(const std::string& domain, int master);
  // The domain's master is about to close: not written to once this returns.
  void Forget(const std::string& domain);
  void ForgetAll();
  // Steady output on or off (off: consoles go quiet once booted).
  void SetSteady(bool on) { steady_ = on; }

  uint64_t bytes_written() const { return bytes_written_.load(); }
  uint64_t dropped_bytes() const { return dropped_bytes_.load(); }
  // When each domain's prompt was last written (steady clock ns, taken after the write returned),
  // for the prompts written since the last call.
  std::map<std::string, int64_t> TakePromptTimes();

 private:
  struct Console {
    std::string domain;
    int fd = -1;
    int line = 0;      // boot lines printed; boot_lines + 1 once the prompt is out
    int64_t due = 0;   // steady clock ns of its next write
    uint64_t run = 0;  // bumped per Add, so a stale schedule entry is skipped
  };
  using Entry = std::tuple<int64_t, std::string, uint64_t>;  // due, domain, run

  void Main();
  // Writes `console`'s next output and returns when it is due again (0: nothing more).
  int64_t Step(Console& c, int64_t now);
  bool Write(Console& c, const std::string& text);

  const SimDeviceOptions options_;
  std::atomic<bool> steady_{false};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> dropped_bytes_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_, which the writer thread holds while it writes (a millisecond's worth).
  std::map<std::string, Console> consoles_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> due_;  // the earliest first
  uint64_t runs_ = 0;
  std::map<std::string, int64_t> prompts_;
  std::thread thread_;  // last: started once the rest exists
};

}  // namespace labvirt::bench

#endif  // LABVIRT_BENCH_SIM_DEVICES_H_
