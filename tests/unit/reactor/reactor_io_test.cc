// The reactor's stream I/O on real sockets and pipes: send/recv (one-shot and multishot, with and
// without the kernel's buffer ring), vectored and shared-chunk sends, registered files, accept
// and connect, and errors reported as Status.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "reactor/reactor.h"
#include "tests/unit/reactor/reactor_test_util.h"

namespace labvirt::reactor {
namespace {

TEST(ReactorTest, SocketPairSendRecvWritevReadv) {
  auto r = MakeReactor();
  SocketPair sp;
  size_t sent = 0;
  OpHandle s1 = r->Send(sp.a.get(), "ping", [&](Result<size_t> n) { sent += *n; });
  std::string got;
  OpHandle r1 = r->Recv(sp.b.get(), 64,
                        [&](Result<std::span<const char>> d) { got.assign(d->data(), d->size()); });
  RunUntil(*r, [&] { return got == "ping"; });
  OpHandle w = r->Writev(sp.a.get(), {"ab", "cde"}, [&](Result<size_t> n) { sent += *n; });
  std::vector<std::string> parts;
  OpHandle rv = r->Readv(sp.b.get(), {2, 3}, [&](Result<std::vector<std::span<const char>>> views) {
    ASSERT_TRUE(views.ok());
    for (auto v : *views) parts.emplace_back(v.data(), v.size());
  });
  RunUntil(*r, [&] { return !parts.empty(); });
  EXPECT_EQ(parts, (std::vector<std::string>{"ab", "cde"}));
  EXPECT_EQ(sent, 9u);
}

// One set of shared chunks sent to two sockets: each receives every chunk in order, and the
// reactor lets go of the chunks once the sends completed (nothing copied, nothing kept).
TEST(ReactorTest, SendChunksSharesBytesBetweenSendsAndReleasesThem) {
  auto r = MakeReactor();
  SocketPair one, two;
  auto hello = std::make_shared<const std::string>("hello ");
  auto world = std::make_shared<const std::string>(std::string(100000, 'w'));
  size_t sent = 0;
  OpHandle s1 = r->SendChunks(
      one.a.get(), {hello, world}, [&](Result<size_t> n) { sent += *n; },
      MSG_NOSIGNAL | MSG_WAITALL);
  OpHandle s2 = r->SendChunks(
      two.a.get(), {hello, world}, [&](Result<size_t> n) { sent += *n; },
      MSG_NOSIGNAL | MSG_WAITALL);
  std::string got1, got2;
  OpHandle r1 = r->RecvMultishot(one.b.get(), [&](Result<std::span<const char>> d) {
    if (d.ok()) got1.append(d->data(), d->size());
  });
  OpHandle r2 = r->RecvMultishot(two.b.get(), [&](Result<std::span<const char>> d) {
    if (d.ok()) got2.append(d->data(), d->size());
  });
  RunUntil(*r, [&] { return got1.size() == 100006 && got2.size() == 100006 && sent == 200012; });
  EXPECT_EQ(got1, *hello + *world);
  EXPECT_EQ(got2, *hello + *world);
  EXPECT_EQ(hello.use_count(), 1);
  EXPECT_EQ(world.use_count(), 1);
}

TEST(ReactorTest, SendChunksToAClosedPeerReportsTheError) {
  auto r = MakeReactor();
  SocketPair sp;
  sp.b.Reset();
  Status st;
  bool done = false;
  OpHandle s =
      r->SendChunks(sp.a.get(), {std::make_shared<const std::string>("x")}, [&](Result<size_t> n) {
        st = n.status();
        done = true;
      });
  RunUntil(*r, [&] { return done; });
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("sendmsg fd"), std::string::npos) << st.message();
}

// Ops on a registered fd go through the ring's file table and behave as on the plain fd; once
// unregistered and closed, the file is really closed (the peer sees end of file) and the fd number
// can be reused for another file without reaching the old one.
TEST(ReactorTest, RegisteredFilesWorkAndReleaseTheFileWhenUnregistered) {
  auto r = MakeReactor();
  auto sp = std::make_unique<SocketPair>();
  {
    RegisteredFile reg(*r, sp->a.get());
    ASSERT_TRUE(reg.registered());
    EXPECT_EQ(r->registered_files(), 1u);
    EXPECT_FALSE(r->RegisterFile(sp->a.get())) << "a second owner of one registration";
    std::string got;
    OpHandle rx = r->RecvMultishot(sp->a.get(), [&](Result<std::span<const char>> d) {
      if (d.ok()) got.append(d->data(), d->size());
    });
    size_t sent = 0;
    OpHandle tx = r->Send(sp->a.get(), "to b", [&](Result<size_t> n) { sent = *n; });
    ASSERT_EQ(::send(sp->b.get(), "to a", 4, 0), 4);
    RunUntil(*r, [&] { return got == "to a" && sent == 4; });
    char buf[8];
    ASSERT_EQ(::recv(sp->b.get(), buf, sizeof buf, 0), 4);
    rx.Cancel();
    RunUntil(*r, [&] { return r->pending_ops() <= 1; });  // the wake-up poll stays
  }
  EXPECT_EQ(r->registered_files(), 0u);
  sp->a.Reset();
  char c;
  EXPECT_EQ(::recv(sp->b.get(), &c, 1, 0), 0) << "the table kept the closed socket open";
  SocketPair other;  // likely reuses old_fd's number
  RegisteredFile reg2(*r, other.a.get());
  EXPECT_TRUE(reg2.registered());
  size_t sent = 0;
  OpHandle tx = r->Send(other.a.get(), "new", [&](Result<size_t> n) { sent = *n; });
  RunUntil(*r, [&] { return sent == 3; });
  char buf[8];
  EXPECT_EQ(::recv(other.b.get(), buf, sizeof buf, 0), 3);
}

// RecvMultishot behaves the same with the kernel's multishot recv and with the one-shot fallback.
class RecvMultishotTest : public ::testing::TestWithParam<bool> {
 protected:
  std::unique_ptr<Reactor> MakeRecvReactor(unsigned recv_buffers = 512) {
    ReactorOptions options;
    options.multishot_recv = GetParam();
    options.recv_buffers = recv_buffers;
    return MakeReactor(options);
  }
};

TEST_P(RecvMultishotTest, DeliversEveryChunkThenEndOfFileOnce) {
  auto r = MakeRecvReactor();
  size_t idle_ops = r->pending_ops();
  SocketPair sp;
  std::string got;
  int eofs = 0;
  OpHandle h = r->RecvMultishot(sp.b.get(), [&](Result<std::span<const char>> d) {
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    if (d->empty()) {
      ++eofs;
    }
    got.append(d->data(), d->size());
  });
  if (!GetParam()) {
    EXPECT_FALSE(r->multishot_recv());
  }
  ASSERT_EQ(::send(sp.a.get(), "one\n", 4, 0), 4);
  RunUntil(*r, [&] { return got == "one\n"; });
  ASSERT_EQ(::send(sp.a.get(), "two\n", 4, 0), 4);
  RunUntil(*r, [&] { return got == "one\ntwo\n"; });
  sp.a.Reset();
  RunUntil(*r, [&] { return eofs == 1; });
  r->RunUntilIdle();
  EXPECT_EQ(eofs, 1);
  EXPECT_EQ(r->pending_ops(), idle_ops);  // end of file ended the op
}

TEST_P(RecvMultishotTest, EmptyBufferPoolIsBackpressureNotAnError) {
  // Four buffers, eight sockets with data before the loop runs: at least four recvs find the pool
  // empty (-ENOBUFS) and must be re-armed, not failed.
  auto r = MakeRecvReactor(/*recv_buffers=*/4);
  constexpr int kSockets = 8;
  std::vector<SocketPair> pairs(kSockets);
  std::vector<std::string> got(kSockets);
  int errors = 0;
  std::vector<OpHandle> ops;
  for (int i = 0; i < kSockets; ++i) {
    ops.push_back(r->RecvMultishot(pairs[i].b.get(), [&, i](Result<std::span<const char>> d) {
      if (!d.ok()) return (void)++errors;
      got[i].append(d->data(), d->size());
    }));
  }
  for (int round = 0; round < 3; ++round) {
    for (auto& p : pairs) ASSERT_EQ(::send(p.a.get(), "x", 1, 0), 1);
    std::string want(static_cast<size_t>(round + 1), 'x');
    RunUntil(*r, [&] {
      return std::all_of(got.begin(), got.end(), [&](auto& g) { return g == want; });
    });
  }
  EXPECT_EQ(errors, 0);
}

TEST_P(RecvMultishotTest, CancelFromTheCallbackStopsDelivery) {
  auto r = MakeRecvReactor(/*recv_buffers=*/4);
  size_t idle_ops = r->pending_ops();
  SocketPair sp;
  int calls = 0;
  OpHandle h;
  h = r->RecvMultishot(sp.b.get(), [&](Result<std::span<const char>>) {
    ++calls;
    h.Cancel();
  });
  ASSERT_EQ(::send(sp.a.get(), "a", 1, 0), 1);
  RunUntil(*r, [&] { return calls == 1; });
  ASSERT_EQ(::send(sp.a.get(), "b", 1, 0), 1);
  for (int i = 0; i < 20; ++i) r->RunOnce(/*block=*/false);
  EXPECT_EQ(calls, 1);
  RunUntil(*r, [&] { return r->pending_ops() == idle_ops; });
  // Every buffer went back to the pool: a new op on the same socket still gets data, many times.
  std::string got;
  OpHandle again = r->RecvMultishot(sp.b.get(), [&](Result<std::span<const char>> d) {
    if (d.ok()) got.append(d->data(), d->size());
  });
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(::send(sp.a.get(), "c", 1, 0), 1);
    RunUntil(*r, [&] { return std::count(got.begin(), got.end(), 'c') == i + 1; });
  }
  // "b" may have gone to the cancelled op (and been dropped with it) or be read here first.
  EXPECT_TRUE(got == "cccccccc" || got == "bcccccccc") << got;
}

