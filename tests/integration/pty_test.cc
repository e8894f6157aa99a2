// The reactor on real PTYs: the console path's poll-then-read pattern and direct reads, byte-exact
// over a megabyte, and EIO when the other side goes away.
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "reactor/reactor.h"

namespace labvirt::reactor {
namespace {

struct Pty {
  Pty() {
    master.Reset(::posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
    EXPECT_TRUE(master.valid());
    EXPECT_EQ(::grantpt(master.get()), 0);
    EXPECT_EQ(::unlockpt(master.get()), 0);
    // The console side, as labvirt opens it: O_NONBLOCK|O_NOCTTY, raw mode.
    slave.Reset(::open(::ptsname(master.get()), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
    EXPECT_TRUE(slave.valid());
    termios t{};
    ::tcgetattr(slave.get(), &t);
    ::cfmakeraw(&t);
    ::tcsetattr(slave.get(), TCSANOW, &t);
  }
  UniqueFd master;  // plays QEMU
  UniqueFd slave;   // plays labvirt's console reader
};

std::string RandomBytes(size_t n) {
  std::mt19937 rng(42);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

void WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, std::min<size_t>(4096, data.size() - off));
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 100);
    } else {
      ADD_FAILURE() << "write: " << strerror(errno);
      return;
    }
  }
}

TEST(PtyTest, PollThenReadUntilEagainIsByteExact) {
  auto r = std::move(Reactor::Create()).value();
  Pty pty;
  const std::string data = RandomBytes(1 << 20);
  std::string got;
  OpHandle poll = r->PollMultishot(pty.slave.get(), POLLIN, [&](Result<uint32_t> rev) {
    ASSERT_TRUE(rev.ok()) << rev.status().ToString();
    char buf[16384];
    while (true) {
      ssize_t n = ::read(pty.slave.get(), buf, sizeof buf);
      if (n <= 0) break;  // EAGAIN: wait for the next readiness
      got.append(buf, static_cast<size_t>(n));
    }
  });
  std::thread writer([&] { WriteAll(pty.master.get(), data); });
  for (int i = 0; i < 100000 && got.size() < data.size(); ++i) r->RunOnce(true);
  writer.join();
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

TEST(PtyTest, DirectReadOpsAreByteExact) {
  auto r = std::move(Reactor::Create()).value();
  Pty pty;
  // Direct reads want a blocking fd: io_uring then waits for data itself (natively from 6.12,
  // through an io-wq worker before) instead of answering EAGAIN.
  ::fcntl(pty.slave.get(), F_SETFL, ::fcntl(pty.slave.get(), F_GETFL) & ~O_NONBLOCK);
  const std::string data = RandomBytes(256 << 10);
  std::string got;
  OpHandle op;
  std::function<void()> arm = [&] {
    op = r->Read(pty.slave.get(), 8192, [&](Result<std::span<const char>> d) {
      if (d.ok()) got.append(d->data(), d->size());
      if (got.size() < data.size()) arm();
    });
  };
  arm();
  std::thread writer([&] { WriteAll(pty.master.get(), data); });
  for (int i = 0; i < 200000 && got.size() < data.size(); ++i) r->RunOnce(true);
  writer.join();
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

TEST(PtyTest, PeerGoneGivesHangup) {
  auto r = std::move(Reactor::Create()).value();
  Pty pty;
  uint32_t revents = 0;
  bool done = false;
  OpHandle poll = r->Poll(pty.slave.get(), POLLIN, [&](Result<uint32_t> rev) {
    ASSERT_TRUE(rev.ok());
    revents = *rev;
    done = true;
  });
  r->RunOnce(false);
  pty.master.Reset();  // QEMU exits
  for (int i = 0; i < 100 && !done; ++i) r->RunOnce(true);
  ASSERT_TRUE(done);
  EXPECT_TRUE(revents & (POLLHUP | POLLERR)) << revents;
  // The tty is hung up: reads report end of file (or EIO, depending on the side and kernel).
  char c;
  ssize_t n = ::read(pty.slave.get(), &c, 1);
  EXPECT_TRUE(n == 0 || (n == -1 && errno == EIO)) << n << " " << strerror(errno);
}

}  // namespace
}  // namespace labvirt::reactor
