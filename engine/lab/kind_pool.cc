#include "engine/lab/kind_pool.h"

#include <utility>

namespace labvirt::engine {

SharedKind KindPool::Share(const std::string& kind_name, const std::string& overrides_json,
                           providers::DeviceKind resolved) {
  // Expired entries go now and then rather than at each node's end: a pass over the map every
  // 256 shares keeps it at the kinds in use without a hook in the node's destructor.
  if (++shares_ % 256 == 0) {
    std::erase_if(kinds_, [](const auto& entry) { return entry.second.expired(); });
  }
  std::string key = kind_name;
  key.push_back('\0');  // neither a kind name nor JSON holds a NUL
  key += overrides_json;
  std::weak_ptr<const providers::DeviceKind>& entry = kinds_[key];
  if (SharedKind held = entry.lock()) return held;
  SharedKind made = std::make_shared<const providers::DeviceKind>(std::move(resolved));
  entry = made;
  return made;
}

size_t KindPool::size() const {
  size_t n = 0;
  for (const auto& [key, kind] : kinds_) n += kind.expired() ? 0 : 1;
  return n;
}

const SharedKind& NoKind() {
  static const SharedKind* none = new SharedKind(std::make_shared<const providers::DeviceKind>());
  return *none;
}

}  // namespace labvirt::engine
