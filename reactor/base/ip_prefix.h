// IpPrefix: an IPv4 or IPv6 address with a prefix length — a network ("10.250.3.0/24") or an
// interface's address ("10.250.3.1/24") — with parsing, canonical text, overlap tests and address
// arithmetic. One type for every layer that handles them: management subnets (engine/mgmt),
// gateway addresses through rtnetlink (providers/netlink/addresses.h). Pure; any thread.
#ifndef LABVIRT_REACTOR_BASE_IP_PREFIX_H_
#define LABVIRT_REACTOR_BASE_IP_PREFIX_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "reactor/base/status.h"

namespace labvirt {

// An address and a length. From ParsePrefix (a network) the bits past `length` are zero; from
// ParseInterfaceAddress they are the address's own. IPv4 uses bytes[0..3] (network order) and
// leaves the rest zero.
struct IpPrefix {
  int family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};
  int length = 0;  // 0..32 or 0..128

  bool operator==(const IpPrefix&) const = default;
};

// Address width of `family` in bits: 32 or 128 (0 for anything else).
int FamilyBits(int family);

// "10.250.3.0/24", "fd6c:7600:0:3::/64". InvalidArgument saying what is wrong: no or bad length,
// bad address, length out of range, or host bits set ("10.0.0.1/24 has host bits set; did you
// mean 10.0.0.0/24?").
Result<IpPrefix> ParsePrefix(std::string_view text);
// Canonical text (inet_ntop's form of the address, "/", length).
std::string FormatPrefix(const IpPrefix& p);
// True when both are of one family and one contains the other.
bool Overlaps(const IpPrefix& a, const IpPrefix& b);
// True when `inner` lies inside `outer` (same family, not shorter, same leading bits).
bool Contains(const IpPrefix& outer, const IpPrefix& inner);

// The n-th address inside `p` as text ("10.250.3.1" for n=1 in 10.250.3.0/24; n=0 is the network
// address itself). InvalidArgument ("out of range") when n does not fit in p's host bits.
Result<std::string> NthAddress(const IpPrefix& p, uint64_t n);
// The n such that NthAddress(p, n) == address. InvalidArgument when `address` does not parse, is
// of the other family, lies outside p, or its index exceeds 64 bits.
Result<uint64_t> AddressIndex(const IpPrefix& p, std::string_view address);
// A single address ("10.0.0.1", "fd00::1") as a full-length prefix (/32 or /128).
Result<IpPrefix> ParseAddress(std::string_view text);
// An interface's address with its network's length ("10.250.3.1/24", "fd6c:7600:0:3::1/64"):
// host bits kept. InvalidArgument as ParsePrefix's, host bits aside.
Result<IpPrefix> ParseInterfaceAddress(std::string_view text);
// The network `p` lies in: its bits past `length` cleared.
IpPrefix NetworkOf(IpPrefix p);
// The address's width in bytes: 4 or 16.
size_t AddressBytes(int family);

}  // namespace labvirt

#endif  // LABVIRT_REACTOR_BASE_IP_PREFIX_H_
