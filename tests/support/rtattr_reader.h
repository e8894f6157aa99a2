// Reading rtnetlink attributes back in tests: a region's attributes by type, and a payload as a
// fixed-size struct. Header-only; tests only.
#ifndef LABVIRT_TESTS_SUPPORT_RTATTR_READER_H_
#define LABVIRT_TESTS_SUPPORT_RTATTR_READER_H_

#include <linux/rtnetlink.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

namespace labvirt::testing {

// The attributes of `s` (a run of rtattr) by type, as payloads; stops at the first malformed one.
inline std::map<uint16_t, std::string> Attrs(std::string_view s) {
  std::map<uint16_t, std::string> out;
  size_t at = 0;
  while (at + sizeof(rtattr) <= s.size()) {
    rtattr a;
    std::memcpy(&a, s.data() + at, sizeof a);
    if (a.rta_len < sizeof a || at + a.rta_len > s.size()) break;
    out[a.rta_type] = std::string(s.substr(at + RTA_LENGTH(0), a.rta_len - RTA_LENGTH(0)));
    at += RTA_ALIGN(a.rta_len);
  }
  return out;
}

// `s` read as a T (zero-filled when shorter).
template <typename T>
T As(const std::string& s) {
  T v{};
  std::memcpy(&v, s.data(), std::min(s.size(), sizeof v));
  return v;
}

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_RTATTR_READER_H_
