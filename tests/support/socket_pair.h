// Connected AF_UNIX stream pairs for tests and benchmarks that play a client against a server
// end (a console viewer, a control-socket client), and reading "everything available" from one.
// No gtest here: failures come back as values, so benchmarks can use it too.
#ifndef LABVIRT_TESTS_SUPPORT_SOCKET_PAIR_H_
#define LABVIRT_TESTS_SUPPORT_SOCKET_PAIR_H_

#include <string>

#include "reactor/base/status.h"
#include "reactor/base/unique_fd.h"

namespace labvirt::testing {

struct SocketPair {
  UniqueFd ours;    // the end the test reads and writes
  UniqueFd theirs;  // the end handed to the code under test
};

struct SocketPairOptions {
  // When non-zero: SO_RCVBUF of `ours` and SO_SNDBUF of `theirs` (a slow reader's small window).
  int buffer_bytes = 0;
  bool ours_nonblocking = true;
};

// A connected SOCK_STREAM pair, both ends close-on-exec; errors name the failing call.
Result<SocketPair> MakeSocketPair(SocketPairOptions options = {});

// Appends to *out whatever `fd` (non-blocking) has to read now; returns at EAGAIN, EOF or an
// error. Returns the number of bytes appended.
size_t DrainAvailable(int fd, std::string* out);

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_SOCKET_PAIR_H_
