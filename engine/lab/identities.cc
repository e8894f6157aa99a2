#include "engine/lab/identities.h"

#include <charconv>

namespace labvirt::engine {
namespace {

constexpr std::string_view kLinkSeparator = "--";

// "node:interface" split at the first ':' (interface names may hold more of them).
bool SplitEnd(std::string_view end, std::string* node, std::string* interface) {
  auto colon = end.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == end.size()) return false;
  *node = std::string(end.substr(0, colon));
  *interface = std::string(end.substr(colon + 1));
  return true;
}

std::optional<int> Number(std::string_view digits) {
  int v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || v < 0) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

std::string MakeLinkId(const LinkEnds& e) {
  return e.a_node + ":" + e.a_interface + std::string(kLinkSeparator) + e.b_node + ":" +
         e.b_interface;
}

std::optional<LinkEnds> ParseLinkId(std::string_view id) {
  auto sep = id.find(kLinkSeparator);
  if (sep == std::string_view::npos) return std::nullopt;
  LinkEnds e;
  if (!SplitEnd(id.substr(0, sep), &e.a_node, &e.a_interface) ||
      !SplitEnd(id.substr(sep + kLinkSeparator.size()), &e.b_node, &e.b_interface)) {
    return std::nullopt;
  }
  return e;
}

std::string NicKey(const providers::NicMetadata& nic) {
  switch (nic.role) {
    case providers::NicRole::kManagement:
      return "m";
    case providers::NicRole::kReserved:
      return "r" + std::to_string(nic.index);
    case providers::NicRole::kData:
      break;
  }
  return std::to_string(nic.index);
}

int NicNumber(std::string_view key) {
  if (key == "m") return 1000;
  if (!key.empty() && key[0] == 'r') {
    auto n = Number(key.substr(1));
    return n ? 2000 + *n : -1;
  }
  auto n = Number(key);
  return n ? *n : -1;
}

}  // namespace labvirt::engine
