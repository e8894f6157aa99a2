// A blocking JSON-RPC line client for the benchmarks' client threads: connect to a Unix socket,
// send one request line, read answer and event lines. Not for the loop thread.
#ifndef LABVIRT_BENCH_LINE_CLIENT_H_
#define LABVIRT_BENCH_LINE_CLIENT_H_

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace labvirt::bench {

// A connected socket to `path` with a receive timeout of `timeout_s` (a broken server fails the
// run instead of hanging it); aborts when the server is not there.
inline int Connect(const std::string& path, int timeout_s = 5) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Blocking line reader over one socket (does not own it).
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  // The next line without '\n'; false at EOF, error or timeout.
  bool Next(std::string* line) {
    for (;;) {
      size_t nl = buf_.find('\n', start_);
      if (nl != std::string::npos) {
        line->assign(buf_, start_, nl - start_);
        start_ = nl + 1;
        return true;
      }
      buf_.erase(0, start_);
      start_ = 0;
      char tmp[16384];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;  // SIGCHLD from qemu-img during a deploy
      if (n <= 0) return false;
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buf_;
  size_t start_ = 0;
};

// Sends `line` and returns the next line read ("" on failure).
inline std::string Call(int fd, LineReader& reader, const std::string& line) {
  std::string req = line + "\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    return "";
  }
  std::string resp;
  return reader.Next(&resp) ? resp : "";
}

}  // namespace labvirt::bench

#endif  // LABVIRT_BENCH_LINE_CLIENT_H_
