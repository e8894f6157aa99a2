// ConsoleHub and ConsoleReader on real PTY pairs (openpty) and socketpairs: the test plays QEMU on
// the PTY master and the clients on the viewer sockets. No sleeping: the reactor is pumped until
// a condition holds, with an iteration bound.
#include "engine/console/console_hub.h"

#include <fcntl.h>
#include <pty.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "reactor/probe.h"
#include "tests/support/socket_pair.h"

namespace labvirt::engine {
namespace {

struct Pty {
  UniqueFd master;
  std::string path;
};

Pty MakePty() {
  int m = -1, s = -1;
  char name[128];
  EXPECT_EQ(::openpty(&m, &s, name, nullptr, nullptr), 0);
  ::close(s);  // the hub opens the slave by path, as it does QEMU's
  ::fcntl(m, F_SETFL, ::fcntl(m, F_GETFL) | O_NONBLOCK);
  return {UniqueFd(m), name};
}

using Pair = testing::SocketPair;

// A viewer's socket pair; `ours` non-blocking, with a `rcvbuf`-byte window when non-zero.
Pair MakePair(int rcvbuf = 0) {
  auto pair = testing::MakeSocketPair({.buffer_bytes = rcvbuf});
  EXPECT_TRUE(pair.ok()) << pair.status().ToString();
  return pair.ok() ? std::move(pair).value() : Pair{};
}

// Parameter: ConsoleReader in direct-read mode (io_uring Read ops; only where the probe allows).
class ConsoleHubTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      auto f = reactor::ProbeIoUring();
      if (!f.ok() || !f->direct_tty_read) GTEST_SKIP() << "kernel has no direct tty reads";
    }
    auto r = reactor::Reactor::Create();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    reactor_ = std::move(*r);
    pty_ = MakePty();
  }
  // The hub frees a removed viewer at the end of the loop pass (DeferDelete): run one, so that a
  // test ending right after a removal frees it.
  void TearDown() override {
    if (reactor_) reactor_->RunOnce(false);
  }
  std::unique_ptr<ConsoleHub> MakeHub(ConsoleHubOptions o = {}) {
    o.reader.direct_read = GetParam();
    ConsoleHubCallbacks cb;
    cb.on_output = [this](std::string_view d) { output_.append(d); };
    cb.on_pty_closed = [this](Status s) { pty_closed_.push_back(s); };
    cb.on_viewer_closed = [this](ViewerId id, const std::string& why) {
      closed_.push_back({id, why});
    };
    cb.on_lease_changed = [this](ViewerId id) { leases_.push_back(id); };
    return std::make_unique<ConsoleHub>(*reactor_, "node1", o, std::move(cb));
  }
  template <typename Pred>
  bool Pump(Pred pred, int max_passes = 200000) {
    for (int i = 0; i < max_passes; ++i) {
      if (pred()) return true;
      reactor_->RunOnce(false);
    }
    return pred();
  }
  void WriteMaster(std::string_view data) {
    size_t off = 0;
    ASSERT_TRUE(Pump([&] {
      ssize_t n = ::write(pty_.master.get(), data.data() + off, data.size() - off);
      if (n > 0) off += static_cast<size_t>(n);
      return off == data.size();
    }));
  }

  std::unique_ptr<reactor::Reactor> reactor_;
  Pty pty_;
  std::string output_;
  std::vector<Status> pty_closed_;
  std::vector<std::pair<ViewerId, std::string>> closed_;
  std::vector<ViewerId> leases_;
};

TEST_P(ConsoleHubTest, OpenFailuresAreReported) {
  auto hub = MakeHub();
  Status s = hub->Open("/dev/pts/does-not-exist");
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("/dev/pts/does-not-exist"), std::string::npos);
  s = hub->Open("/dev/null");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_FALSE(hub->attached());
  ASSERT_TRUE(hub->Open(pty_.path).ok());
  EXPECT_TRUE(hub->attached());  // synchronously: the engine may resume the VM now
  EXPECT_EQ(hub->Open(pty_.path).code(), StatusCode::kFailedPrecondition);
}

