// Reading rtnetlink requests back in unit tests: a message region's attributes by type, and a
// kernel struct copied out of a byte string. Header-only; needs gtest.
#ifndef LABVIRT_TESTS_SUPPORT_NETLINK_ATTRS_H_
#define LABVIRT_TESTS_SUPPORT_NETLINK_ATTRS_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "providers/netlink/rtnetlink.h"

namespace labvirt::testing {

// The attributes in `s` by type (the last one wins for a repeated type).
inline std::map<uint16_t, std::string> Attrs(std::string_view s) {
  std::map<uint16_t, std::string> out;
  providers::NlForEachAttr(s,
                           [&](uint16_t type, std::string_view p) { out[type] = std::string(p); });
  return out;
}

// A T copied from the start of `s` (a test failure if `s` is too short).
template <typename T>
T As(std::string_view s) {
  T v{};
  EXPECT_GE(s.size(), sizeof v);
  std::memcpy(&v, s.data(), std::min(s.size(), sizeof v));
  return v;
}

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_NETLINK_ATTRS_H_