// Any op may take any free slot: a slot that once served a large read must not keep that buffer
// (a 50-VM deploy left 48 slots holding an OVSDB client's 256 KiB each), while a small one is
// kept for the next read.
TEST(ReactorReadBufferTest, AFreeSlotKeepsASmallReadBufferButNotALargeOne) {
  auto r = MakeReactor();
  SocketPair sp;
  auto recv_one = [&](size_t max) {
    bool done = false;
    OpHandle h = r->Recv(sp.b.get(), max, [&](Result<std::span<const char>> d) {
      ASSERT_TRUE(d.ok()) << d.status().ToString();
      EXPECT_EQ(std::string(d->data(), d->size()), "x");
      done = true;
    });
    ASSERT_EQ(::send(sp.a.get(), "x", 1, 0), 1);
    RunUntil(*r, [&] { return done; });
  };
  const size_t before = r->kept_read_buffer_bytes();
  recv_one(256 * 1024);
  EXPECT_EQ(r->kept_read_buffer_bytes(), before) << "the 256 KiB buffer went with its read";
  recv_one(4096);
  EXPECT_EQ(r->kept_read_buffer_bytes(), before + 4096) << "a console-sized one is kept";
  recv_one(4096);
  EXPECT_EQ(r->kept_read_buffer_bytes(), before + 4096) << "and reused, not added to";
}

