// What the reactor tests share: a reactor, a pipe, a blocking socket pair, and a bounded loop.
#ifndef LABVIRT_TESTS_UNIT_REACTOR_REACTOR_TEST_UTIL_H_
#define LABVIRT_TESTS_UNIT_REACTOR_REACTOR_TEST_UTIL_H_

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <string_view>

#include "gtest/gtest.h"
#include "reactor/reactor.h"
#include "tests/support/socket_pair.h"

namespace labvirt::reactor {

inline std::unique_ptr<Reactor> MakeReactor(ReactorOptions options = {}) {
  auto r = Reactor::Create(options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

struct Pipe {
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_end.Reset(fds[0]);
    write_end.Reset(fds[1]);
  }
  void Put(std::string_view s) {
    ASSERT_EQ(::write(write_end.get(), s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  UniqueFd read_end;
  UniqueFd write_end;
};

// A connected stream pair, both ends blocking.
struct SocketPair {
  SocketPair() {
    auto pair = testing::MakeSocketPair({.ours_nonblocking = false});
    EXPECT_TRUE(pair.ok()) << pair.status().ToString();
    if (!pair.ok()) return;
    a = std::move(pair->ours);
    b = std::move(pair->theirs);
  }
  UniqueFd a;
  UniqueFd b;
};

// Runs the loop until `done` or 2000 passes (a broken reactor fails the test, never hangs it).
template <typename Pred>
void RunUntil(Reactor& r, Pred done) {
  for (int i = 0; i < 2000 && !done(); ++i) r.RunOnce(/*block=*/true);
  ASSERT_TRUE(done());
}

}  // namespace labvirt::reactor

#endif  // LABVIRT_TESTS_UNIT_REACTOR_REACTOR_TEST_UTIL_H_
