#include "engine/readiness/readiness_tracker.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

using namespace std::chrono_literals;
using providers::FailureAction;
using providers::ReadinessSpec;
using Type = ReadinessEvent::Type;

ReadinessSpec Spec() {
  ReadinessSpec s;
  s.success = {"^Router>"};
  s.progress = {{"Booting", 10, "booting"},
                {"decompressing", 40, "decompressing"},
                {"Press RETURN", 90, "up"}};
  s.failure = {{"Kernel panic", FailureAction::kRestart, "kernel panic"},
               {"no bootable device", FailureAction::kFail, "no boot device"}};
  s.idle_timeout = 30s;
  s.overall_timeout = 600s;
  s.retries = 2;
  return s;
}

class ReadinessTrackerTest : public ::testing::Test {
 protected:
  void Make(const ReadinessSpec& spec) {
    reactor::ReactorOptions o;
    o.clock = &clock_;
    auto r = reactor::Reactor::Create(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    reactor_ = std::move(*r);
    auto p = ReadinessPatterns::Compile(spec);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    tracker_ = std::make_unique<ReadinessTracker>(
        *reactor_, *p, [this](const ReadinessEvent& e) { events_.push_back(e); });
  }
  void Advance(reactor::Duration d) {
    clock_.Advance(d);
    reactor_->RunUntilIdle();
  }
  std::vector<Type> Types() const {
    std::vector<Type> t;
    for (const auto& e : events_) t.push_back(e.type);
    return t;
  }

  reactor::ManualClock clock_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<ReadinessTracker> tracker_;
  std::vector<ReadinessEvent> events_;
};

TEST_F(ReadinessTrackerTest, ProgressThenReadyWithElapsedAndOffset) {
  Make(Spec());
  tracker_->Start();
  tracker_->OnConsole("Booting...\r\n");
  Advance(5s);
  tracker_->OnConsole("Self decompressing the image\r\nPress RETURN to get started\r\n");
  Advance(2s);
  tracker_->OnConsole("\r\nRouter>");
  ASSERT_EQ(Types(),
            (std::vector<Type>{Type::kProgress, Type::kProgress, Type::kProgress, Type::kReady}));
  EXPECT_EQ(events_[0].result.percent, 10);
  EXPECT_EQ(events_[1].result.label, "decompressing");
  EXPECT_EQ(events_[2].result.percent, 90);
  const ReadinessResult& r = events_[3].result;
  EXPECT_EQ(r.state, ReadinessState::kReady);
  EXPECT_EQ(r.pattern, "^Router>");
  EXPECT_EQ(r.elapsed_ms, 7000);
  EXPECT_EQ(r.percent, 100);
  EXPECT_EQ(r.attempt, 1);
  EXPECT_EQ(r.text_offset, std::string("Booting...\nSelf decompressing the image\nPress RETURN "
                                       "to get started\n\nRouter>")
                               .size());
  // Ready stops the timers and ignores later output.
  tracker_->OnConsole("Kernel panic\n");
  Advance(1000s);
  EXPECT_EQ(events_.size(), 4u);
  EXPECT_EQ(tracker_->result().state, ReadinessState::kReady);
}

TEST_F(ReadinessTrackerTest, ProgressNeverGoesBackwards) {
  Make(Spec());
  tracker_->Start();
  tracker_->OnConsole("Press RETURN\nBooting\n");
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].result.percent, 90);
  EXPECT_EQ(tracker_->result().percent, 90);
}

TEST_F(ReadinessTrackerTest, FailureRestartsWhileRetriesRemainThenFails) {
  Make(Spec());  // retries = 2
  tracker_->Start();
  for (int attempt = 1; attempt <= 3; ++attempt) {
    tracker_->OnConsole("[ 1.0] Kernel panic - not syncing\n");
    ASSERT_FALSE(events_.empty());
    EXPECT_EQ(events_.back().result.attempt, attempt);
    EXPECT_EQ(events_.back().result.pattern, "Kernel panic");
    EXPECT_NE(events_.back().result.reason.find("kernel panic"), std::string::npos);
    if (attempt < 3) {
      EXPECT_EQ(events_.back().type, Type::kRestartRequested);
      EXPECT_EQ(tracker_->result().state, ReadinessState::kRestarting);
      tracker_->OnConsole("\nRouter>");  // output of the dying VM is ignored
      EXPECT_EQ(events_.back().type, Type::kRestartRequested);
      tracker_->Restarted();
    }
  }
  EXPECT_EQ(Types(),
            (std::vector<Type>{Type::kRestartRequested, Type::kRestartRequested, Type::kFailed}));
  EXPECT_NE(events_.back().result.reason.find("no retries left after 3 attempts"),
            std::string::npos)
      << events_.back().result.reason;
  EXPECT_EQ(tracker_->result().state, ReadinessState::kFailed);
}

