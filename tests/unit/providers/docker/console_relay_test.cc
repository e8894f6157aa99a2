// The console relay on a real reactor and a real PTY, a socketpair standing in for Docker's
// attach stream: bytes both ways, pending bytes first, the end seen by slave readers as EIO, a
// slave reopened while the relay runs, and a burst larger than the buffers with a slow reader.
#include "providers/docker/console_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "reactor/reactor.h"
#include "tests/support/socket_pair.h"

namespace labvirt::providers::docker {
namespace {

using Clock = std::chrono::steady_clock;

// A slave opened as engine/console/console_reader.cc opens it: non-blocking, raw.
UniqueFd OpenSlave(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) return fd;
  termios tio{};
  ::tcgetattr(fd.get(), &tio);
  ::cfmakeraw(&tio);
  ::tcsetattr(fd.get(), TCSANOW, &tio);
  return fd;
}

// Reads what `fd` has now into *out; returns the errno that ended the read (EAGAIN: nothing
// more now; EIO: hang-up), or 0 at end of file.
int Drain(int fd, std::string* out) {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return 0;
    if (errno == EINTR) continue;
    return errno;
  }
}

// Writes as Docker's end; MSG_NOSIGNAL: a relay that closed the stream fails the test, not the
// process (SIGPIPE).
ssize_t Put(int fd, std::string_view s) { return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

class ConsoleRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = reactor::Reactor::Create();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    reactor_ = std::move(r.value());
    auto pair = testing::MakeSocketPair();
    ASSERT_TRUE(pair.ok()) << pair.status().ToString();
    docker_ = std::move(pair->ours);
    stream_ = std::move(pair->theirs);
  }

  void StartRelay(std::string pending = "", ConsoleRelayOptions options = {}) {
    auto relay = ConsoleRelay::Start(
        *reactor_, std::move(stream_), std::move(pending),
        [this](Status s) {
          ++closed_calls_;
          closed_ = s;
        },
        options);
    ASSERT_TRUE(relay.ok()) << relay.status().ToString();
    relay_ = std::move(relay.value());
    ASSERT_TRUE(relay_->slave_path().starts_with("/dev/pts/")) << relay_->slave_path();
  }

  // Runs non-blocking passes (the test itself reads and writes the other ends between them)
  // until `done` or 5 s: tty bytes move through a kernel worker, so progress is not immediate.
  template <typename Pred>
  bool RunUntil(Pred done) {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (Clock::now() > deadline) return false;
      if (reactor_->RunOnce(/*block=*/false) == 0) ::poll(nullptr, 0, 1);
    }
    return true;
  }

  std::unique_ptr<reactor::Reactor> reactor_;
  UniqueFd docker_;  // the test plays Docker on this end
  UniqueFd stream_;  // handed to the relay
  std::unique_ptr<ConsoleRelay> relay_;
  int closed_calls_ = 0;
  Status closed_ = Internal("not closed");
};

TEST_F(ConsoleRelayTest, RelaysBothWaysPendingFirst) {
  StartRelay("pending|");
  UniqueFd slave = OpenSlave(relay_->slave_path());
  ASSERT_TRUE(slave.valid());
  ASSERT_EQ(Put(docker_.get(), "hello"), 5);
  std::string got;
  EXPECT_TRUE(RunUntil([&] {
    Drain(slave.get(), &got);
    return got.size() >= 13;
  }));
  EXPECT_EQ(got, "pending|hello");
  EXPECT_EQ(relay_->bytes_out(), 13u);

  ASSERT_EQ(::write(slave.get(), "ls\r", 3), 3);
  std::string sent;
  EXPECT_TRUE(RunUntil([&] {
    testing::DrainAvailable(docker_.get(), &sent);
    return sent.size() >= 3;
  }));
  EXPECT_EQ(sent, "ls\r") << "raw mode: no CR/LF translation, no echo";
  EXPECT_EQ(relay_->bytes_in(), 3u);
  EXPECT_EQ(closed_calls_, 0);
}

TEST_F(ConsoleRelayTest, EndOfTheStreamClosesTheMasterAndReportsOnce) {
  StartRelay();
  UniqueFd slave = OpenSlave(relay_->slave_path());
  ASSERT_TRUE(slave.valid());
  ASSERT_EQ(Put(docker_.get(), "bye"), 3);
  std::string got;
  ASSERT_TRUE(RunUntil([&] {
    Drain(slave.get(), &got);
    return got == "bye";
  }));
  docker_.Reset();
  int err = EAGAIN;
  EXPECT_TRUE(RunUntil([&] {
    err = Drain(slave.get(), &got);
    return closed_calls_ > 0 && err != EAGAIN;
  }));
  EXPECT_TRUE(err == EIO || err == 0) << "the slave sees the end as when QEMU exits: " << err;
  EXPECT_TRUE(closed_.ok()) << closed_.ToString();
  EXPECT_TRUE(relay_->closed());
  for (int i = 0; i < 5; ++i) reactor_->RunOnce(false);
  EXPECT_EQ(closed_calls_, 1);
  EXPECT_FALSE(OpenSlave(relay_->slave_path()).valid()) << "the PTY is gone";
}

TEST_F(ConsoleRelayTest, OnClosedMayDestroyTheRelay) {
  auto relay = ConsoleRelay::Start(*reactor_, std::move(stream_), "", [&](Status) {
    relay_.reset();
    ++closed_calls_;
  });
  ASSERT_TRUE(relay.ok());
  relay_ = std::move(relay.value());
  docker_.Reset();
  EXPECT_TRUE(RunUntil([&] { return closed_calls_ == 1; }));
  EXPECT_EQ(relay_, nullptr);
}

