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

}  // namespace
}  // namespace labvirt::engine
