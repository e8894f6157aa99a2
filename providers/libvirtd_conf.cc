#include "providers/libvirtd_conf.h"

#include <charconv>

namespace labvirt::providers {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<long> LibvirtdConfInt(std::string_view conf_text, std::string_view key) {
  std::optional<long> found;
  while (!conf_text.empty()) {
    size_t nl = conf_text.find('\n');
    std::string_view line = conf_text.substr(0, nl);
    conf_text.remove_prefix(nl == std::string_view::npos ? conf_text.size() : nl + 1);
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || Trim(line.substr(0, eq)) != key) continue;
    std::string_view value = Trim(line.substr(eq + 1));
    long v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    found = ec == std::errc() && end == value.data() + value.size() ? std::optional<long>(v)
                                                                    : std::nullopt;
  }
  return found;
}

}  // namespace labvirt::providers