TEST_F(ConsoleRelayTest, NoCallbackAfterDestruction) {
  StartRelay();
  docker_.Reset();
  relay_.reset();
  for (int i = 0; i < 20; ++i) reactor_->RunOnce(false);
  EXPECT_EQ(closed_calls_, 0);
}

TEST_F(ConsoleRelayTest, ASlaveClosedAndReopenedKeepsWorking) {
  StartRelay();
  {
    UniqueFd first = OpenSlave(relay_->slave_path());
    ASSERT_TRUE(first.valid());
    ASSERT_EQ(Put(docker_.get(), "one"), 3);
    std::string got;
    ASSERT_TRUE(RunUntil([&] {
      Drain(first.get(), &got);
      return got == "one";
    }));
  }
  // No reader now: the relay's own slave keeps the master from a hang-up.
  for (int i = 0; i < 10; ++i) reactor_->RunOnce(false);
  ASSERT_EQ(Put(docker_.get(), "two"), 3);
  UniqueFd second = OpenSlave(relay_->slave_path());
  ASSERT_TRUE(second.valid());
  std::string got;
  EXPECT_TRUE(RunUntil([&] {
    Drain(second.get(), &got);
    return got == "two";
  })) << got;
  ASSERT_EQ(::write(second.get(), "x", 1), 1);
  std::string sent;
  EXPECT_TRUE(RunUntil([&] {
    testing::DrainAvailable(docker_.get(), &sent);
    return sent == "x";
  }));
  EXPECT_EQ(closed_calls_, 0);
}

TEST_F(ConsoleRelayTest, BurstLargerThanTheBuffersWithASlowReaderLosesNothing) {
  StartRelay();
  UniqueFd slave = OpenSlave(relay_->slave_path());
  ASSERT_TRUE(slave.valid());
  std::string burst;
  for (size_t i = 0; burst.size() < (size_t{3} << 20); ++i) burst += std::to_string(i) + ",";
  size_t written = 0;
  std::string got;
  int rounds = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (got.size() < burst.size() && Clock::now() < deadline) {
    if (written < burst.size()) {
      const ssize_t n = Put(docker_.get(), std::string_view(burst).substr(written));
      if (n > 0) written += static_cast<size_t>(n);
    }
    reactor_->RunOnce(false);
    // The slow reader: a small read every few passes.
    if (++rounds % 4 == 0) {
      char buf[4096];
      const ssize_t n = ::read(slave.get(), buf, sizeof buf);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
    }
  }
  ASSERT_EQ(got.size(), burst.size());
  EXPECT_TRUE(got == burst) << "bytes lost or reordered";
  EXPECT_EQ(relay_->bytes_out(), burst.size());
  EXPECT_EQ(closed_calls_, 0);
}

TEST_F(ConsoleRelayTest, RefusesAMissingStream) {
  auto relay = ConsoleRelay::Start(*reactor_, UniqueFd(), "", [](Status) {});
  EXPECT_EQ(relay.status().code(), StatusCode::kInvalidArgument);
}

// An exec console's relay: the stream ends (the shell exited), the PTY stays, readers see no
// hang-up, and the next stream relays both ways into the same slave.
TEST_F(ConsoleRelayTest, KeepPtyOutlivesTheStreamAndTakesTheNext) {
  ConsoleRelayOptions options;
  options.keep_pty = true;
  StartRelay("", options);
  UniqueFd slave = OpenSlave(relay_->slave_path());
  ASSERT_TRUE(slave.valid());
  ASSERT_EQ(Put(docker_.get(), "one|"), 4);
  std::string got;
  ASSERT_TRUE(RunUntil([&] {
    Drain(slave.get(), &got);
    return got == "one|";
  }));
  docker_.Reset();  // the shell exited
  ASSERT_TRUE(RunUntil([&] { return closed_calls_ == 1; }));
  EXPECT_TRUE(closed_.ok()) << closed_.ToString();
  EXPECT_FALSE(relay_->closed());
  EXPECT_FALSE(relay_->has_stream());
  EXPECT_EQ(Drain(slave.get(), &got), EAGAIN) << "no hang-up while the relay waits";
  // Typed while no shell runs: goes to the next one.
  ASSERT_EQ(::write(slave.get(), "ls\r", 3), 3);

  auto pair = testing::MakeSocketPair();
  ASSERT_TRUE(pair.ok());
  docker_ = std::move(pair->ours);
  ASSERT_TRUE(relay_->Reattach(std::move(pair->theirs), "two|").ok());
  EXPECT_TRUE(relay_->has_stream());
  EXPECT_FALSE(relay_->Reattach(UniqueFd(), "").ok()) << "one stream at a time";
  ASSERT_EQ(Put(docker_.get(), "three"), 5);
  ASSERT_TRUE(RunUntil([&] {
    Drain(slave.get(), &got);
    return got == "one|two|three";
  })) << got;
  std::string typed;
  ASSERT_TRUE(RunUntil([&] {
    Drain(docker_.get(), &typed);
    return typed == "ls\r";
  })) << typed;
  // The second end is reported too; the relay still stands.
  docker_.Reset();
  ASSERT_TRUE(RunUntil([&] { return closed_calls_ == 2; }));
  EXPECT_FALSE(relay_->closed());
}

}  // namespace
}  // namespace labvirt::providers::docker
