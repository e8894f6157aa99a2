// Node naming: validation of user-given names, and the deterministic host-unique names labvirt
// derives from them (node tag, libvirt domain name, tap names, MAC addresses).
//
// Pure functions, no I/O, callable from any thread. Hashes are FNV-1a 64 over the UTF-8 bytes of
// their inputs joined by NUL; they are part of the on-host naming contract and must not change.
#ifndef LABVIRT_PROVIDERS_NODE_NAMING_H_
#define LABVIRT_PROVIDERS_NODE_NAMING_H_

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "reactor/base/status.h"

namespace labvirt::providers {

inline constexpr size_t kMaxNameLength = 63;
// The labvirt instance (docs/instances.md) that owns a domain or OVS port carrying no instance
// mark: one made before labvirt had instances.
inline constexpr char kDefaultInstance[] = "default";
inline constexpr size_t kMaxTapNameLength = 15;  // IFNAMSIZ - 1
// Rehash attempts before tag or MAC allocation gives up with kResourceExhausted.
inline constexpr int kMaxRehash = 4096;

// OK when `name` is 1-63 bytes of [A-Za-z0-9][A-Za-z0-9_.-]*. Otherwise InvalidArgument naming
// `what` ("lab name", "node name", …), the offending character or length, and the rule. The rule
// excludes every XML and shell metacharacter, whitespace and non-ASCII bytes.
Status ValidateName(std::string_view what, std::string_view name);

// FNV-1a 64 of `parts` joined with NUL bytes.
uint64_t StableHash(std::initializer_list<std::string_view> parts);

// The node tag: 8 lower-case hex digits of StableHash(lab, node, salt). Salt 0 is the default;
// a collision on the host is resolved by AllocateNodeTag with salt 1, 2, …
std::string NodeTag(std::string_view lab, std::string_view node, int salt = 0);

// The first NodeTag(lab, node, salt) for salt = 0, 1, … that is not in `tags_in_use` (the tags
// of every other labvirt node on the host, read from their metadata). The chosen tag is stored in
// the node's metadata, so it stays stable across restarts. kResourceExhausted after kMaxRehash.
Result<std::string> AllocateNodeTag(std::string_view lab, std::string_view node,
                                    const std::set<std::string>& tags_in_use);

// "lv-LAB-NODE-TAG": the libvirt domain name. The tag suffix keeps it unique even when two
// (lab, node) pairs join to the same text ("a-b"+"c" vs "a"+"b-c").
std::string DomainName(std::string_view lab, std::string_view node, std::string_view tag);

// Tap names, all ≤ 15 bytes: "lvTAG-N" for data NIC N (N < 10000), "lvTAG-m" for the
// management NIC, "lvTAG-rN" for reserved dummy NIC N (N < 1000).
std::string DataTapName(std::string_view tag, int index);
std::string ManagementTapName(std::string_view tag);
std::string ReservedTapName(std::string_view tag, int index);

// A MAC "52:54:00:xx:xx:xx" (lower case) derived from StableHash(lab, node, nic_key, salt) with
// the first salt that gives a MAC not in `*in_use`; the MAC is then inserted into `*in_use` so
// one set can allocate a whole node or lab. `in_use` holds lower-case MACs (see NormalizeMac).
// kResourceExhausted after kMaxRehash attempts.
Result<std::string> AllocateMac(std::string_view lab, std::string_view node,
                                std::string_view nic_key, std::set<std::string>* in_use);

// Lower-cases a MAC so it can be compared with AllocateMac's output.
std::string NormalizeMac(std::string_view mac);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_NODE_NAMING_H_
