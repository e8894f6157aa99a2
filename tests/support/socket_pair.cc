#include "tests/support/socket_pair.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace labvirt::testing {

Result<SocketPair> MakeSocketPair(SocketPairOptions options) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return Internal(std::string("socketpair: ") + std::strerror(errno));
  }
  SocketPair pair{UniqueFd(sv[0]), UniqueFd(sv[1])};
  if (options.buffer_bytes != 0) {
    int n = options.buffer_bytes;
    if (::setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &n, sizeof n) != 0 ||
        ::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &n, sizeof n) != 0) {
      return Internal(std::string("setsockopt: ") + std::strerror(errno));
    }
  }
  if (options.ours_nonblocking && ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK)) {
    return Internal(std::string("fcntl O_NONBLOCK: ") + std::strerror(errno));
  }
  return pair;
}

size_t DrainAvailable(int fd, std::string* out) {
  char buf[65536];
  size_t total = 0;
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return total;
    out->append(buf, static_cast<size_t>(n));
    total += static_cast<size_t>(n);
  }
}

}  // namespace labvirt::testing
