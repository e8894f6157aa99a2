#include "engine/lab/admission.h"

#include "engine/lab/node_state.h"
#include "engine/lab/restart_policy.h"
#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

TEST(AdmissionTest, AdmitsUpToBudgetThenQueuesInOrder) {
  Admission a(2.0);
  std::vector<std::string> admitted;
  for (std::string k : {"r1", "r2", "r3", "r4"}) {
    ASSERT_TRUE(a.Request(k, 1.0, [&, k] { admitted.push_back(k); }));
  }
  EXPECT_EQ(admitted, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(a.Queue(), (std::vector<std::string>{"r3", "r4"}));
  a.Release("r2");
  EXPECT_EQ(admitted, (std::vector<std::string>{"r1", "r2", "r3"}));
  a.Release("r2");  // twice: ignored
  EXPECT_DOUBLE_EQ(a.in_use(), 2.0);
}

TEST(AdmissionTest, HeavyHeadIsNotOvertaken) {
  Admission a(4.0);
  std::vector<std::string> admitted;
  a.Request("small1", 1, [&] { admitted.push_back("small1"); });
  a.Request("heavy", 4, [&] { admitted.push_back("heavy"); });
  a.Request("small2", 1, [&] { admitted.push_back("small2"); });
  EXPECT_EQ(admitted, (std::vector<std::string>{"small1"}));  // small2 waits behind heavy
  a.Release("small1");
  EXPECT_EQ(admitted, (std::vector<std::string>{"small1", "heavy"}));
  a.Release("heavy");
  EXPECT_EQ(admitted.back(), "small2");
}

TEST(AdmissionTest, HeavierThanBudgetBootsAlone) {
  Admission a(2.0);
  bool big = false, after = false;
  a.Request("xrv9k", 8, [&] { big = true; });
  a.Request("r1", 1, [&] { after = true; });
  EXPECT_TRUE(big);
  EXPECT_FALSE(after);
  a.Release("xrv9k");
  EXPECT_TRUE(after);
}

TEST(AdmissionTest, DuplicateKeyRefusedAndQueuedReleaseDrops) {
  Admission a(1.0);
  a.Request("r1", 1, [] {});
  EXPECT_FALSE(a.Request("r1", 1, [] {}));
  bool r2 = false;
  a.Request("r2", 1, [&] { r2 = true; });
  a.Release("r2");  // drop from queue
  EXPECT_FALSE(a.IsQueued("r2"));
  a.Release("r1");
  EXPECT_FALSE(r2);
}

TEST(AdmissionTest, CallbackMayRequestAgain) {
  Admission a(1.0);
  int n = 0;
  a.Request("a", 1, [&] {
    ++n;
    a.Release("a");
    a.Request("b", 1, [&] { ++n; });
  });
  EXPECT_EQ(n, 2);
}

TEST(NodeStateTest, NamesRoundTripAndTransitions) {
  for (auto s : {NodeState::kDefined, NodeState::kQueued, NodeState::kStarting, NodeState::kBooting,
                 NodeState::kReady, NodeState::kStopping, NodeState::kStopped, NodeState::kCrashed,
                 NodeState::kFailed}) {
    EXPECT_EQ(ParseNodeState(NodeStateName(s)), s);
    EXPECT_TRUE(TransitionAllowed(s, NodeState::kFailed));
  }
  EXPECT_TRUE(TransitionAllowed(NodeState::kQueued, NodeState::kStarting));
  EXPECT_TRUE(TransitionAllowed(NodeState::kBooting, NodeState::kReady));
  EXPECT_FALSE(TransitionAllowed(NodeState::kDefined, NodeState::kCrashed));
  EXPECT_FALSE(TransitionAllowed(NodeState::kStopping, NodeState::kReady));
  EXPECT_FALSE(TransitionAllowed(NodeState::kQueued, NodeState::kReady));
  EXPECT_FALSE(ParseNodeState("bogus").has_value());
}

TEST(RestartPolicyTest, BoundedExponentialBackoff) {
  RestartPolicy p{.max_restarts = 4,
                  .base_backoff = std::chrono::milliseconds(100),
                  .max_backoff = std::chrono::milliseconds(250)};
  EXPECT_EQ(p.Delay(1), std::chrono::milliseconds(100));
  EXPECT_EQ(p.Delay(2), std::chrono::milliseconds(200));
  EXPECT_EQ(p.Delay(3), std::chrono::milliseconds(250));
  EXPECT_EQ(p.Delay(4), std::chrono::milliseconds(250));
  EXPECT_FALSE(p.Delay(5).has_value());
  EXPECT_FALSE(p.Delay(0).has_value());
}

}  // namespace
}  // namespace labvirt::engine
