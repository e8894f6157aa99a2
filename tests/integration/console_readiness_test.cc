// Consoles and readiness end to end: fixture VMs (tools/mkfixture images replaying device
// transcripts) on the real libvirtd, started paused, their PTY attached through ConsoleHub, then
// resumed. The test plays the engine: it feeds the hub's output to a ReadinessTracker and, when
// asked to, restarts the VM through libvirt.
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "engine/console/console_hub.h"
#include "engine/readiness/readiness_tracker.h"
#include "gtest/gtest.h"
#include "tests/support/fixture_domain.h"
#include "tests/support/prereq.h"
#include "tests/support/socket_pair.h"
#include "tests/unit/engine/readiness_test_specs.h"

namespace labvirt::engine {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using labvirt::testing::FixtureDomain;
using labvirt::testing::FixtureOptions;

using Client = labvirt::testing::SocketPair;

// A viewer's socket pair; `ours` non-blocking, with a `bufsize`-byte window when non-zero.
Client MakeClient(int bufsize = 0) {
  auto pair = labvirt::testing::MakeSocketPair({.buffer_bytes = bufsize});
  EXPECT_TRUE(pair.ok()) << pair.status().ToString();
  return pair.ok() ? std::move(pair).value() : Client{};
}

class ConsoleReadinessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    conn_ = labvirt::testing::OpenSystemConnection(&error);
    LABVIRT_REQUIRE(conn_ != nullptr, "libvirtd at qemu:///system: " + error);
    auto r = reactor::Reactor::Create();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    reactor_ = std::move(*r);
    // Keeps RunOnce(true) from sleeping past our deadlines when nothing else is pending.
    tick_ = reactor_->Every(20ms, [] {});
  }
  void TearDown() override {
    tracker_.reset();
    hub_.reset();
    tick_.Cancel();
    fixture_.reset();
  }

  // Boots `transcript` paused, attaches hub (+ tracker for `spec`), then resumes. The tracker
  // starts before the resume, as the engine starts it, unless `start_at_first_output`: then at
  // the first console byte, so that a test of silence after output does not also time the
  // firmware's silence before it (SeaBIOS shows nothing for 0.1 s under TCG but ~5 s under KVM
  // on a PVM host, longer than a 3 s idle timeout).
  void Boot(const std::string& transcript, const providers::ReadinessSpec& spec,
            ConsoleHubOptions hub_options = {}, bool start_at_first_output = false) {
    FixtureOptions o;
    o.start_paused = true;
    std::string error;
    fixture_ = FixtureDomain::Create(conn_.get(), transcript, o, &error);
    ASSERT_NE(fixture_, nullptr) << error;
    auto patterns = ReadinessPatterns::Compile(spec, "test");
    ASSERT_TRUE(patterns.ok()) << patterns.status().ToString();
    tracker_ =
        std::make_unique<ReadinessTracker>(*reactor_, *patterns, [this](const ReadinessEvent& e) {
          events_.push_back(e);
          event_times_.push_back(Clock::now());
        });
    ConsoleHubCallbacks cb;
    cb.on_output = [this](std::string_view d) {
      output_.append(d);
      last_output_at_ = Clock::now();
      if (!tracker_started_) {
        tracker_started_ = true;
        tracker_->Start();
      }
      tracker_->OnConsole(d);
    };
    cb.on_pty_closed = [this](Status s) { pty_closed_.push_back(s); };
    cb.on_viewer_closed = [this](ViewerId id, const std::string& why) {
      viewer_closed_.push_back({id, why});
    };
    hub_ = std::make_unique<ConsoleHub>(*reactor_, fixture_->name(), hub_options, cb);
    ASSERT_TRUE(hub_->Open(fixture_->PtyPath()).ok());
    ASSERT_TRUE(hub_->attached());
    if (!start_at_first_output) {
      tracker_started_ = true;
      tracker_->Start();
    }
    ASSERT_EQ(fixture_->Resume(), "");
  }

  // The engine's restart: destroy, start paused, reattach the new PTY, resume.
  void Restart() {
    ASSERT_EQ(virDomainDestroy(fixture_->domain()), 0);
    ASSERT_EQ(virDomainCreateWithFlags(fixture_->domain(), VIR_DOMAIN_START_PAUSED), 0);
    ASSERT_TRUE(hub_->Reopen(fixture_->PtyPath()).ok());
    tracker_->Restarted();
    ASSERT_EQ(fixture_->Resume(), "");
  }

  template <typename Pred>
  bool RunUntil(Pred pred, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!pred()) {
      if (Clock::now() > deadline) return false;
      reactor_->RunOnce(true);
    }
    return true;
  }

  bool HasEvent(ReadinessEvent::Type t) const {
    for (const auto& e : events_) {
      if (e.type == t) return true;
    }
    return false;
  }

  labvirt::testing::ConnectPtr conn_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<FixtureDomain> fixture_;
  std::unique_ptr<ReadinessTracker> tracker_;
  std::unique_ptr<ConsoleHub> hub_;
  bool tracker_started_ = false;
  std::string output_;
  Clock::time_point last_output_at_{};
  std::vector<ReadinessEvent> events_;
  std::vector<Clock::time_point> event_times_;
  std::vector<Status> pty_closed_;
  std::vector<std::pair<ViewerId, std::string>> viewer_closed_;
  reactor::OpHandle tick_;
};

