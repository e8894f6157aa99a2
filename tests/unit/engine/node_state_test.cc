#include "engine/lab/node_state.h"

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

using S = NodeState;

TEST(NodeStateTest, ABootRetryGoesFromBootingToStartingNotThroughTheQueue) {
  EXPECT_TRUE(TransitionAllowed(S::kBooting, S::kStarting));
  // The retry keeps its admission slot, so "waiting for a slot" would be a lie.
  EXPECT_FALSE(TransitionAllowed(S::kBooting, S::kQueued));
}

TEST(NodeStateTest, ABootEndsReadyFailedStoppedOrCrashed) {
  for (S to : {S::kReady, S::kFailed, S::kStopping, S::kStopped, S::kCrashed}) {
    EXPECT_TRUE(TransitionAllowed(S::kBooting, to)) << NodeStateName(to);
  }
  EXPECT_FALSE(TransitionAllowed(S::kBooting, S::kDefined));
}

TEST(NodeStateTest, NamesRoundTrip) {
  for (int s = 0; s <= static_cast<int>(S::kFailed); ++s) {
    auto state = static_cast<S>(s);
    EXPECT_EQ(ParseNodeState(NodeStateName(state)), state);
  }
  EXPECT_FALSE(ParseNodeState("bogus").has_value());
}

constexpr S kAll[] = {S::kDefined,  S::kQueued,  S::kStarting, S::kBooting, S::kReady,
                      S::kStopping, S::kStopped, S::kCrashed,  S::kFailed};

TEST(NodeStateTest, ActiveStatesAreThoseWithAVmRunningOrBeingStarted) {
  for (S s : kAll) {
    bool want = s == S::kStarting || s == S::kBooting || s == S::kReady || s == S::kStopping;
    EXPECT_EQ(IsActive(s), want) << NodeStateName(s);
  }
}

TEST(NodeStateTest, AnyStateMayFailButOnlyAnActiveOneCrashes) {
  for (S from : kAll) {
    EXPECT_TRUE(TransitionAllowed(from, S::kFailed)) << NodeStateName(from);
    EXPECT_EQ(TransitionAllowed(from, S::kCrashed), IsActive(from)) << NodeStateName(from);
  }
}

TEST(NodeStateTest, AStopEndsStoppedAndAQueuedNodeWaitsForNothingElse) {
  for (S to : kAll) {
    bool from_stopping = to == S::kStopped || to == S::kFailed || to == S::kCrashed;
    EXPECT_EQ(TransitionAllowed(S::kStopping, to), from_stopping) << NodeStateName(to);
    bool from_queued =
        to == S::kStarting || to == S::kStopped || to == S::kDefined || to == S::kFailed;
    EXPECT_EQ(TransitionAllowed(S::kQueued, to), from_queued) << NodeStateName(to);
  }
}

TEST(NodeStateTest, AnOffNodeStartsThroughTheQueueOrIsAdopted) {
  for (S off : {S::kDefined, S::kStopped, S::kCrashed, S::kFailed}) {
    EXPECT_TRUE(TransitionAllowed(off, S::kQueued)) << NodeStateName(off);
    // Adoption at reconcile: a domain found running is booting or ready, never "starting".
    EXPECT_TRUE(TransitionAllowed(off, S::kBooting)) << NodeStateName(off);
    EXPECT_TRUE(TransitionAllowed(off, S::kReady)) << NodeStateName(off);
    EXPECT_FALSE(TransitionAllowed(off, S::kStarting)) << NodeStateName(off);
    EXPECT_FALSE(TransitionAllowed(off, S::kStopping)) << NodeStateName(off);
  }
}

TEST(NodeStateTest, AnOutOfRangeStateHasNoName) {
  EXPECT_EQ(NodeStateName(static_cast<S>(99)), "unknown");
}

}  // namespace
}  // namespace labvirt::engine
