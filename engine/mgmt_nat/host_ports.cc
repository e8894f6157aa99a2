#include "engine/mgmt_nat/host_ports.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

namespace labvirt::engine::mgmt {
namespace {

bool ParseHex(std::string_view s, uint32_t* out) {
  if (s.empty() || s.size() > 8) return false;
  uint32_t v = 0;
  for (char c : s) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (d < 0) return false;
    v = (v << 4) | static_cast<uint32_t>(d);
  }
  *out = v;
  return true;
}

// The kernel prints each 32-bit word of the address as the host-order integer of its memory, so
// copying the integer back to memory gives the address bytes in network order on any endianness.
bool ParseAddress(std::string_view hex, unsigned char* bytes, size_t* len) {
  if (hex.size() != 8 && hex.size() != 32) return false;
  *len = hex.size() / 2;
  for (size_t w = 0; w < hex.size() / 8; ++w) {
    uint32_t v = 0;
    if (!ParseHex(hex.substr(w * 8, 8), &v)) return false;
    std::memcpy(bytes + w * 4, &v, 4);
  }
  return true;
}

bool IsLoopback(const unsigned char* b, size_t len) {
  if (len == 4) return b[0] == 127;
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(b, kMapped, 12) == 0) return b[12] == 127;
  for (size_t i = 0; i < 15; ++i) {
    if (b[i] != 0) return false;
  }
  return b[15] == 1;
}

std::string ReadFile(const char* path, bool* ok) {
  std::ifstream in(path);
  *ok = static_cast<bool>(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::set<int> TakenPorts(std::string_view text, bool udp) {
  const std::string_view want_state = udp ? "07" : "0A";
  std::set<int> ports;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string sl, local, remote, state;
    if (!(fields >> sl >> local >> remote >> state) || state != want_state) continue;
    const size_t colon = local.find(':');
    uint32_t port = 0;
    unsigned char addr[16];
    size_t len = 0;
    if (colon == std::string::npos || !ParseHex(local.substr(colon + 1), &port) || port == 0 ||
        port > 65535 || !ParseAddress(std::string_view(local).substr(0, colon), addr, &len)) {
      continue;
    }
    if (!IsLoopback(addr, len)) ports.insert(static_cast<int>(port));
  }
  return ports;
}

Result<HostSockets> ReadHostSockets() {
  HostSockets s;
  bool ok = false;
  s.tcp = ReadFile("/proc/net/tcp", &ok);
  if (!ok) return Internal("cannot read /proc/net/tcp");
  s.tcp6 = ReadFile("/proc/net/tcp6", &ok);
  s.udp = ReadFile("/proc/net/udp", &ok);
  s.udp6 = ReadFile("/proc/net/udp6", &ok);
  return s;
}

Status CheckHostPortsFree(const std::vector<PortForward>& forwards,
                          const std::vector<PortForward>& other_labs, const HostSockets& sockets) {
  std::set<int> tcp = TakenPorts(sockets.tcp, false);
  tcp.merge(TakenPorts(sockets.tcp6, false));
  std::set<int> udp = TakenPorts(sockets.udp, true);
  udp.merge(TakenPorts(sockets.udp6, true));
  for (size_t i = 0; i < forwards.size(); ++i) {
    const PortForward& f = forwards[i];
    const std::string what = "host " + f.protocol + " port " + std::to_string(f.host_port) +
                             " (forward to node " + f.node + ")";
    const std::string field = "forwards[" + std::to_string(i) + "].host_port";
    for (const PortForward& o : other_labs) {
      if (o.protocol == f.protocol && o.host_port == f.host_port) {
        return Status(StatusCode::kAlreadyExists,
                      what + " is forwarded by another lab, to its node " + o.node)
            .WithField(field);
      }
    }
    const std::set<int>& taken = f.protocol == "udp" ? udp : tcp;
    if (taken.count(f.host_port)) {
      return Status(StatusCode::kAlreadyExists, what + " is taken by a socket on the host")
          .WithField(field);
    }
  }
  return Status::Ok();
}

Status CheckHostPortsFree(const std::vector<PortForward>& forwards,
                          const std::vector<PortForward>& other_labs) {
  auto sockets = ReadHostSockets();
  if (!sockets.ok()) return sockets.status();
  return CheckHostPortsFree(forwards, other_labs, *sockets);
}

}  // namespace labvirt::engine::mgmt
