// ReadinessTracker: decides, for one node, when a boot is ready, failed or must be restarted —
// from the console (through a ReadinessScanner) and from reactor timers (idle and overall
// timeouts) — and reports each step through one callback.
//
// Lifecycle of one node's boot:
//   Start()            attempt 1 begins: scanner reset, timers armed. Call it when the VM is
//                      resumed (its console reader is attached by then, so no byte is missed).
//   OnConsole(bytes)   every console read, in order.
//   → kProgress        a progress stage matched (percent only goes up; each stage once a boot).
//   → kReady           a success pattern matched: timers stop, further output is ignored.
//   → kRestartRequested a failure pattern with action restart, or a timeout, while retries remain:
//                      the engine restarts the VM and then calls Restarted() (attempt + 1).
//   → kFailed          a failure pattern with action fail, or a failure with no retries left.
// Retries: spec.retries restarts after the first attempt, shared by every cause.
// Timeouts run per attempt: idle = no console output for spec.idle_timeout (0: none), overall =
// not ready spec.overall_timeout after the attempt began (0: none).
//
// What it does not own: the reactor (must outlive it). The compiled patterns are shared.
// Thread: loop thread only. The callback must not destroy the tracker synchronously (defer it:
// reactor.DeferDelete); it may call Restarted()/Stop() later, not from inside the callback.
// Errors: a Hyperscan failure while scanning (out of memory) fails the boot with that reason.
#ifndef LABVIRT_ENGINE_READINESS_READINESS_TRACKER_H_
#define LABVIRT_ENGINE_READINESS_READINESS_TRACKER_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/readiness/readiness_patterns.h"
#include "engine/readiness/readiness_result.h"
#include "engine/readiness/readiness_scanner.h"
#include "reactor/reactor.h"

namespace labvirt::engine {

struct ReadinessEvent {
  enum class Type { kProgress, kReady, kFailed, kRestartRequested };
  Type type = Type::kProgress;
  // The tracker's result after this event (state, attempt, percent, label, pattern, reason,
  // offsets, elapsed_ms).
  ReadinessResult result;
};

// "progress", "ready", "failed", "restart_requested".
std::string_view ReadinessEventName(ReadinessEvent::Type type);

class ReadinessTracker {
 public:
  using Callback = std::function<void(const ReadinessEvent&)>;

  // `reactor` must outlive the tracker.
  ReadinessTracker(reactor::Reactor& reactor, std::shared_ptr<const ReadinessPatterns> patterns,
                   Callback callback);
  ReadinessTracker(const ReadinessTracker&) = delete;
  ReadinessTracker& operator=(const ReadinessTracker&) = delete;

  // Begins attempt 1, forgetting any previous boot. A `none` spec is ready at once.
  void Start();
  // The engine restarted the VM after kRestartRequested: begins the next attempt. Ignored in any
  // other state.
  void Restarted();
  // Raw console bytes; ignored unless booting.
  void OnConsole(std::string_view raw);
  // A failure seen by the engine rather than on the console (the VM crashed or vanished during
  // boot). Handled like a failure pattern with action restart (`restartable`) or fail.
  void ReportFailure(const std::string& reason, bool restartable);
  // Stops watching (node stopped by the user): timers cancelled, state back to idle.
  void Stop();

  const ReadinessResult& result() const { return result_; }

 private:
  void BeginAttempt();
  void Finish(ReadinessEvent::Type type);
  // Restarts while retries remain, else fails.
  void FailOrRestart(const std::string& reason, const std::string& pattern, bool restartable);
  void ArmIdleTimer(reactor::Duration delay);
  void OnIdleTimer();
  void Emit(ReadinessEvent::Type type);
  int64_t ElapsedMs() const;

  reactor::Reactor& reactor_;
  std::shared_ptr<const ReadinessPatterns> patterns_;
  const providers::ReadinessSpec& spec_;
  Callback callback_;
  ReadinessScanner scanner_;
  ReadinessResult result_;
  reactor::TimePoint attempt_start_{};
  reactor::TimePoint last_output_{};
  std::vector<ReadinessMatch> matches_;  // reused per OnConsole
  std::vector<bool> progress_seen_;
  // Handles last: they die first, so no timer fires into a half-destroyed tracker.
  reactor::OpHandle idle_timer_;
  reactor::OpHandle overall_timer_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_READINESS_READINESS_TRACKER_H_
