#include "engine/mgmt/subnet_pool.h"

#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <span>
#include <sstream>

namespace labvirt::engine::mgmt {
namespace {

// Sets bits [from, to) of `b` to the low bits of `v`.
void SetBits(std::array<uint8_t, 16>& b, int from, int to, uint64_t v) {
  for (int i = to - 1; i >= from; --i, v >>= 1) {
    const auto mask = static_cast<uint8_t>(1u << (7 - i % 8));
    b[i / 8] = (v & 1) ? (b[i / 8] | mask) : (b[i / 8] & static_cast<uint8_t>(~mask));
  }
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

bool ParseHex32(std::string_view s, uint32_t* v) {
  if (s.size() != 8) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v, 16);
  return ec == std::errc() && end == s.data() + s.size();
}

// Hex digits into bytes, two per byte; false unless `s` is exactly 2*out.size() hex digits.
bool ParseHexBytes(std::string_view s, std::span<uint8_t> out) {
  if (s.size() != out.size() * 2) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    auto [end, ec] = std::from_chars(s.data() + 2 * i, s.data() + 2 * i + 2, out[i], 16);
    if (ec != std::errc() || end != s.data() + 2 * i + 2) return false;
  }
  return true;
}

bool Skipped(std::string_view dev, std::string_view skip_prefix) {
  return !skip_prefix.empty() && dev.substr(0, skip_prefix.size()) == skip_prefix;
}

void ParseIpv4Routes(std::string_view text, std::string_view skip, std::vector<TakenPrefix>* out) {
  for (std::string_view line : Lines(text)) {
    std::vector<std::string_view> f = Fields(line);
    // Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT
    uint32_t dest = 0, mask = 0;
    if (f.size() < 8 || !ParseHex32(f[1], &dest) || !ParseHex32(f[7], &mask)) continue;
    if (Skipped(f[0], skip)) continue;
    // The words are a __be32 printed as a host integer; its memory holds network order.
    IpPrefix p;
    p.family = AF_INET;
    std::memcpy(p.bytes.data(), &dest, 4);
    std::array<uint8_t, 4> m{};
    std::memcpy(m.data(), &mask, 4);
    int length = 0;
    while (length < 32 && ((m[length / 8] >> (7 - length % 8)) & 1)) ++length;
    if (length == 0) continue;  // default route
    // A non-contiguous mask cannot come from the kernel; skip rather than guess.
    bool contiguous = true;
    for (int i = length; i < 32; ++i) contiguous &= ((m[i / 8] >> (7 - i % 8)) & 1) == 0;
    if (!contiguous) continue;
    p.length = length;
    for (int i = 0; i < 4; ++i) p.bytes[i] &= m[i];
    out->push_back({p, "host route on " + std::string(f[0])});
  }
}

void ParseIpv6Routes(std::string_view text, std::string_view skip, std::vector<TakenPrefix>* out) {
  static const IpPrefix kLinkLocal = *ParsePrefix("fe80::/10");
  static const IpPrefix kMulticast = *ParsePrefix("ff00::/8");
  for (std::string_view line : Lines(text)) {
    std::vector<std::string_view> f = Fields(line);
    // dest dest_len src src_len next_hop metric refcnt use flags device
    IpPrefix p;
    p.family = AF_INET6;
    uint8_t length = 0;
    if (f.size() < 10 || !ParseHexBytes(f[0], p.bytes) ||
        !ParseHexBytes(f[1], std::span<uint8_t>(&length, 1)) || length > 128) {
      continue;
    }
    if (length == 0 || Skipped(f[9], skip)) continue;
    p.length = length;
    SetBits(p.bytes, length, 128, 0);
    if (Contains(kLinkLocal, p) || Contains(kMulticast, p)) continue;
    out->push_back({p, "host route on " + std::string(f[9])});
  }
}

std::string ReadAll(const char* path) {
  std::ifstream in(path);
  std::ostringstream s;
  if (in) s << in.rdbuf();
  return s.str();
}

}  // namespace

Result<IpPrefix> ChooseSubnet(const IpPrefix& pool, int length,
                              const std::vector<TakenPrefix>& taken) {
  const int bits = FamilyBits(pool.family);
  if (bits == 0 || pool.length < 0 || pool.length > bits) {
    return InvalidArgument("pool is not a valid prefix");
  }
  if (length < pool.length || length > bits) {
    return InvalidArgument("subnet length /" + std::to_string(length) + " does not fit pool " +
                           FormatPrefix(pool) + " (use /" + std::to_string(pool.length) + "../" +
                           std::to_string(bits) + ")");
  }
  const int index_bits = length - pool.length;
  if (index_bits > 63) {
    return InvalidArgument("pool " + FormatPrefix(pool) + " holds more than 2^63 subnets of /" +
                           std::to_string(length) + "; use a smaller pool");
  }
  const uint64_t count = uint64_t{1} << index_bits;
  uint64_t i = 0;
  // Each step either passes a whole taken block that contains the candidate, or moves one past a
  // candidate that holds a smaller taken prefix: at most 2|taken|+1 steps.
  while (i < count) {
    IpPrefix candidate = pool;
    candidate.length = length;
    SetBits(candidate.bytes, pool.length, length, i);
    uint64_t next = i + 1;
    bool free = true;
    for (const TakenPrefix& t : taken) {
      if (!Overlaps(candidate, t.prefix)) continue;
      free = false;
      if (t.prefix.length <= pool.length) {
        return ResourceExhausted("all " + std::to_string(count) + " subnets /" +
                                 std::to_string(length) + " of pool " + FormatPrefix(pool) +
                                 " are taken: " + FormatPrefix(t.prefix) + " (" + t.by +
                                 ") covers the whole pool");
      }
      if (t.prefix.length < length) {
        const int shift = length - t.prefix.length;
        const uint64_t past = ((i >> shift) + 1) << shift;
        if (past > next) next = past;
      }
    }
    if (free) return candidate;
    i = next;
  }
  return ResourceExhausted("all " + std::to_string(count) + " subnets /" + std::to_string(length) +
                           " of pool " + FormatPrefix(pool) + " are taken");
}

Status CheckSubnet(const IpPrefix& wanted, const std::vector<TakenPrefix>& taken) {
  for (const TakenPrefix& t : taken) {
    if (Overlaps(wanted, t.prefix)) {
      return FailedPrecondition("subnet " + FormatPrefix(wanted) + " overlaps " +
                                FormatPrefix(t.prefix) + " (" + t.by + ")");
    }
  }
  return Status::Ok();
}

std::vector<TakenPrefix> ParseHostRoutes(std::string_view proc_net_route,
                                         std::string_view proc_net_ipv6_route,
                                         std::string_view skip_device_prefix) {
  std::vector<TakenPrefix> out;
  ParseIpv4Routes(proc_net_route, skip_device_prefix, &out);
  ParseIpv6Routes(proc_net_ipv6_route, skip_device_prefix, &out);
  return out;
}

std::vector<TakenPrefix> ReadHostRoutes(std::string_view skip_device_prefix) {
  return ParseHostRoutes(ReadAll("/proc/net/route"), ReadAll("/proc/net/ipv6_route"),
                         skip_device_prefix);
}

}  // namespace labvirt::engine::mgmt
