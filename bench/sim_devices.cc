#include "bench/sim_devices.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

namespace labvirt::bench {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// An 80-byte kernel-style line; the stage names carry the linux kind's progress patterns.
std::string BootLine(int i) {
  static const char* kStages[] = {"Linux version 6.1.0-sim", "Run /sbin/init as init process",
                                  "systemd[1]: Reached target Basic System",
                                  "Starting sshd.service - OpenBSD Secure Shell server"};
  char buf[96];
  std::snprintf(buf, sizeof buf, "[%5d.%06d] %-60.60s\r\n", i / 10, (i % 10) * 100000,
                kStages[i % 4]);
  return buf;
}

std::string SteadyLine(uint64_t seq) {
  char buf[96];
  std::snprintf(buf, sizeof buf,
                "%%SYS-5-CONFIG_I: Configured from console by vty0 (seq %08llu)\r\n",
                static_cast<unsigned long long>(seq % 100000000));
  return buf;
}

}  // namespace

SimDevices::SimDevices(SimDeviceOptions options)
    : options_(std::move(options)), thread_([this] { Main(); }) {}

SimDevices::~SimDevices() {
  stop_ = true;
  cv_.notify_all();
  thread_.join();
}

void SimDevices::Add(const std::string& domain, int master) {
  // Non-blocking belongs to the open file, so the fake hypervisor's own use of the master turns
  // non-blocking too; nothing else writes through it in the simulation.
  ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
  std::lock_guard<std::mutex> lock(mu_);
  Console& c = consoles_[domain];
  c = Console{domain, master, 0, NowNs(), ++runs_};
  due_.emplace(c.due, domain, c.run);
  cv_.notify_all();
}

void SimDevices::Forget(const std::string& domain) {
  std::lock_guard<std::mutex> lock(mu_);
  consoles_.erase(domain);  // its schedule entries find no console and are dropped
}

void SimDevices::ForgetAll() {
  std::lock_guard<std::mutex> lock(mu_);
  consoles_.clear();
}

std::map<std::string, int64_t> SimDevices::TakePromptTimes() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(prompts_, {});
}

bool SimDevices::Write(Console& c, const std::string& text) {
  ssize_t n = ::write(c.fd, text.data(), text.size());
  if (n > 0) bytes_written_ += static_cast<uint64_t>(n);
  if (n == static_cast<ssize_t>(text.size())) return true;
  dropped_bytes_ += text.size() - static_cast<size_t>(n > 0 ? n : 0);
  return false;
}

// Called with mu_ held.
int64_t SimDevices::Step(Console& c, int64_t now) {
  const int64_t boot_ns = std::chrono::nanoseconds(options_.boot_line_period).count();
  const int64_t steady_ns = std::chrono::nanoseconds(options_.steady_period).count();
  if (c.line < options_.boot_lines) {
    Write(c, BootLine(c.line++));
    return now + boot_ns;
  }
  if (c.line == options_.boot_lines) {
    ++c.line;
    Write(c, options_.prompt);
    prompts_[c.domain] = NowNs();
    // The first steady line comes a random part of a period later, so the consoles' lines
    // spread over the period instead of arriving in waves.
    return now + static_cast<int64_t>(std::hash<std::string>{}(c.domain) %
                                      static_cast<uint64_t>(steady_ns));
  }
  if (steady_) Write(c, SteadyLine(c.run * 1000003 + static_cast<uint64_t>(now / steady_ns)));
  return now + steady_ns;
}

void SimDevices::Main() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    int64_t wait_ns = due_.empty() ? 100'000'000 : std::get<0>(due_.top()) - NowNs();
    if (wait_ns > 0) {
      cv_.wait_for(lock, std::chrono::nanoseconds(std::min<int64_t>(wait_ns, 100'000'000)));
    }
    // A millisecond's worth of due writes per pass: a sleep per write would cost more than
    // the writes.
    const int64_t now = NowNs();
    while (!due_.empty() && std::get<0>(due_.top()) <= now + 1'000'000) {
      auto [when, domain, run] = due_.top();
      due_.pop();
      auto it = consoles_.find(domain);
      if (it == consoles_.end() || it->second.run != run) continue;
      due_.emplace(Step(it->second, now), domain, run);
    }
  }
}

}  // namespace labvirt::bench
