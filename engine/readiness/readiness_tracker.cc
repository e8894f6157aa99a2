#include "engine/readiness/readiness_tracker.h"

#include <chrono>

#include "reactor/base/log.h"

namespace labvirt::engine {

std::string_view ReadinessEventName(ReadinessEvent::Type type) {
  switch (type) {
    case ReadinessEvent::Type::kProgress:
      return "progress";
    case ReadinessEvent::Type::kReady:
      return "ready";
    case ReadinessEvent::Type::kFailed:
      return "failed";
    case ReadinessEvent::Type::kRestartRequested:
      return "restart_requested";
  }
  return "progress";
}

ReadinessTracker::ReadinessTracker(reactor::Reactor& reactor,
                                   std::shared_ptr<const ReadinessPatterns> patterns,
                                   Callback callback)
    : reactor_(reactor),
      patterns_(patterns),
      spec_(patterns_->spec()),
      callback_(std::move(callback)),
      scanner_(std::move(patterns)) {}

void ReadinessTracker::Start() {
  result_ = ReadinessResult{};
  BeginAttempt();
}

void ReadinessTracker::Restarted() {
  if (result_.state != ReadinessState::kRestarting) return;
  BeginAttempt();
}

void ReadinessTracker::BeginAttempt() {
  idle_timer_.Cancel();
  overall_timer_.Cancel();
  int attempt = result_.attempt + 1;
  result_ = ReadinessResult{};
  result_.state = ReadinessState::kBooting;
  result_.attempt = attempt;
  progress_seen_.assign(spec_.progress.size(), false);
  attempt_start_ = reactor_.clock().Now();
  last_output_ = attempt_start_;
  if (Status s = scanner_.Reset(); !s.ok()) {
    FailOrRestart(s.message(), "", false);
    return;
  }
  if (spec_.none) {
    result_.percent = 100;
    Finish(ReadinessEvent::Type::kReady);
    return;
  }
  if (spec_.overall_timeout.count() > 0) {
    overall_timer_ = reactor_.After(spec_.overall_timeout, [this] {
      FailOrRestart("not ready " + std::to_string(spec_.overall_timeout.count()) +
                        "s after the boot began (overall timeout)",
                    "", true);
    });
  }
  if (spec_.idle_timeout.count() > 0) ArmIdleTimer(spec_.idle_timeout);
}

void ReadinessTracker::ArmIdleTimer(reactor::Duration delay) {
  idle_timer_ = reactor_.After(delay, [this] { OnIdleTimer(); });
}

void ReadinessTracker::OnIdleTimer() {
  // Output only records a time; the timer re-arms itself for the rest of the window instead of
  // being replaced on every read, which would cost a timer operation per console read.
  reactor::Duration quiet = reactor_.clock().Now() - last_output_;
  reactor::Duration limit = spec_.idle_timeout;
  if (quiet < limit) {
    ArmIdleTimer(limit - quiet);
    return;
  }
  FailOrRestart(
      "no console output for " + std::to_string(spec_.idle_timeout.count()) + "s (idle timeout)",
      "", true);
}

void ReadinessTracker::OnConsole(std::string_view raw) {
  if (result_.state != ReadinessState::kBooting || raw.empty()) return;
  last_output_ = reactor_.clock().Now();
  matches_.clear();
  if (Status s = scanner_.Feed(raw, &matches_); !s.ok()) {
    FailOrRestart("readiness scanner: " + s.message(), "", false);
    return;
  }
  for (const ReadinessMatch& m : matches_) {
    const PatternInfo& info = patterns_->info(m.id);
    result_.text_offset = m.text_offset;
    result_.raw_offset = m.raw_offset;
    switch (m.kind) {
      case MatchKind::kProgress: {
        if (progress_seen_[m.index]) break;
        progress_seen_[m.index] = true;
        const providers::ProgressStage& stage = spec_.progress[m.index];
        if (stage.percent < result_.percent) break;  // a late, lower stage never goes backwards
        result_.percent = stage.percent;
        result_.label = stage.label;
        Emit(ReadinessEvent::Type::kProgress);
        break;
      }
      case MatchKind::kSuccess:
        result_.pattern = info.pattern;
        result_.percent = 100;
        Finish(ReadinessEvent::Type::kReady);
        return;
      case MatchKind::kFailure: {
        const providers::FailurePattern& f = spec_.failure[m.index];
        std::string what = f.label.empty() ? "console matched failure pattern" : f.label;
        FailOrRestart(what + " ('" + info.pattern + "')", info.pattern,
                      f.action == providers::FailureAction::kRestart);
        return;
      }
    }
    if (result_.state != ReadinessState::kBooting) return;
  }
}

void ReadinessTracker::ReportFailure(const std::string& reason, bool restartable) {
  if (result_.state != ReadinessState::kBooting) return;
  FailOrRestart(reason, "", restartable);
}

void ReadinessTracker::FailOrRestart(const std::string& reason, const std::string& pattern,
                                     bool restartable) {
  result_.reason = reason;
  result_.pattern = pattern;
  int restarts_used = result_.attempt - 1;
  if (restartable && restarts_used < spec_.retries) {
    result_.state = ReadinessState::kRestarting;
    idle_timer_.Cancel();
    overall_timer_.Cancel();
    result_.elapsed_ms = ElapsedMs();
    Emit(ReadinessEvent::Type::kRestartRequested);
    return;
  }
  if (restartable) {
    result_.reason += "; no retries left after " + std::to_string(result_.attempt) + " attempt" +
                      (result_.attempt == 1 ? "" : "s");
  }
  Finish(ReadinessEvent::Type::kFailed);
}

void ReadinessTracker::Finish(ReadinessEvent::Type type) {
  idle_timer_.Cancel();
  overall_timer_.Cancel();
  result_.state =
      type == ReadinessEvent::Type::kReady ? ReadinessState::kReady : ReadinessState::kFailed;
  result_.elapsed_ms = ElapsedMs();
  Emit(type);
}

void ReadinessTracker::Stop() {
  idle_timer_.Cancel();
  overall_timer_.Cancel();
  result_.state = ReadinessState::kIdle;
}

void ReadinessTracker::Emit(ReadinessEvent::Type type) {
  ReadinessEvent ev{type, result_};
  callback_(ev);
}

int64_t ReadinessTracker::ElapsedMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(reactor_.clock().Now() -
                                                               attempt_start_)
      .count();
}

}  // namespace labvirt::engine
