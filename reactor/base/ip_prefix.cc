#include "reactor/base/ip_prefix.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>

namespace labvirt {
namespace {

bool Bit(const std::array<uint8_t, 16>& b, int i) { return (b[i / 8] >> (7 - i % 8)) & 1; }

// True when the first `bits` bits of a and b are equal.
bool SameLeadingBits(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  for (int i = 0; i < bits; ++i) {
    if (Bit(a, i) != Bit(b, i)) return false;
  }
  return true;
}

// Zeroes every bit from `from` on.
void ClearFrom(std::array<uint8_t, 16>& b, int from) {
  for (int i = from; i < 128; ++i) b[i / 8] &= static_cast<uint8_t>(~(1u << (7 - i % 8)));
}

std::string AddressText(int family, const std::array<uint8_t, 16>& bytes) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes.data(), buf, sizeof buf);
  return buf;
}

}  // namespace

int FamilyBits(int family) {
  if (family == AF_INET) return 32;
  if (family == AF_INET6) return 128;
  return 0;
}

Result<IpPrefix> ParseAddress(std::string_view text) {
  // inet_pton wants a NUL-terminated string; copying also stops an embedded NUL from hiding a tail.
  std::string s(text);
  if (s.size() != std::string_view(s.c_str()).size() || s.empty()) {
    return InvalidArgument("'" + s + "' is not an IP address");
  }
  IpPrefix p;
  p.family = s.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (inet_pton(p.family, s.c_str(), p.bytes.data()) != 1) {
    return InvalidArgument("'" + s + "' is not an " + (p.family == AF_INET ? "IPv4" : "IPv6") +
                           " address");
  }
  p.length = FamilyBits(p.family);
  return p;
}

Result<IpPrefix> ParsePrefix(std::string_view text) {
  Result<IpPrefix> p = ParseInterfaceAddress(text);
  if (!p.ok()) return p;
  IpPrefix canonical = NetworkOf(*p);
  if (canonical.bytes != p->bytes) {
    return InvalidArgument(std::string(text) + " has host bits set; did you mean " +
                           FormatPrefix(canonical) + "?");
  }
  return canonical;
}

IpPrefix NetworkOf(IpPrefix p) {
  ClearFrom(p.bytes, p.length);
  return p;
}

size_t AddressBytes(int family) { return family == AF_INET ? 4 : 16; }

Result<IpPrefix> ParseInterfaceAddress(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return InvalidArgument("'" + std::string(text) +
                           "' has no prefix length (write it as address/length, e.g. "
                           "10.250.0.0/16)");
  }
  Result<IpPrefix> addr = ParseAddress(text.substr(0, slash));
  if (!addr.ok()) return addr.status().WithContext("prefix '" + std::string(text) + "'");
  IpPrefix p = *addr;
  std::string_view len_text = text.substr(slash + 1);
  int length = -1;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
  // from_chars takes a leading '-' for int: require plain digits, at most three.
  const bool digits =
      std::all_of(len_text.begin(), len_text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (len_text.empty() || len_text.size() > 3 || !digits || ec != std::errc() ||
      end != len_text.data() + len_text.size()) {
    return InvalidArgument("prefix '" + std::string(text) + "': length '" + std::string(len_text) +
                           "' is not a number");
  }
  if (length < 0 || length > p.length) {
    return InvalidArgument("prefix '" + std::string(text) + "': length " + std::to_string(length) +
                           " is out of range 0.." + std::to_string(p.length));
  }
  p.length = length;
  return p;
}

std::string FormatPrefix(const IpPrefix& p) {
  return AddressText(p.family, p.bytes) + "/" + std::to_string(p.length);
}

bool Contains(const IpPrefix& outer, const IpPrefix& inner) {
  return outer.family == inner.family && outer.length <= inner.length &&
         SameLeadingBits(outer.bytes, inner.bytes, outer.length);
}

bool Overlaps(const IpPrefix& a, const IpPrefix& b) { return Contains(a, b) || Contains(b, a); }

Result<std::string> NthAddress(const IpPrefix& p, uint64_t n) {
  const int host_bits = FamilyBits(p.family) - p.length;
  if (host_bits < 0 || FamilyBits(p.family) == 0) {
    return InvalidArgument("not a valid prefix (family " + std::to_string(p.family) + ")");
  }
  if (host_bits < 64 && n >> host_bits != 0) {
    return InvalidArgument("address index " + std::to_string(n) + " is out of range for " +
                           FormatPrefix(p) + " (it has " +
                           std::to_string(uint64_t{1} << host_bits) + " addresses)");
  }
  std::array<uint8_t, 16> bytes = p.bytes;
  // Host bits are zero in a canonical prefix, so adding into the last 8 bytes cannot carry into
  // the network part.
  const int last = FamilyBits(p.family) / 8 - 1;
  for (int i = last; i >= 0 && n != 0; --i) {
    unsigned sum = bytes[i] + static_cast<unsigned>(n & 0xff);
    bytes[i] = static_cast<uint8_t>(sum);
    n = (n >> 8) + (sum >> 8);
  }
  return AddressText(p.family, bytes);
}

Result<uint64_t> AddressIndex(const IpPrefix& p, std::string_view address) {
  Result<IpPrefix> a = ParseAddress(address);
  if (!a.ok()) return a.status();
  if (!Contains(p, *a)) {
    return InvalidArgument(std::string(address) + " is not inside " + FormatPrefix(p));
  }
  const int bits = FamilyBits(p.family);
  uint64_t n = 0;
  for (int i = p.length; i < bits; ++i) {
    if (n >> 63 != 0) {
      return InvalidArgument(std::string(address) + " is too far inside " + FormatPrefix(p) +
                             " for a 64-bit index");
    }
    n = (n << 1) | (Bit(a->bytes, i) ? 1 : 0);
  }
  return n;
}

}  // namespace labvirt