TEST_P(ConsoleHubTest, OutputReachesOwnerAndViewerAndLateJoinerGetsScrollback) {
  ConsoleHubOptions o;
  o.scrollback_bytes = 16;
  auto hub = MakeHub(o);
  ASSERT_TRUE(hub->Open(pty_.path).ok());
  Pair early = MakePair();
  ASSERT_TRUE(hub->Attach(std::move(early.theirs), ViewerMode::kReadOnly, false).ok());
  WriteMaster("0123456789abcdefXYZ");
  std::string got_early;
  ASSERT_TRUE(Pump([&] {
    testing::DrainAvailable(early.ours.get(), &got_early);
    return got_early.size() == 19;
  }));
  EXPECT_EQ(output_, "0123456789abcdefXYZ");
  Pair late = MakePair();
  ASSERT_TRUE(hub->Attach(std::move(late.theirs), ViewerMode::kReadOnly, false).ok());
  std::string got_late;
  ASSERT_TRUE(Pump([&] {
    testing::DrainAvailable(late.ours.get(), &got_late);
    return got_late.size() >= 16;
  }));
  EXPECT_EQ(got_late, "3456789abcdefXYZ");  // the last 16 bytes
  WriteMaster("live");
  ASSERT_TRUE(Pump([&] {
    testing::DrainAvailable(late.ours.get(), &got_late);
    return got_late.size() == 20;
  }));
  EXPECT_EQ(got_late.substr(16), "live");
}

TEST_P(ConsoleHubTest, StalledViewerIsCutOffWhileAnotherGetsEveryByte) {
  ConsoleHubOptions o;
  o.max_viewer_queue_bytes = 64 * 1024;
  auto hub = MakeHub(o);
  ASSERT_TRUE(hub->Open(pty_.path).ok());
  Pair stalled = MakePair(4096);
  Pair good = MakePair();
  auto stalled_id = hub->Attach(std::move(stalled.theirs), ViewerMode::kReadOnly, false);
  ASSERT_TRUE(stalled_id.ok());
  ASSERT_TRUE(hub->Attach(std::move(good.theirs), ViewerMode::kReadOnly, false).ok());
  std::string sent;
  for (int i = 0; sent.size() < 2 * 1024 * 1024; ++i) {
    sent += "line " + std::to_string(i) + " of console output that nobody reads fast\r\n";
  }
  std::string got;
  size_t off = 0;
  ASSERT_TRUE(Pump(
      [&] {
        if (off < sent.size()) {
          ssize_t n = ::write(pty_.master.get(), sent.data() + off,
                              std::min<size_t>(4096, sent.size() - off));
          if (n > 0) off += static_cast<size_t>(n);
        }
        testing::DrainAvailable(good.ours.get(), &got);
        return got.size() == sent.size();
      },
      2000000));
  EXPECT_EQ(got, sent);
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_EQ(closed_[0].first, *stalled_id);
  EXPECT_NE(closed_[0].second.find("fell behind"), std::string::npos) << closed_[0].second;
  EXPECT_EQ(hub->viewer_count(), 1u);
  EXPECT_EQ(hub->viewers_cut_off(), 1u);
  // The stalled client sees its connection closed once it reads what it had.
  std::string rest;
  testing::DrainAvailable(stalled.ours.get(), &rest);
  char c;
  EXPECT_EQ(::read(stalled.ours.get(), &c, 1), 0);
}

