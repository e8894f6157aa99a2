#include "reactor/reactor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/socket_pair.h"

namespace labvirt::reactor {
namespace {

std::unique_ptr<Reactor> MakeReactor(ReactorOptions options = {}) {
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

TEST(ReactorTest, ReadDeliversBytesWrittenToPipe) {
  auto r = MakeReactor();
  Pipe p;
  p.Put("hello");
  std::string got;
  OpHandle h = r->Read(p.read_end.get(), 64, [&](Result<std::span<const char>> data) {
    ASSERT_TRUE(data.ok());
    got.assign(data->data(), data->size());
  });
  RunUntil(*r, [&] { return !got.empty(); });
  EXPECT_EQ(got, "hello");
  EXPECT_EQ(r->pending_ops(), 1u);  // only the internal wake-up poll is left
}

TEST(ReactorTest, PostedTasksRunInOrderThenDeferredTasks) {
  auto r = MakeReactor();
  std::vector<std::string> order;
  r->Post([&] {
    order.push_back("post1");
    r->Defer([&] { order.push_back("defer"); });
  });
  r->Post([&] { order.push_back("post2"); });
  r->RunUntilIdle();
  EXPECT_EQ(order, (std::vector<std::string>{"post1", "post2", "defer"}));
}

TEST(ReactorTest, CancelledOpNeverRunsBeforeCompletion) {
  auto r = MakeReactor();
  Pipe p;
  bool ran = false;
  OpHandle h = r->Poll(p.read_end.get(), POLLIN, [&](Result<uint32_t>) { ran = true; });
  r->RunOnce(/*block=*/false);  // submitted, not complete
  h.Cancel();
  p.Put("x");
  r->RunUntilIdle();
  for (int i = 0; i < 5; ++i) r->RunOnce(false);
  EXPECT_FALSE(ran);
  RunUntil(*r, [&] { return r->pending_ops() == 1; });  // the slot is freed by its final CQE
}

TEST(ReactorTest, CancelledOpNeverRunsAfterItsCompletionWasReaped) {
  // Both ops complete in the same batch; whichever callback runs first cancels the other, whose
  // completion is already reaped. Exactly one callback may run.
  auto r = MakeReactor();
  Pipe p;
  p.Put("ready");
  int ran = 0;
  OpHandle a, b;
  a = r->Poll(p.read_end.get(), POLLIN, [&](Result<uint32_t>) {
    ++ran;
    b.Cancel();
  });
  b = r->Poll(p.read_end.get(), POLLIN, [&](Result<uint32_t>) {
    ++ran;
    a.Cancel();
  });
  RunUntil(*r, [&] { return ran > 0; });
  for (int i = 0; i < 5; ++i) r->RunOnce(false);
  EXPECT_EQ(ran, 1);
}

TEST(ReactorTest, DestroyingHandleCancels) {
  auto r = MakeReactor();
  Pipe p;
  bool ran = false;
  {
    OpHandle h = r->Read(p.read_end.get(), 16, [&](Result<std::span<const char>>) { ran = true; });
  }
  p.Put("late");
  for (int i = 0; i < 10; ++i) r->RunOnce(false);
  EXPECT_FALSE(ran);
}

TEST(ReactorTest, CancelAfterCompletionIsHarmless) {
  auto r = MakeReactor();
  Pipe p;
  p.Put("a");
  int ran = 0;
  OpHandle h = r->Poll(p.read_end.get(), POLLIN, [&](Result<uint32_t>) { ++ran; });
  RunUntil(*r, [&] { return ran == 1; });
  // The slot may now be reused by another op; the stale handle must not cancel that one.
  int second = 0;
  OpHandle h2 = r->Poll(p.read_end.get(), POLLIN, [&](Result<uint32_t>) { ++second; });
  h.Cancel();
  RunUntil(*r, [&] { return second == 1; });
  EXPECT_EQ(ran, 1);
}

TEST(ReactorTest, MultishotPollReportsRepeatedlyUntilCancelled) {
  auto r = MakeReactor();
  UniqueFd efd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  int events = 0;
  OpHandle h = r->PollMultishot(efd.get(), POLLIN, [&](Result<uint32_t> rev) {
    ASSERT_TRUE(rev.ok());
    uint64_t v;
    ASSERT_EQ(::read(efd.get(), &v, sizeof v), 8);
    ++events;
  });
  for (int i = 1; i <= 3; ++i) {
    uint64_t one = 1;
    ASSERT_EQ(::write(efd.get(), &one, sizeof one), 8);
    RunUntil(*r, [&] { return events == i; });
  }
  h.Cancel();
  uint64_t one = 1;
  ASSERT_EQ(::write(efd.get(), &one, sizeof one), 8);
  for (int i = 0; i < 5; ++i) r->RunOnce(false);
  EXPECT_EQ(events, 3);
}

TEST(ReactorTest, SubmissionQueueExhaustionAndCompletionBacklog) {
  // A 4-entry SQ (8-entry CQ) given 500 ops that all complete at once: the reactor must flush the
  // SQ when full and reap the kernel's CQ backlog, delivering every callback exactly once.
  auto r = MakeReactor(ReactorOptions{.sq_entries = 4});
  Pipe p;
  p.Put("x");
  constexpr int kOps = 500;
  std::vector<int> ran(kOps, 0);
  std::vector<OpHandle> handles;
  for (int i = 0; i < kOps; ++i) {
    handles.push_back(r->Poll(p.read_end.get(), POLLIN, [&ran, i](Result<uint32_t> rev) {
      EXPECT_TRUE(rev.ok());
      ++ran[i];
    }));
  }
  RunUntil(*r, [&] {
    for (int v : ran) {
      if (v == 0) return false;
    }
    return true;
  });
  for (int i = 0; i < kOps; ++i) EXPECT_EQ(ran[i], 1) << i;
}

TEST(ReactorTest, FdClosedAndReusedWhileOpInFlight) {
  auto r = MakeReactor();
  auto old_pipe = std::make_unique<Pipe>();
  int old_fd = old_pipe->read_end.get();
  std::vector<std::string> seen;
  OpHandle old_op = r->Poll(old_fd, POLLIN, [&](Result<uint32_t>) { seen.push_back("old"); });
  r->RunOnce(false);
  // Close the fd under the in-flight op; the next pipe reuses its number.
  UniqueFd old_write = std::move(old_pipe->write_end);
  old_pipe->read_end.Reset();
  Pipe fresh;
  ASSERT_EQ(fresh.read_end.get(), old_fd);
  std::string got;
  OpHandle new_op = r->Read(fresh.read_end.get(), 16, [&](Result<std::span<const char>> d) {
    ASSERT_TRUE(d.ok());
    got.assign(d->data(), d->size());
    seen.push_back("new");
  });
  fresh.Put("fresh");
  RunUntil(*r, [&] { return !got.empty(); });
  EXPECT_EQ(got, "fresh");
  EXPECT_EQ(seen, std::vector<std::string>{"new"});  // the old op did not fire for the new fd
  old_op.Cancel();
  old_write.Reset();
  for (int i = 0; i < 5; ++i) r->RunOnce(false);
  EXPECT_EQ(seen, std::vector<std::string>{"new"});
}

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

INSTANTIATE_TEST_SUITE_P(KernelAndFallback, RecvMultishotTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Multishot" : "Fallback"; });

// Every task-run mode (the kernel may grant a lower one than asked) completes I/O, posted tasks
// and timers, whether the loop sleeps or keeps busy.
class TaskRunTest : public ::testing::TestWithParam<TaskRun> {};

TEST_P(TaskRunTest, CompletesIoWhetherTheLoopSleepsOrNot) {
  ReactorOptions options;
  options.task_run = GetParam();
  auto r = MakeReactor(options);
  EXPECT_GE(static_cast<int>(r->task_run()), static_cast<int>(GetParam()));
  SocketPair sp;
  std::string got;
  OpHandle h = r->RecvMultishot(sp.b.get(), [&](Result<std::span<const char>> d) {
    if (d.ok()) got.append(d->data(), d->size());
  });
  OpHandle s = r->Send(sp.a.get(), "ping", [](Result<size_t>) {});
  RunUntil(*r, [&] { return got == "ping"; });
  // A zero-period timer keeps every pass non-blocking: completions must still arrive.
  OpHandle busy = r->Every(Duration::zero(), [] {});
  ASSERT_EQ(::send(sp.a.get(), "pong", 4, 0), 4);
  for (int i = 0; i < 100000 && got != "pingpong"; ++i) r->RunOnce(/*block=*/true);
  EXPECT_EQ(got, "pingpong");
}

INSTANTIATE_TEST_SUITE_P(Modes, TaskRunTest,
                         ::testing::Values(TaskRun::kDeferred, TaskRun::kCooperative,
                                           TaskRun::kInterrupt));

TEST(ReactorTest, CreatedOnOneThreadRunOnAnotherDestroyedOnAThird) {
  auto r = MakeReactor();
  SocketPair sp;
  std::string got;
  std::thread loop([&] {
    OpHandle h;
    r->Post([&] {
      h = r->RecvMultishot(sp.b.get(), [&](Result<std::span<const char>> d) {
        if (d.ok()) got.append(d->data(), d->size());
        if (got == "hi") r->Stop();
      });
      ASSERT_EQ(::send(sp.a.get(), "hi", 2, 0), 2);
    });
    r->Run();
    // Leave an op in flight for the destructor, which runs on another thread.
    h.Detach();
  });
  loop.join();
  EXPECT_EQ(got, "hi");
  std::thread([&] { r.reset(); }).join();
}

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

TEST(ReactorTest, TimersOnManualClock) {
  ManualClock clock;
  auto r = MakeReactor(ReactorOptions{.clock = &clock});
  std::vector<std::string> fired;
  OpHandle t1 = r->After(std::chrono::milliseconds(10), [&] { fired.push_back("10ms"); });
  OpHandle t2 = r->After(std::chrono::milliseconds(5), [&] { fired.push_back("5ms"); });
  int ticks = 0;
  OpHandle every = r->Every(std::chrono::milliseconds(4), [&] { ++ticks; });
  OpHandle cancelled = r->After(std::chrono::milliseconds(1), [&] { fired.push_back("no"); });
  cancelled.Cancel();
  r->RunUntilIdle();
  EXPECT_TRUE(fired.empty());
  clock.Advance(std::chrono::milliseconds(5));
  r->RunUntilIdle();
  EXPECT_EQ(fired, std::vector<std::string>{"5ms"});
  EXPECT_EQ(ticks, 1);
  clock.Advance(std::chrono::milliseconds(5));
  r->RunUntilIdle();
  EXPECT_EQ(fired, (std::vector<std::string>{"5ms", "10ms"}));
  EXPECT_EQ(ticks, 2);
  every.Cancel();
  clock.Advance(std::chrono::seconds(1));
  r->RunUntilIdle();
  EXPECT_EQ(ticks, 2);
}

TEST(ReactorTest, ZeroPeriodTimerFiresOncePerPass) {
  ManualClock clock;
  auto r = MakeReactor(ReactorOptions{.clock = &clock});
  int ticks = 0;
  OpHandle every = r->Every(Duration(0), [&] { ++ticks; });
  r->RunOnce(false);
  r->RunOnce(false);
  r->RunOnce(false);
  EXPECT_EQ(ticks, 3);
}

TEST(ReactorTest, PostFromManyThreadsKeepsPerThreadOrder) {
  auto r = MakeReactor();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<int> last(kThreads, -1);
  std::atomic<int> out_of_order{0};
  int total = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        r->Post([&, t, i] {
          if (last[t] != i - 1) ++out_of_order;
          last[t] = i;
          ++total;
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  RunUntil(*r, [&] { return total == kThreads * kPerThread; });
  EXPECT_EQ(out_of_order.load(), 0);
}

TEST(ReactorTest, PostWakesABlockedLoop) {
  auto r = MakeReactor();
  std::atomic<bool> ran{false};
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r->Post([&] { ran = true; });
  });
  RunUntil(*r, [&] { return ran.load(); });
  poster.join();
}

TEST(ReactorTest, DeferDeleteFromOwnCallback) {
  auto r = MakeReactor();
  struct SelfDeleting {
    Reactor* reactor;
    bool* destroyed;
    OpHandle timer;
    ~SelfDeleting() { *destroyed = true; }
  };
  bool destroyed = false;
  auto* obj = new SelfDeleting{r.get(), &destroyed, {}};
  obj->timer = r->After(Duration(0),
                        [obj] { obj->reactor->DeferDelete(std::unique_ptr<SelfDeleting>(obj)); });
  RunUntil(*r, [&] { return destroyed; });
}

TEST(ReactorTest, SignalsArriveOnTheLoop) {
  auto r = MakeReactor();
  int got = 0;
  ASSERT_TRUE(r->OnSignal(SIGUSR1, [&](int signo) { got = signo; }).ok());
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  RunUntil(*r, [&] { return got != 0; });
  EXPECT_EQ(got, SIGUSR1);
}

TEST(ReactorTest, StopEndsRun) {
  auto r = MakeReactor();
  OpHandle t = r->After(std::chrono::milliseconds(1), [&] { r->Stop(); });
  r->Run();  // returns only because of Stop()
  SUCCEED();
}

}  // namespace
}  // namespace labvirt::reactor
