#include "ovs/vlan_allocator.h"

namespace labvirt::ovs {

Status VlanRanges::Validate() const {
  auto valid = [](const VlanRange& r) {
    return r.first >= 1 && r.last <= 4094 && r.first <= r.last;
  };
  if (!valid(isolated))
    return InvalidArgument("isolated VLAN range must lie in 1..4094, first <= last");
  if (!valid(links)) return InvalidArgument("link VLAN range must lie in 1..4094, first <= last");
  if (isolated.first <= links.last && links.first <= isolated.last) {
    return InvalidArgument("isolated and link VLAN ranges overlap");
  }
  return Status::Ok();
}

VlanAllocator::VlanAllocator(VlanRanges ranges) : ranges_(ranges) {}

Status VlanAllocator::Reserve(int tag, std::string_view owner) {
  if (tag < 1 || tag > 4094) {
    return InvalidArgument("VLAN tag " + std::to_string(tag) + " is outside 1..4094");
  }
  auto it = owners_.find(tag);
  if (it != owners_.end()) {
    if (it->second == owner) return Status::Ok();
    return Status(StatusCode::kAlreadyExists, "VLAN tag " + std::to_string(tag) + " is held by " +
                                                  it->second + ", not " + std::string(owner));
  }
  owners_.emplace(tag, std::string(owner));
  by_owner_[std::string(owner)][tag] = true;
  return Status::Ok();
}

std::optional<uint16_t> VlanAllocator::TagOf(std::string_view owner, const VlanRange& range) const {
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return std::nullopt;
  for (const auto& [tag, unused] : it->second) {
    if (range.Contains(tag)) return static_cast<uint16_t>(tag);
  }
  return std::nullopt;
}

Result<uint16_t> VlanAllocator::Allocate(std::string_view owner, const VlanRange& range,
                                         const char* what) {
  if (auto held = TagOf(owner, range)) return *held;
  // Lowest free tag: walk the reserved tags of the range in order and take the first gap.
  int candidate = range.first;
  for (auto it = owners_.lower_bound(range.first); it != owners_.end() && it->first <= range.last;
       ++it) {
    if (it->first != candidate) break;
    ++candidate;
  }
  if (candidate > range.last) {
    return ResourceExhausted(std::string("no free ") + what + " VLAN tag in " +
                             std::to_string(range.first) + "-" + std::to_string(range.last) +
                             " for " + std::string(owner));
  }
  LABVIRT_RETURN_IF_ERROR(Reserve(candidate, owner));
  return static_cast<uint16_t>(candidate);
}

Result<uint16_t> VlanAllocator::AllocateIsolated(std::string_view owner) {
  return Allocate(owner, ranges_.isolated, "isolated");
}

Result<uint16_t> VlanAllocator::AllocateLink(std::string_view owner) {
  return Allocate(owner, ranges_.links, "link");
}

size_t VlanAllocator::Release(std::string_view owner) {
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return 0;
  size_t n = it->second.size();
  for (const auto& [tag, unused] : it->second) owners_.erase(tag);
  by_owner_.erase(it);
  return n;
}

void VlanAllocator::ReleaseTag(int tag) {
  auto it = owners_.find(tag);
  if (it == owners_.end()) return;
  auto o = by_owner_.find(it->second);
  if (o != by_owner_.end()) {
    o->second.erase(tag);
    if (o->second.empty()) by_owner_.erase(o);
  }
  owners_.erase(it);
}

std::optional<std::string> VlanAllocator::OwnerOf(int tag) const {
  auto it = owners_.find(tag);
  if (it == owners_.end()) return std::nullopt;
  return it->second;
}

}  // namespace labvirt::ovs