TEST_P(ConsoleHubTest, WriteLease) {
  auto hub = MakeHub();
  ASSERT_TRUE(hub->Open(pty_.path).ok());
  Pair a = MakePair(), b = MakePair(), c = MakePair();
  auto ida = hub->Attach(std::move(a.theirs), ViewerMode::kReadWrite, false);
  ASSERT_TRUE(ida.ok());
  EXPECT_EQ(hub->lease_holder(), *ida);
  // A second writer is refused without force, and told how to get in.
  Status check = hub->CheckAttach(ViewerMode::kReadWrite, false);
  EXPECT_EQ(check.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(check.message().find("force"), std::string::npos);
  Pair refused = MakePair();
  EXPECT_FALSE(hub->Attach(std::move(refused.theirs), ViewerMode::kReadWrite, false).ok());
  auto idb = hub->Attach(std::move(b.theirs), ViewerMode::kReadOnly, false);
  ASSERT_TRUE(idb.ok());

  // The holder's input reaches the PTY; the read-only viewer's is discarded and counted.
  ASSERT_EQ(::write(b.ours.get(), "ro-input", 8), 8);
  ASSERT_EQ(::write(a.ours.get(), "show ver\r", 9), 9);
  std::string at_qemu;
  ASSERT_TRUE(Pump([&] {
    testing::DrainAvailable(pty_.master.get(), &at_qemu);
    return at_qemu.size() >= 9;
  }));
  EXPECT_EQ(at_qemu, "show ver\r");
  ASSERT_TRUE(Pump([&] {
    for (const auto& v : hub->viewers()) {
      if (v.id == *idb) return v.input_discarded == 8;
    }
    return false;
  }));

  // Force moves the lease; the old holder becomes read-only.
  auto idc = hub->Attach(std::move(c.theirs), ViewerMode::kReadWrite, true);
  ASSERT_TRUE(idc.ok());
  EXPECT_EQ(hub->lease_holder(), *idc);
  EXPECT_EQ(leases_, (std::vector<ViewerId>{*ida, *idc}));
  ASSERT_EQ(::write(a.ours.get(), "old", 3), 3);
  ASSERT_EQ(::write(c.ours.get(), "new", 3), 3);
  at_qemu.clear();
  ASSERT_TRUE(Pump([&] {
    testing::DrainAvailable(pty_.master.get(), &at_qemu);
    return at_qemu.size() >= 3;
  }));
  EXPECT_TRUE(Pump([&] {
    for (const auto& v : hub->viewers()) {
      if (v.id == *ida) return v.input_discarded == 3 && !v.writer;
    }
    return false;
  }));
  testing::DrainAvailable(pty_.master.get(), &at_qemu);
  EXPECT_EQ(at_qemu, "new");

  // The holder hanging up releases the lease.
  c.ours.Reset();
  ASSERT_TRUE(Pump([&] { return hub->lease_holder() == 0; }));
  ASSERT_FALSE(closed_.empty());
  EXPECT_EQ(closed_.back().first, *idc);
  EXPECT_NE(closed_.back().second.find("hung up"), std::string::npos);
  EXPECT_TRUE(hub->CheckAttach(ViewerMode::kReadWrite, false).ok());
}

TEST_P(ConsoleHubTest, WriterInputHasBackpressureAndArrivesInOrder) {
  auto hub = MakeHub();
  ASSERT_TRUE(hub->Open(pty_.path).ok());
  Pair w = MakePair();
  ASSERT_TRUE(hub->Attach(std::move(w.theirs), ViewerMode::kReadWrite, false).ok());
  std::string input;
  for (int i = 0; input.size() < 512 * 1024; ++i) input += "cmd " + std::to_string(i) + "\r";
  size_t off = 0;
  // Nobody reads the PTY master yet: the hub must stop reading the writer, not buffer it all.
  Pump(
      [&] {
        ssize_t n = ::write(w.ours.get(), input.data() + off, input.size() - off);
        if (n > 0) off += static_cast<size_t>(n);
        return false;
      },
      20000);
  EXPECT_LT(off, input.size());
  uint64_t forwarded = hub->viewers()[0].input_forwarded;
  EXPECT_LT(forwarded, input.size());
  std::string at_qemu;
  ASSERT_TRUE(Pump(
      [&] {
        if (off < input.size()) {
          ssize_t n = ::write(w.ours.get(), input.data() + off, input.size() - off);
          if (n > 0) off += static_cast<size_t>(n);
        }
        testing::DrainAvailable(pty_.master.get(), &at_qemu);
        return at_qemu.size() == input.size();
      },
      2000000));
  EXPECT_EQ(at_qemu, input);
}

TEST_P(ConsoleHubTest, PtyGoneIsReportedAndOtherConsolesKeepWorking) {
  Pty other = MakePty();
  auto hub = MakeHub();
  ConsoleHubCallbacks cb2;
  std::string other_out;
  cb2.on_output = [&](std::string_view d) { other_out.append(d); };
  ConsoleHubOptions o2;
  o2.reader.direct_read = GetParam();
  ConsoleHub hub2(*reactor_, "node2", o2, cb2);
  ASSERT_TRUE(hub->Open(pty_.path).ok());
  ASSERT_TRUE(hub2.Open(other.path).ok());
  Pair v = MakePair();
  ASSERT_TRUE(hub->Attach(std::move(v.theirs), ViewerMode::kReadWrite, false).ok());
  WriteMaster("before");
  ASSERT_TRUE(Pump([&] { return output_ == "before"; }));
  pty_.master.Reset();  // QEMU exits
  ASSERT_TRUE(Pump([&] { return !pty_closed_.empty(); }));
  EXPECT_FALSE(hub->attached());
  EXPECT_NE(pty_closed_[0].message().find("VM is gone"), std::string::npos)
      << pty_closed_[0].ToString();
  EXPECT_EQ(hub->viewer_count(), 1u);  // viewers stay for the restart
  // Input while there is no PTY is discarded, not an error.
  ASSERT_EQ(::write(v.ours.get(), "x", 1), 1);
  ASSERT_TRUE(Pump([&] { return hub->viewers()[0].input_discarded == 1; }));
  // The other console is unaffected.
  ASSERT_EQ(::write(other.master.get(), "still here", 10), 10);
  ASSERT_TRUE(Pump([&] { return other_out == "still here"; }));
  // After a VM restart the new PTY is attached and viewers see its output.
  Pty fresh = MakePty();
  ASSERT_TRUE(hub->Reopen(fresh.path).ok());
  ASSERT_EQ(::write(fresh.master.get(), "after", 5), 5);
  std::string seen;
  ASSERT_TRUE(Pump([&] {
    testing::DrainAvailable(v.ours.get(), &seen);
    return seen == "beforeafter";
  }));
}

TEST_P(ConsoleHubTest, BinaryGarbageAndLongLinesPassThroughUnchanged) {
  auto hub = MakeHub();
  ASSERT_TRUE(hub->Open(pty_.path).ok());
  Pair v = MakePair();
  ASSERT_TRUE(hub->Attach(std::move(v.theirs), ViewerMode::kReadOnly, false).ok());
  std::string data;
  for (int i = 0; i < 256 * 1024; ++i) data.push_back(static_cast<char>((i * 7919) & 0xff));
  data += std::string(1 << 20, 'L');  // a megabyte line with no newline
  std::string got;
  size_t off = 0;
  ASSERT_TRUE(Pump(
      [&] {
        if (off < data.size()) {
          ssize_t n = ::write(pty_.master.get(), data.data() + off, data.size() - off);
          if (n > 0) off += static_cast<size_t>(n);
        }
        testing::DrainAvailable(v.ours.get(), &got);
        return got.size() == data.size();
      },
      2000000));
  EXPECT_EQ(got, data);  // raw mode: no byte translated
  EXPECT_EQ(output_, data);
}

TEST_P(ConsoleHubTest, DetachAndDestroyWithViewersConnected) {
  auto hub = MakeHub();
  ASSERT_TRUE(hub->Open(pty_.path).ok());
  Pair a = MakePair(), b = MakePair();
  auto ida = hub->Attach(std::move(a.theirs), ViewerMode::kReadWrite, false);
  ASSERT_TRUE(ida.ok());
  ASSERT_TRUE(hub->Attach(std::move(b.theirs), ViewerMode::kReadOnly, false).ok());
  hub->Detach(*ida, "engine said so");
  EXPECT_EQ(hub->lease_holder(), 0u);
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_EQ(closed_[0].second, "engine said so");
  hub->Detach(12345);  // unknown: ignored
  EXPECT_FALSE(hub->Attach(UniqueFd(), ViewerMode::kReadOnly, false).ok());
  hub.reset();
  reactor_->RunUntilIdle();
  char c;
  EXPECT_EQ(::read(b.ours.get(), &c, 1), 0);  // closed by the hub's destructor
}

// A console script: an in-process writer that takes the lease but never forces it.
TEST_P(ConsoleHubTest, AScriptTypesUnderTheLeaseAndEndsWhenAPersonForcesIt) {
  auto hub = MakeHub();
  ASSERT_TRUE(hub->Open(pty_.path).ok());
  WriteMaster("old text");
  ASSERT_TRUE(Pump([&] { return output_.size() == 8; }));
  // A person holding the lease: the script is refused, not typed over them.
  Pair person = MakePair();
  auto pid = hub->Attach(std::move(person.theirs), ViewerMode::kReadWrite, false);
  ASSERT_TRUE(pid.ok());
  std::string seen, why;
  ScriptViewerCallbacks cb{[&](std::string_view d) { seen.append(d); },
                           [&](const std::string& reason) { why = reason; }};
  EXPECT_EQ(hub->AttachScript(cb).status().code(), StatusCode::kFailedPrecondition);
  hub->Detach(*pid);
  auto sid = hub->AttachScript(cb);
  ASSERT_TRUE(sid.ok()) << sid.status().ToString();
  EXPECT_EQ(hub->lease_holder(), *sid);
  // It sees output from now on (not the scrollback) and its input reaches the PTY.
  WriteMaster("Router>");
  ASSERT_TRUE(Pump([&] { return seen.size() == 7; }));
  EXPECT_EQ(seen, "Router>");
  ASSERT_TRUE(hub->Type(*sid, "show version\r").ok());
  std::string typed;
  ASSERT_TRUE(Pump([&] {
    testing::DrainAvailable(pty_.master.get(), &typed);
    return typed.find("show version") != std::string::npos;
  }));
  // Only a script holding the lease types.
  EXPECT_EQ(hub->Type(*sid + 100, "x").code(), StatusCode::kFailedPrecondition);
  // A person who forces the lease ends the script, which is told why; its typing is refused.
  Pair forcing = MakePair();
  auto fid = hub->Attach(std::move(forcing.theirs), ViewerMode::kReadWrite, true);
  ASSERT_TRUE(fid.ok());
  EXPECT_EQ(why, "the write lease was taken by viewer " + std::to_string(*fid));
  EXPECT_EQ(hub->lease_holder(), *fid);
  EXPECT_EQ(hub->Type(*sid, "x").code(), StatusCode::kFailedPrecondition);
}

TEST_P(ConsoleHubTest, AScriptEndsWhenThePtyCloses) {
  auto hub = MakeHub();
  ASSERT_TRUE(hub->Open(pty_.path).ok());
  std::string why;
  auto sid = hub->AttachScript({[](std::string_view) {}, [&](const std::string& r) { why = r; }});
  ASSERT_TRUE(sid.ok());
  pty_.master.Reset();  // QEMU went away
  ASSERT_TRUE(Pump([&] { return !why.empty(); }));
  EXPECT_EQ(why.rfind("the console closed: ", 0), 0u) << why;
  EXPECT_EQ(hub->lease_holder(), 0u);
}

TEST_P(ConsoleHubTest, ViewersAreCappedPerConsoleAndScriptsDoNotCount) {
  ConsoleHubOptions o;
  o.max_viewers = 2;
  auto hub = MakeHub(o);
  ASSERT_TRUE(hub->Open(pty_.path).ok());
  std::vector<Pair> pairs;
  std::vector<ViewerId> ids;
  for (int i = 0; i < 2; ++i) {
    pairs.push_back(MakePair());
    auto id = hub->Attach(std::move(pairs.back().theirs), ViewerMode::kReadOnly, false);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ids.push_back(*id);
  }
  Pair third = MakePair();
  Status full = hub->CheckAttach(ViewerMode::kReadOnly, false);
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("at most 2 viewers at once"), std::string::npos) << full.message();
  EXPECT_FALSE(hub->Attach(std::move(third.theirs), ViewerMode::kReadOnly, false).ok());
  EXPECT_EQ(hub->viewer_count(), 2u);
  // The engine's own script viewer (a startup config being typed) is not a client's.
  EXPECT_TRUE(hub->AttachScript({}).ok());
  hub->Detach(ids[0]);
  Pair fourth = MakePair();
  EXPECT_TRUE(hub->Attach(std::move(fourth.theirs), ViewerMode::kReadOnly, false).ok())
      << "a place freed by a detach";
}

// Reads of the default size (one n_tty buffer, issue 20) still carry a burst many reads long
// whole and in order, in both read modes.
TEST_P(ConsoleHubTest, ABurstLongerThanManyReadsArrivesWholeWithTheDefaultReadSize) {
  auto hub = MakeHub();
  ASSERT_TRUE(hub->Open(pty_.path).ok());
  std::string burst;
  for (int i = 0; burst.size() < 10 * ConsoleReaderOptions{}.read_chunk; ++i) {
    burst += "line " + std::to_string(i) + "\r\n";
  }
  WriteMaster(burst);
  ASSERT_TRUE(Pump([&] { return output_.size() >= burst.size(); })) << output_.size();
  EXPECT_EQ(output_, burst);
  EXPECT_EQ(hub->bytes_read(), burst.size());
}

INSTANTIATE_TEST_SUITE_P(Reader, ConsoleHubTest, ::testing::Bool(), [](const auto& info) {
  return info.param ? std::string("DirectRead") : std::string("PollRead");
});

}  // namespace
}  // namespace labvirt::engine
