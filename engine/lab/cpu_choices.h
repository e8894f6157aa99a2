// CpuChoices: the engine's memory of which CPU works on this host. It holds the host probe's
// result, picks each new node's first CPU choice (the kind's own, or the rung that worked here for
// the same first choice before), walks the ladder when a start fails with a CPU error
// (providers/cpu_policy.h), and keeps what worked in STATE_DIR/cpu-choices.json so the next node,
// and the next labvirtd, start right the first time. The file is valid only for the host
// signature it names (CPU, kernel and QEMU version): any change and it is ignored.
//
// Loop thread only, and no I/O: the engine reads and writes the file on its worker pool
// (ReadCpuCache, WriteCpuCache) and hands the text over.
#ifndef LABVIRT_ENGINE_LAB_CPU_CHOICES_H_
#define LABVIRT_ENGINE_LAB_CPU_CHOICES_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "providers/cpu_policy.h"
#include "providers/device_kind.h"
#include "providers/host_probe.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

class CpuChoices {
 public:
  // `state_dir` holds the cache file (cache_path()).
  explicit CpuChoices(std::string state_dir);
  const std::string& cache_path() const { return path_; }

  // The host as probed, and the cache file's text as read ("" when there is none). When the
  // host's signature changed, the cached choices become those of `cache_json` if it was written
  // for this signature, else none.
  void SetHost(providers::HostInfo host, std::string_view cache_json);
  const providers::HostInfo& host() const { return host_; }

  // The kind's CPU spec on this host's vendor, and its first choice.
  const providers::CpuSpec& SpecFor(const providers::DeviceKind& kind) const;
  providers::CpuChoice First(const providers::DeviceKind& kind) const;
  // What a new node of `kind` starts with: First(kind), or the rung cached for it.
  providers::CpuChoice Initial(const providers::DeviceKind& kind) const;
  // True when `current` is the kind's first choice but this host has learnt a better one since
  // (nodes defined in the same deploy as the first node that found it).
  bool Outdated(const providers::DeviceKind& kind, const providers::CpuChoice& current) const;
  // The next rung after `failed` was refused with `err` (providers::ClassifyCpuError), or
  // nullopt when `err` is no CPU error or the ladder is exhausted.
  std::optional<providers::CpuChoice> Next(const providers::DeviceKind& kind,
                                           const providers::CpuChoice& failed,
                                           const providers::CpuError& err) const;
  // A node of `kind` started with `working`. Remembers it when it is not the kind's first choice;
  // true when that is new (then CacheJson() is worth writing to cache_path()).
  bool Worked(const providers::DeviceKind& kind, const providers::CpuChoice& working);
  // The cache file's text for what is remembered now.
  std::string CacheJson() const;

  // {"host": HostInfoJson, "cached": {"<first choice>": "<working choice>", …}, "file": …}
  std::string Json() const;
  // "host-passthrough → host-passthrough -arch-capabilities; …" or "none cached".
  std::string CachedSummary() const;

 private:
  void Load(std::string_view cache_json);

  std::string path_;
  providers::HostInfo host_;
  std::map<std::string, providers::CpuChoice> cached_;  // first-choice key -> working choice
};

// The cache file's text ("" when it is missing or unreadable), and its atomic replacement (write,
// then rename: a crash mid-write leaves the old file). Blocking: for a worker thread.
std::string ReadCpuCache(const std::string& path);
Status WriteCpuCache(const std::string& path, const std::string& json);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_CPU_CHOICES_H_
