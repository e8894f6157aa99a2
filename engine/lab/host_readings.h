// Host readings for admission (engine/lab/admission.h): Linux PSI for CPU and memory, free memory,
// and libvirt calls waiting for a worker. HostReadingsSource is the seam: labvirtd reads procfs
// (ProcReadings), unit tests hand Admission readings of their own.
#ifndef LABVIRT_ENGINE_LAB_HOST_READINGS_H_
#define LABVIRT_ENGINE_LAB_HOST_READINGS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "reactor/base/clock.h"

namespace labvirt::engine {

struct HostReadings {
  bool sampled = false;  // false: nothing read yet; only the ceiling gates
  bool psi = false;      // the kernel has /proc/pressure; false: the pressure gates are off
  // PSI "some" lines, in percent of wall time. `*_recent` is the stall share since the previous
  // reading (from `total`), the value the gates use: avg10 lags by up to ten seconds, so the boots
  // of the last second would not show yet. On the first reading `*_recent` is avg10.
  double cpu_avg10 = 0, cpu_recent = 0;
  double mem_avg10 = 0, mem_recent = 0;
  bool meminfo = false;  // false: /proc/meminfo unreadable; the memory gate is off
  int64_t mem_available_mib = 0, mem_total_mib = 0;
  size_t libvirt_queued = 0;  // libvirt calls waiting for a worker thread

  // {"psi","cpu_pressure":{"avg10","recent"},"memory_pressure":{…},"mem_available_mib",
  //  "mem_total_mib","libvirt_queued"}
  std::string ToJson() const;
};

// The "some" line of a /proc/pressure/* file: avg10 in percent and total stall in microseconds.
struct PsiSome {
  double avg10 = 0;
  uint64_t total_us = 0;
};
std::optional<PsiSome> ParsePsiSome(std::string_view text);

// The whole of a small file (/proc, /sys, a pid file); nullopt when it cannot be opened. Blocking:
// worker threads, or the loop only for a file of /proc it reads once a second.
std::optional<std::string> ReadSmall(const std::string& path);

// MemAvailable and MemTotal of /proc/meminfo, in MiB.
struct MemInfo {
  int64_t available_mib = 0, total_mib = 0;
};
std::optional<MemInfo> ParseMemInfo(std::string_view text);

class HostReadingsSource {
 public:
  virtual ~HostReadingsSource() = default;
  // A reading at `now` (stall shares are computed against the previous call's `now`).
  virtual HostReadings Read(reactor::TimePoint now) = 0;
};

// Reads `proc_root`/pressure/{cpu,memory} and `proc_root`/meminfo. These are procfs files of a
// few hundred bytes that the kernel fills from memory: read on the loop thread once a second, they
// cost microseconds and never wait on a disk. `libvirt_queued` (any thread-safe count) is asked
// at each read. Logs once when PSI is missing (a kernel without CONFIG_PSI, or psi=0).
class ProcReadings : public HostReadingsSource {
 public:
  ProcReadings(std::string proc_root, std::function<size_t()> libvirt_queued);
  HostReadings Read(reactor::TimePoint now) override;

 private:
  std::string root_;
  std::function<size_t()> libvirt_queued_;
  bool said_no_psi_ = false;
  bool have_previous_ = false;
  reactor::TimePoint previous_at_{};
  uint64_t previous_cpu_us_ = 0, previous_mem_us_ = 0;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_HOST_READINGS_H_
