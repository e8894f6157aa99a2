#include "engine/readiness/readiness_pattern_cache.h"

namespace labvirt::engine {
namespace {

void Add(std::string& key, const std::string& text) {
  key += std::to_string(text.size());
  key += ':';
  key += text;
}

void Add(std::string& key, long long n) {
  key += std::to_string(n);
  key += ';';
}

}  // namespace

std::string ReadinessSpecKey(const providers::ReadinessSpec& spec) {
  std::string key;
  Add(key, spec.none ? 1 : 0);
  Add(key, static_cast<long long>(spec.success.size()));
  for (const auto& p : spec.success) Add(key, p);
  Add(key, static_cast<long long>(spec.progress.size()));
  for (const auto& p : spec.progress) {
    Add(key, p.pattern);
    Add(key, p.percent);
    Add(key, p.label);
  }
  Add(key, static_cast<long long>(spec.failure.size()));
  for (const auto& f : spec.failure) {
    Add(key, f.pattern);
    Add(key, static_cast<long long>(f.action));
    Add(key, f.label);
  }
  Add(key, static_cast<long long>(spec.idle_timeout.count()));
  Add(key, static_cast<long long>(spec.overall_timeout.count()));
  Add(key, spec.retries);
  return key;
}

Result<std::shared_ptr<const ReadinessPatterns>> ReadinessPatternCache::Get(
    const providers::ReadinessSpec& spec, const std::string& kind) {
  std::string key = ReadinessSpecKey(spec);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    if (auto held = it->second.lock()) return held;
  }
  auto compiled = ReadinessPatterns::Compile(spec, kind);
  if (!compiled.ok()) return compiled.status();
  // A miss is rare (a new spec, or the last holder let go): drop what nobody holds any more, so
  // the map stays as small as the set of specs in use.
  std::erase_if(entries_, [](const auto& e) { return e.second.expired(); });
  entries_[std::move(key)] = *compiled;
  return compiled;
}

size_t ReadinessPatternCache::live() const {
  size_t n = 0;
  for (const auto& [key, weak] : entries_) n += !weak.expired();
  return n;
}

}  // namespace labvirt::engine