TEST_F(ReadinessTrackerTest, FailActionFailsAtOnce) {
  Make(Spec());
  tracker_->Start();
  tracker_->OnConsole("No bootable device.\n");
  ASSERT_EQ(Types(), (std::vector<Type>{Type::kFailed}));
  EXPECT_EQ(events_[0].result.pattern, "no bootable device");
}

TEST_F(ReadinessTrackerTest, IdleTimeoutCountsFromLastOutput) {
  ReadinessSpec s = Spec();
  s.retries = 0;
  Make(s);
  tracker_->Start();
  Advance(20s);
  tracker_->OnConsole("still loading\n");
  Advance(20s);  // 40 s since start, 20 s since output
  EXPECT_TRUE(events_.empty());
  Advance(9s);
  EXPECT_TRUE(events_.empty());
  Advance(1s);
  ASSERT_EQ(Types(), (std::vector<Type>{Type::kFailed}));
  EXPECT_NE(events_[0].result.reason.find("idle timeout"), std::string::npos);
  EXPECT_EQ(events_[0].result.elapsed_ms, 50000);
}

TEST_F(ReadinessTrackerTest, OverallTimeoutRestartsThenFails) {
  ReadinessSpec s = Spec();
  s.idle_timeout = 0s;
  s.overall_timeout = 100s;
  s.retries = 1;
  Make(s);
  tracker_->Start();
  Advance(99s);
  EXPECT_TRUE(events_.empty());
  Advance(1s);
  ASSERT_EQ(Types(), (std::vector<Type>{Type::kRestartRequested}));
  EXPECT_NE(events_[0].result.reason.find("overall timeout"), std::string::npos);
  Advance(500s);  // no timer runs while the engine restarts the VM
  EXPECT_EQ(events_.size(), 1u);
  tracker_->Restarted();
  EXPECT_EQ(tracker_->result().attempt, 2);
  Advance(100s);
  ASSERT_EQ(Types(), (std::vector<Type>{Type::kRestartRequested, Type::kFailed}));
}

TEST_F(ReadinessTrackerTest, NoneSpecIsReadyAtStart) {
  ReadinessSpec s;
  s.none = true;
  Make(s);
  tracker_->Start();
  ASSERT_EQ(Types(), (std::vector<Type>{Type::kReady}));
}

TEST_F(ReadinessTrackerTest, ReportFailureFromEngine) {
  ReadinessSpec s = Spec();
  s.retries = 0;
  Make(s);
  tracker_->Start();
  tracker_->ReportFailure("domain crashed", true);
  ASSERT_EQ(Types(), (std::vector<Type>{Type::kFailed}));
  EXPECT_NE(events_[0].result.reason.find("domain crashed"), std::string::npos);
}

TEST_F(ReadinessTrackerTest, StopCancelsTimersAndRestartedOutsideRestartingIsIgnored) {
  Make(Spec());
  tracker_->Start();
  tracker_->Restarted();
  EXPECT_EQ(tracker_->result().attempt, 1);
  tracker_->Stop();
  Advance(10000s);
  EXPECT_TRUE(events_.empty());
  EXPECT_EQ(tracker_->result().state, ReadinessState::kIdle);
  tracker_->OnConsole("\nRouter>");
  EXPECT_TRUE(events_.empty());
}

TEST_F(ReadinessTrackerTest, DestroyedWithTimersPendingIsSafe) {
  Make(Spec());
  tracker_->Start();
  tracker_.reset();
  Advance(1000s);
  EXPECT_TRUE(events_.empty());
}

TEST(ReadinessResultTest, JsonRoundTrip) {
  ReadinessResult r;
  r.state = ReadinessState::kFailed;
  r.attempt = 3;
  r.percent = 40;
  r.label = "decompressing";
  r.pattern = "Kernel \"panic\"";
  r.reason = "kernel panic; no retries left";
  r.text_offset = 1234;
  r.raw_offset = 5678;
  r.elapsed_ms = 98765;
  auto back = ReadinessResult::FromJson(r.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, r);
}

TEST(ReadinessResultTest, BadJsonIsAnError) {
  EXPECT_FALSE(ReadinessResult::FromJson("").ok());
  EXPECT_FALSE(ReadinessResult::FromJson("[]").ok());
  EXPECT_FALSE(ReadinessResult::FromJson("{}").ok());
  EXPECT_FALSE(ReadinessResult::FromJson(R"({"state":"sleeping"})").ok());
  EXPECT_FALSE(ReadinessResult::FromJson(R"({"state":"ready","attempt":"x"})").ok());
  EXPECT_FALSE(ReadinessResult::FromJson(R"({"state":"ready","attempt":-1})").ok());
  EXPECT_FALSE(ReadinessResult::FromJson(R"({"state":"ready")").ok());
  auto ok = ReadinessResult::FromJson(R"({"state":"ready","future_key":[1,2]})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->state, ReadinessState::kReady);
}

}  // namespace
}  // namespace labvirt::engine
