// CpuChoices: the engine's memory of which CPU works on this host. It holds the host probe's
// result, picks each new node's first CPU choice (the kind's own, or the rung that worked here for
// the same first choice before), walks the ladder when a start fails with a CPU error
// (providers/cpu_policy.h), and keeps what worked in STATE_DIR/cpu-choices.json so the next node,
// and the next labvirtd, start right the first time. The file is valid only for the host
// signature it names (CPU, kernel and QEMU version): any change and it is ignored.
//
// Loop thread only. File I/O is a few hundred bytes, at start and when a new rung first works.
#ifndef LABVIRT_ENGINE_CPU_CHOICES_H_
#define LABVIRT_ENGINE_CPU_CHOICES_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "providers/cpu_policy.h"
#include "providers/device_kind.h"
#include "providers/host_probe.h"

namespace labvirt::engine {

class CpuChoices {
 public:
  // `state_dir` holds the cache file; it is read once the host signature is known (SetHost).
  explicit CpuChoices(std::string state_dir);

  // The host as probed; loads the cache if it was written for this host's signature.
  void SetHost(providers::HostInfo host);
  const providers::HostInfo& host() const { return host_; }

  // The kind's CPU spec on this host's vendor, and its first choice.
  const providers::CpuSpec& SpecFor(const providers::DeviceKind& kind) const;
  providers::CpuChoice First(const providers::DeviceKind& kind) const;
  // What a new node of `kind` starts with: First(kind), or the rung cached for it.
  providers::CpuChoice Initial(const providers::DeviceKind& kind) const;
  // True when `current` is the kind's first choice but this host has learnt a better one since
  // (nodes defined in the same deploy as the first node that found it).
  bool Outdated(const providers::DeviceKind& kind, const providers::CpuChoice& current) const;
  // The next rung after `failed` was refused with `error`, or nullopt when `error` is no CPU
  // error or the ladder is exhausted.
  std::optional<providers::CpuChoice> Next(const providers::DeviceKind& kind,
                                           const providers::CpuChoice& failed,
                                           std::string_view error) const;
  // A node of `kind` started with `working`. Remembers it (and writes the file) when it is not
  // the kind's first choice and is new.
  void Worked(const providers::DeviceKind& kind, const providers::CpuChoice& working);

  // {"host": HostInfoJson, "cached": {"<first choice>": "<working choice>", …}, "file": …}
  std::string Json() const;
  // "host-passthrough → host-passthrough -arch-capabilities; …" or "none cached".
  std::string CachedSummary() const;

 private:
  void Load();
  void Save() const;

  std::string path_;
  providers::HostInfo host_;
  std::map<std::string, providers::CpuChoice> cached_;  // first-choice key -> working choice
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CPU_CHOICES_H_