TEST_F(ConsoleReadinessTest, ReadyWithin500msOfThePromptAndNoByteLost) {
  std::string expected;
  std::string error =
      labvirt::testing::ExpectedConsole(labvirt::testing::ConsoleTranscript("iosv"), &expected);
  ASSERT_EQ(error, "");
  ASSERT_NO_FATAL_FAILURE(
      Boot(labvirt::testing::ConsoleTranscript("iosv"), labvirt::testing::TestSpecFor("iosv")));
  ASSERT_TRUE(RunUntil([&] { return HasEvent(ReadinessEvent::Type::kReady); }, 120s))
      << "console so far:\n"
      << output_;
  // No byte lost at boot: the reader was attached before the VM ran.
  ASSERT_GE(output_.size(), expected.size());
  EXPECT_EQ(output_.substr(0, expected.size()), expected);
  // Ready came from the final prompt, not from "Router>" in the banner.
  const ReadinessEvent& ready = events_.back();
  EXPECT_EQ(ready.result.pattern, "^Router>");
  EXPECT_GT(ready.result.raw_offset, expected.find("wait for the Router> prompt"));
  // Progress was reported on the way.
  EXPECT_TRUE(HasEvent(ReadinessEvent::Type::kProgress));
  // The prompt's last byte arrived at most 500 ms before the ready event.
  auto latency = event_times_.back() - last_output_at_;
  EXPECT_LE(latency, 500ms);
  EXPECT_GE(ready.result.elapsed_ms, 0);
  RecordProperty(
      "ready_latency_us",
      static_cast<int>(std::chrono::duration_cast<std::chrono::microseconds>(latency).count()));
}

TEST_F(ConsoleReadinessTest, FailurePatternRestartsThenFailsAfterRetries) {
  providers::ReadinessSpec spec = labvirt::testing::TestSpecFor("kernel_panic");
  spec.retries = 1;
  ASSERT_NO_FATAL_FAILURE(Boot(labvirt::testing::ConsoleTranscript("kernel_panic"), spec));
  ASSERT_TRUE(RunUntil(
      [&] { return !events_.empty() && events_.back().type != ReadinessEvent::Type::kProgress; },
      120s))
      << output_;
  ASSERT_EQ(events_.back().type, ReadinessEvent::Type::kRestartRequested);
  EXPECT_EQ(events_.back().result.attempt, 1);
  EXPECT_NE(events_.back().result.reason.find("kernel panic"), std::string::npos);
  // Play the engine: restart the VM. The old PTY goes away (reported, not an error) and the
  // hub reattaches to the new one.
  ASSERT_NO_FATAL_FAILURE(Restart());
  ASSERT_TRUE(RunUntil([&] { return HasEvent(ReadinessEvent::Type::kFailed); }, 120s)) << output_;
  const ReadinessEvent& failed = events_.back();
  EXPECT_EQ(failed.type, ReadinessEvent::Type::kFailed);
  EXPECT_EQ(failed.result.attempt, 2);
  EXPECT_NE(failed.result.reason.find("no retries left"), std::string::npos)
      << failed.result.reason;
  EXPECT_EQ(failed.result.pattern, "Kernel panic - not syncing");
  EXPECT_EQ(tracker_->result().state, ReadinessState::kFailed);
}

TEST_F(ConsoleReadinessTest, IdleTimeoutWhenTheConsoleGoesSilent) {
  providers::ReadinessSpec spec = labvirt::testing::TestSpecFor("kernel_panic");
  spec.failure.clear();  // only silence can end this boot
  spec.idle_timeout = 3s;
  spec.retries = 0;
  ASSERT_NO_FATAL_FAILURE(
      Boot(labvirt::testing::ConsoleTranscript("kernel_panic"), spec, {}, true));
  ASSERT_TRUE(RunUntil([&] { return HasEvent(ReadinessEvent::Type::kFailed); }, 60s)) << output_;
  EXPECT_NE(events_.back().result.reason.find("idle timeout"), std::string::npos);
  EXPECT_NE(output_.find("Kernel panic"), std::string::npos);
  auto quiet = event_times_.back() - last_output_at_;
  EXPECT_GE(quiet, 3s);
  EXPECT_LE(quiet, 4s);
}

