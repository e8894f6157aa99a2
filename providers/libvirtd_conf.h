// libvirtd.conf settings that decide how many of labvirtd's calls libvirtd serves at once.
// labvirtd makes every libvirt call on one connection, and libvirtd answers at most
// `max_client_requests` calls of one connection at a time (default 5): with more admitted starts
// than that, starts and the short calls of started nodes queue inside libvirtd (measured: a
// node's live-XML read waited 2.4 s on average in a 16-node deploy). labvirtd reads the local
// file at start-up to warn about it; tools/setup-host sets it.
#ifndef LABVIRT_PROVIDERS_LIBVIRTD_CONF_H_
#define LABVIRT_PROVIDERS_LIBVIRTD_CONF_H_

#include <optional>
#include <string_view>

namespace labvirt::providers {

inline constexpr const char* kLibvirtdConfPath = "/etc/libvirt/libvirtd.conf";
inline constexpr long kLibvirtdDefaultClientRequests = 5;

// The integer value of `key` in libvirtd.conf text ("key = 48"; the last setting wins; comments,
// blank lines and other keys ignored), or nullopt when it is not set or not an integer (libvirtd
// then uses its default).
std::optional<long> LibvirtdConfInt(std::string_view conf_text, std::string_view key);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_LIBVIRTD_CONF_H_