// The kernel writes every posted recv buffer in turn (buffer_ring.h), so a pool posted whole ends
// up wholly touched: labvirtd's RSS grew 48 KiB a soak cycle that way (issue 19).
TEST(RecvBufferPoolTest, OneChunkAtATimeTouchesOnlyTheFirstPostedBuffers) {
  auto r = MakeReactor({.recv_buffers = 64});
  SocketPair sp;
  std::set<const char*> buffers_seen;
  size_t chunks = 0;
  OpHandle h = r->RecvMultishot(sp.b.get(), [&](Result<std::span<const char>> d) {
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    buffers_seen.insert(d->data());
    ++chunks;
  });
  if (!r->multishot_recv()) GTEST_SKIP() << "no multishot recv on this kernel";
  for (size_t i = 0; i < 200; ++i) {
    ASSERT_EQ(::send(sp.a.get(), "x", 1, 0), 1);
    RunUntil(*r, [&] { return chunks == i + 1; });
  }
  EXPECT_EQ(r->recv_buffers_posted(), 16u);
  EXPECT_EQ(buffers_seen.size(), 16u);  // 64 when the whole pool was posted at once
}

TEST(RecvBufferPoolTest, ABurstPostsMoreBuffersAndLosesNoChunk) {
  auto r = MakeReactor({.recv_buffers = 64});
  constexpr int kSockets = 40;
  std::vector<SocketPair> pairs(kSockets);
  // Data first, so the 40 recvs all take a buffer in the one submission that arms them: 24 find
  // the 16 posted buffers gone (-ENOBUFS) and are re-armed with one more buffer posted each.
  for (auto& p : pairs) ASSERT_EQ(::send(p.a.get(), "x", 1, 0), 1);
  std::vector<std::string> got(kSockets);
  int errors = 0;
  std::vector<OpHandle> ops;
  for (int i = 0; i < kSockets; ++i) {
    ops.push_back(r->RecvMultishot(pairs[i].b.get(), [&, i](Result<std::span<const char>> d) {
      if (!d.ok()) return (void)++errors;
      got[i].append(d->data(), d->size());
    }));
  }
  if (!r->multishot_recv()) GTEST_SKIP() << "no multishot recv on this kernel";
  RunUntil(*r,
           [&] { return std::all_of(got.begin(), got.end(), [](auto& g) { return g == "x"; }); });
  EXPECT_EQ(errors, 0);
  // One more buffer per recv that found the ring empty: the burst's size, not the whole pool.
  EXPECT_GT(r->recv_buffers_posted(), 16u);
  EXPECT_LE(r->recv_buffers_posted(), static_cast<unsigned>(kSockets));
}

