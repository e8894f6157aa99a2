// VlanAllocator: host-wide VLAN tag reservations for the one labvirt bridge. Pure, no I/O.
//
// Two ranges: isolated tags (one per NIC, so an unlinked NIC shares its segment with nobody) and
// link tags (one per link, shared by both ends). A tag has at most one owner, a string naming what
// holds it ("nic:LAB/NODE/NIC", "link:LAB/LINK", or "foreign:PORT" for a tag in use on the bridge
// by something that is not labvirt's). Uniqueness is host-wide: there is one allocator per bridge,
// fed from OVSDB state (OvsSwitch rebuilds it from port external_ids after every sync) and from
// the engine (Reserve() for stopped VMs whose ports are gone) — never a per-lab counter.
//
// Threads: not thread-safe; the owner uses it on the loop thread.
#ifndef LABVIRT_OVS_VLAN_ALLOCATOR_H_
#define LABVIRT_OVS_VLAN_ALLOCATOR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "reactor/base/status.h"

namespace labvirt::ovs {

struct VlanRange {
  uint16_t first = 0;
  uint16_t last = 0;  // inclusive
  bool Contains(int tag) const { return tag >= first && tag <= last; }
};

struct VlanRanges {
  VlanRange isolated{100, 2049};
  VlanRange links{2050, 4000};
  // Both ranges inside 1..4094, first <= last, not overlapping.
  Status Validate() const;
};

class VlanAllocator {
 public:
  // `ranges` must have passed Validate().
  explicit VlanAllocator(VlanRanges ranges);

  // Reserves `tag` for `owner`. OK when the owner already holds it; kAlreadyExists when another
  // owner does; kInvalidArgument outside 1..4094. Tags outside both ranges may be reserved (a
  // foreign port may use any tag; the allocator then never hands it out).
  Status Reserve(int tag, std::string_view owner);
  // The tag held by `owner` in the isolated range, allocating the lowest free one if it holds
  // none. kResourceExhausted when the range is full (nothing changes then).
  Result<uint16_t> AllocateIsolated(std::string_view owner);
  // The same in the link range.
  Result<uint16_t> AllocateLink(std::string_view owner);
  // Frees every tag `owner` holds. Returns how many.
  size_t Release(std::string_view owner);
  // Frees `tag` whoever holds it.
  void ReleaseTag(int tag);
  // Drops every reservation.
  void Clear() {
    owners_.clear();
    by_owner_.clear();
  }

  std::optional<std::string> OwnerOf(int tag) const;
  // The tag `owner` holds in `range`, if any.
  std::optional<uint16_t> TagOf(std::string_view owner, const VlanRange& range) const;
  const VlanRanges& ranges() const { return ranges_; }
  size_t reserved() const { return owners_.size(); }

 private:
  Result<uint16_t> Allocate(std::string_view owner, const VlanRange& range, const char* what);

  VlanRanges ranges_;
  std::map<int, std::string> owners_;  // tag -> owner
  std::map<std::string, std::map<int, bool>, std::less<>> by_owner_;
};

}  // namespace labvirt::ovs

#endif  // LABVIRT_OVS_VLAN_ALLOCATOR_H_
