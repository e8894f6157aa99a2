#include "engine/lab/host_readings.h"

#include <charconv>
#include <fstream>
#include <sstream>

#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {
namespace {

// The number after `key` (e.g. "avg10=") in `line`; nullopt if absent or malformed.
template <typename T>
std::optional<T> NumberAfter(std::string_view line, std::string_view key) {
  size_t at = line.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  const char* begin = line.data() + at + key.size();
  const char* end = line.data() + line.size();
  while (begin < end && *begin == ' ') ++begin;
  T value{};
  auto [p, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || p == begin) return std::nullopt;
  return value;
}

// The stall share in percent between two `total` readings `wall_us` apart.
double Share(uint64_t before_us, uint64_t after_us, double wall_us) {
  if (after_us < before_us || wall_us <= 0) return 0;  // counter reset: no evidence either way
  double share = 100.0 * static_cast<double>(after_us - before_us) / wall_us;
  return share > 100 ? 100 : share;
}

}  // namespace

std::optional<std::string> ReadSmall(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<PsiSome> ParsePsiSome(std::string_view text) {
  size_t at = text.rfind("some ", 0) == 0 ? 0 : text.find("\nsome ");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view line = text.substr(at == 0 ? 0 : at + 1);
  line = line.substr(0, line.find('\n'));
  auto avg10 = NumberAfter<double>(line, "avg10=");
  auto total = NumberAfter<uint64_t>(line, "total=");
  if (!avg10 || !total) return std::nullopt;
  return PsiSome{*avg10, *total};
}

std::optional<MemInfo> ParseMemInfo(std::string_view text) {
  auto kib = [&](std::string_view key) -> std::optional<int64_t> {
    size_t at = text.rfind(key, 0) == 0 ? 0 : text.find("\n" + std::string(key));
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view line = text.substr(at == 0 ? 0 : at + 1);
    return NumberAfter<int64_t>(line.substr(0, line.find('\n')), key);
  };
  auto available = kib("MemAvailable:");
  auto total = kib("MemTotal:");
  if (!available || !total) return std::nullopt;
  return MemInfo{*available / 1024, *total / 1024};
}

std::string HostReadings::ToJson() const {
  JsonWriter w;
  w.BeginObject().Key("sampled").Bool(sampled).Key("psi").Bool(psi);
  w.Key("cpu_pressure").BeginObject().Key("avg10").Double(cpu_avg10);
  w.Key("recent").Double(cpu_recent).EndObject();
  w.Key("memory_pressure").BeginObject().Key("avg10").Double(mem_avg10);
  w.Key("recent").Double(mem_recent).EndObject();
  w.Key("meminfo").Bool(meminfo);
  w.Key("mem_available_mib").Int(mem_available_mib).Key("mem_total_mib").Int(mem_total_mib);
  w.Key("libvirt_queued").Uint(libvirt_queued).EndObject();
  return w.Take();
}

ProcReadings::ProcReadings(std::string proc_root, std::function<size_t()> libvirt_queued)
    : root_(std::move(proc_root)), libvirt_queued_(std::move(libvirt_queued)) {}

HostReadings ProcReadings::Read(reactor::TimePoint now) {
  HostReadings r;
  r.sampled = true;
  if (libvirt_queued_) r.libvirt_queued = libvirt_queued_();
  if (auto text = ReadSmall(root_ + "/meminfo")) {
    if (auto mem = ParseMemInfo(*text)) {
      r.meminfo = true;
      r.mem_available_mib = mem->available_mib;
      r.mem_total_mib = mem->total_mib;
    }
  }
  std::optional<PsiSome> cpu, mem;
  if (auto text = ReadSmall(root_ + "/pressure/cpu")) cpu = ParsePsiSome(*text);
  if (auto text = ReadSmall(root_ + "/pressure/memory")) mem = ParsePsiSome(*text);
  r.psi = cpu && mem;
  if (!r.psi) {
    if (!said_no_psi_) {
      LogWarn("no PSI (/proc/pressure): admission's pressure gates are off",
              {{"fix", "a kernel with CONFIG_PSI, booted without psi=0"}});
    }
    said_no_psi_ = true;
    have_previous_ = false;
    return r;
  }
  r.cpu_avg10 = r.cpu_recent = cpu->avg10;
  r.mem_avg10 = r.mem_recent = mem->avg10;
  if (have_previous_) {
    double wall_us = std::chrono::duration<double, std::micro>(now - previous_at_).count();
    r.cpu_recent = Share(previous_cpu_us_, cpu->total_us, wall_us);
    r.mem_recent = Share(previous_mem_us_, mem->total_us, wall_us);
  }
  have_previous_ = true;
  previous_at_ = now;
  previous_cpu_us_ = cpu->total_us;
  previous_mem_us_ = mem->total_us;
  return r;
}

}  // namespace labvirt::engine