INSTANTIATE_TEST_SUITE_P(KernelAndFallback, RecvMultishotTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Multishot" : "Fallback"; });

TEST(ReactorTest, WriteReportsErrorsAsStatus) {
  auto r = MakeReactor();
  Pipe p;
  p.read_end.Reset();  // writing to a pipe without reader: EPIPE
  ::signal(SIGPIPE, SIG_IGN);
  Status st;
  bool done = false;
  OpHandle h = r->Write(p.write_end.get(), "x", [&](Result<size_t> n) {
    st = n.status();
    done = true;
  });
  RunUntil(*r, [&] { return done; });
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("write fd"), std::string::npos) << st.message();
}

TEST(ReactorTest, AcceptAndConnectOnUnixSocket) {
  auto r = MakeReactor();
  std::string path = "/tmp/labvirt-reactor-test-" + std::to_string(::getpid()) + ".sock";
  ::unlink(path.c_str());
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 8), 0);
  std::vector<UniqueFd> accepted;
  OpHandle acc = r->Accept(
      listener.get(),
      [&](Result<UniqueFd> fd) {
        ASSERT_TRUE(fd.ok());
        accepted.push_back(std::move(fd).value());
      },
      /*multishot=*/true);
  std::vector<UniqueFd> clients;
  int connected = 0;
  std::vector<OpHandle> ops;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ops.push_back(r->Connect(clients.back().get(), path, [&](Status st) {
      EXPECT_TRUE(st.ok()) << st.ToString();
      ++connected;
    }));
  }
  RunUntil(*r, [&] { return connected == 3 && accepted.size() == 3; });
  Status bad;
  bool bad_done = false;
  UniqueFd extra(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  OpHandle b = r->Connect(extra.get(), std::string(200, 'x'), [&](Status st) {
    bad = st;
    bad_done = true;
  });
  RunUntil(*r, [&] { return bad_done; });
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace labvirt::reactor