TEST_F(ConsoleReadinessTest, ViewersScrollbackCutOffAndWriteLease) {
  ConsoleHubOptions o;
  o.max_viewer_queue_bytes = 4 * 1024;
  ASSERT_NO_FATAL_FAILURE(
      Boot(labvirt::testing::ConsoleTranscript("iosv"), labvirt::testing::TestSpecFor("iosv"), o));
  Client stalled = MakeClient(4096);
  Client good = MakeClient();
  ASSERT_TRUE(hub_->Attach(std::move(stalled.theirs), ViewerMode::kReadOnly, false).ok());
  auto good_id = hub_->Attach(std::move(good.theirs), ViewerMode::kReadOnly, false);
  ASSERT_TRUE(good_id.ok());
  std::string good_got;
  ASSERT_TRUE(RunUntil(
      [&] {
        labvirt::testing::DrainAvailable(good.ours.get(), &good_got);
        return HasEvent(ReadinessEvent::Type::kReady);
      },
      120s));
  // A late joiner gets the scrollback (the whole boot so far: it is smaller than 256 KiB).
  Client late = MakeClient();
  auto late_id = hub_->Attach(std::move(late.theirs), ViewerMode::kReadWrite, false);
  ASSERT_TRUE(late_id.ok());
  std::string late_got;
  const std::string so_far = output_;
  ASSERT_TRUE(RunUntil(
      [&] {
        labvirt::testing::DrainAvailable(late.ours.get(), &late_got);
        return late_got.size() >= so_far.size();
      },
      10s));
  EXPECT_EQ(late_got.substr(0, so_far.size()), so_far);

  // The read-only viewer's input is discarded; the lease holder's reaches the device, whose
  // echo and reply every viewer sees. Lots of input makes lots of echo: the stalled viewer,
  // which never reads, is cut off; the good one keeps receiving every byte.
  ASSERT_EQ(::write(good.ours.get(), "XYZZY\r", 6), 6);
  std::string input;
  for (int i = 0; i < 400; ++i)
    input += "show version | include uptime " + std::to_string(i) + "\r";
  size_t off = 0;
  ASSERT_TRUE(RunUntil(
      [&] {
        if (off < input.size()) {
          ssize_t n = ::write(late.ours.get(), input.data() + off, input.size() - off);
          if (n > 0) off += static_cast<size_t>(n);
        }
        labvirt::testing::DrainAvailable(good.ours.get(), &good_got);
        labvirt::testing::DrainAvailable(late.ours.get(), &late_got);
        return off == input.size() && output_.find("uptime 399\r\n") != std::string::npos;
      },
      120s))
      << output_.substr(output_.size() > 2000 ? output_.size() - 2000 : 0);
  EXPECT_EQ(output_.find("XYZZY"), std::string::npos);
  RunUntil(
      [&] {
        labvirt::testing::DrainAvailable(good.ours.get(), &good_got);
        return good_got.size() == output_.size();
      },
      10s);
  EXPECT_EQ(good_got, output_);
  ASSERT_EQ(viewer_closed_.size(), 1u);
  EXPECT_NE(viewer_closed_[0].second.find("fell behind"), std::string::npos);
  for (const auto& v : hub_->viewers()) {
    if (v.id == *good_id) {
      EXPECT_EQ(v.input_discarded, 6u);
    }
    if (v.id == *late_id) {
      EXPECT_EQ(v.input_forwarded, input.size());
    }
  }
}

TEST_F(ConsoleReadinessTest, DestroyedVmIsReportedAndResultKept) {
  ASSERT_NO_FATAL_FAILURE(
      Boot(labvirt::testing::ConsoleTranscript("asav"), labvirt::testing::TestSpecFor("asav")));
  ASSERT_TRUE(RunUntil([&] { return HasEvent(ReadinessEvent::Type::kReady); }, 120s)) << output_;
  ASSERT_EQ(virDomainDestroy(fixture_->domain()), 0);
  ASSERT_TRUE(RunUntil([&] { return !pty_closed_.empty(); }, 10s));
  EXPECT_FALSE(hub_->attached());
  EXPECT_EQ(tracker_->result().state, ReadinessState::kReady);  // the result is kept
}

}  // namespace
}  // namespace labvirt::engine
