#include "providers/node_naming.h"

#include <cstdio>

namespace labvirt::providers {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string Hex(uint64_t v, int digits) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) out[static_cast<size_t>(i)] = kDigits[v & 0xf];
  return out;
}

// Printable form of a rejected byte for the error message: the byte itself when printable,
// else its hex value (control and non-ASCII bytes would garble a log line).
std::string Describe(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u > 0x20 && u < 0x7f) return std::string("'") + c + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", u);
  return buf;
}

}  // namespace

Status ValidateName(std::string_view what, std::string_view name) {
  const std::string rule =
      " (1-63 characters: a letter or digit, then letters, digits, '_', '.', '-')";
  if (name.empty()) return InvalidArgument(std::string(what) + " is empty" + rule);
  if (name.size() > kMaxNameLength) {
    return InvalidArgument(std::string(what) + " is " + std::to_string(name.size()) +
                           " characters long" + rule);
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = IsAlnum(c) || (i > 0 && (c == '_' || c == '.' || c == '-'));
    if (!ok) {
      return InvalidArgument(std::string(what) + " has " + Describe(c) + " at position " +
                             std::to_string(i) + rule);
    }
  }
  return Status::Ok();
}

uint64_t StableHash(std::initializer_list<std::string_view> parts) {
  uint64_t h = 14695981039346656037ull;
  bool first = true;
  for (std::string_view part : parts) {
    if (!first) h = (h ^ 0u) * 1099511628211ull;  // the NUL separator
    first = false;
    for (char c : part) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  return h;
}

std::string NodeTag(std::string_view lab, std::string_view node, int salt) {
  std::string salt_text = std::to_string(salt);
  // Salt 0 hashes only (lab, node) so the common case is the simplest to recompute by hand.
  uint64_t h = salt == 0 ? StableHash({lab, node}) : StableHash({lab, node, salt_text});
  return Hex((h >> 32) ^ (h & 0xffffffffu), 8);
}

Result<std::string> AllocateNodeTag(std::string_view lab, std::string_view node,
                                    const std::set<std::string>& tags_in_use) {
  for (int salt = 0; salt < kMaxRehash; ++salt) {
    std::string tag = NodeTag(lab, node, salt);
    if (tags_in_use.count(tag) == 0) return tag;
  }
  return ResourceExhausted("no free node tag for " + std::string(lab) + "/" + std::string(node) +
                           " after " + std::to_string(kMaxRehash) + " attempts");
}

std::string DomainName(std::string_view lab, std::string_view node, std::string_view tag) {
  return "lv-" + std::string(lab) + "-" + std::string(node) + "-" + std::string(tag);
}

std::string DataTapName(std::string_view tag, int index) {
  return "lv" + std::string(tag) + "-" + std::to_string(index);
}

std::string ManagementTapName(std::string_view tag) { return "lv" + std::string(tag) + "-m"; }

std::string ReservedTapName(std::string_view tag, int index) {
  return "lv" + std::string(tag) + "-r" + std::to_string(index);
}

Result<std::string> AllocateMac(std::string_view lab, std::string_view node,
                                std::string_view nic_key, std::set<std::string>* in_use) {
  for (int salt = 0; salt < kMaxRehash; ++salt) {
    std::string salt_text = std::to_string(salt);
    uint64_t h = StableHash({lab, node, nic_key, salt_text});
    // Fold all 64 bits into 24 so every input byte influences the MAC.
    uint32_t v = static_cast<uint32_t>((h ^ (h >> 24) ^ (h >> 48)) & 0xffffff);
    std::string hex = Hex(v, 6);
    std::string mac = "52:54:00:" + hex.substr(0, 2) + ":" + hex.substr(2, 2) + ":" + hex.substr(4);
    if (in_use->insert(mac).second) return mac;
  }
  return ResourceExhausted("no free MAC address for " + std::string(lab) + "/" + std::string(node) +
                           " nic " + std::string(nic_key) + " after " + std::to_string(kMaxRehash) +
                           " attempts");
}

std::string NormalizeMac(std::string_view mac) {
  std::string out(mac);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace labvirt::providers
