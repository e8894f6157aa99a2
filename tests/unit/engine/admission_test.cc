#include "engine/lab/admission.h"

#include "engine/lab/node_state.h"
#include "engine/lab/restart_policy.h"
#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

AdmissionLimits Ceiling(double ceiling, BootSlot slot = BootSlot::kReady) {
  AdmissionLimits l;
  l.ceiling = ceiling;
  l.slot = slot;
  return l;
}

// A quiet host with `available_mib` free of `total_mib`; tests raise what their gate reads.
HostReadings Quiet(int64_t available_mib = 16384, int64_t total_mib = 24576) {
  HostReadings r;
  r.sampled = true;
  r.psi = true;
  r.meminfo = true;
  r.mem_available_mib = available_mib;
  r.mem_total_mib = total_mib;
  return r;
}

// Requests `key` and records its admission in `log`.
void Ask(Admission& a, const std::string& key, double weight, int64_t mem_mib,
         std::vector<std::string>& log) {
  ASSERT_TRUE(a.Request(key, weight, mem_mib, [&log, key] { log.push_back(key); }));
}

TEST(AdmissionTest, AdmitsUpToBudgetThenQueuesInOrder) {
  Admission a(Ceiling(2.0));
  std::vector<std::string> admitted;
  for (std::string k : {"r1", "r2", "r3", "r4"}) {
    ASSERT_TRUE(a.Request(k, 1.0, 0, [&, k] { admitted.push_back(k); }));
  }
  EXPECT_EQ(admitted, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(a.Queue(), (std::vector<std::string>{"r3", "r4"}));
  a.Release("r2");
  EXPECT_EQ(admitted, (std::vector<std::string>{"r1", "r2", "r3"}));
  a.Release("r2");  // twice: ignored
  EXPECT_DOUBLE_EQ(a.in_use(), 2.0);
}

TEST(AdmissionTest, HeavyHeadIsNotOvertaken) {
  Admission a(Ceiling(4.0));
  std::vector<std::string> admitted;
  a.Request("small1", 1, 0, [&] { admitted.push_back("small1"); });
  a.Request("heavy", 4, 0, [&] { admitted.push_back("heavy"); });
  a.Request("small2", 1, 0, [&] { admitted.push_back("small2"); });
  EXPECT_EQ(admitted, (std::vector<std::string>{"small1"}));  // small2 waits behind heavy
  a.Release("small1");
  EXPECT_EQ(admitted, (std::vector<std::string>{"small1", "heavy"}));
  a.Release("heavy");
  EXPECT_EQ(admitted.back(), "small2");
}

TEST(AdmissionTest, HeavierThanBudgetBootsAlone) {
  Admission a(Ceiling(2.0));
  bool big = false, after = false;
  a.Request("xrv9k", 8, 0, [&] { big = true; });
  a.Request("r1", 1, 0, [&] { after = true; });
  EXPECT_TRUE(big);
  EXPECT_FALSE(after);
  a.Release("xrv9k");
  EXPECT_TRUE(after);
}

TEST(AdmissionTest, DuplicateKeyRefusedAndQueuedReleaseDrops) {
  Admission a(Ceiling(1.0));
  a.Request("r1", 1, 0, [] {});
  EXPECT_FALSE(a.Request("r1", 1, 0, [] {}));
  bool r2 = false;
  a.Request("r2", 1, 0, [&] { r2 = true; });
  a.Release("r2");  // drop from queue
  EXPECT_FALSE(a.IsQueued("r2"));
  a.Release("r1");
  EXPECT_FALSE(r2);
}

TEST(AdmissionTest, CallbackMayRequestAgain) {
  Admission a(Ceiling(1.0));
  int n = 0;
  a.Request("a", 1, 0, [&] {
    ++n;
    a.Release("a");
    a.Request("b", 1, 0, [&] { ++n; });
  });
  EXPECT_EQ(n, 2);
}

TEST(AdmissionTest, DefaultCeilingIsFourPerCore) {
  Admission a(AdmissionLimits{});
  EXPECT_DOUBLE_EQ(a.limits().ceiling, DefaultBootCeiling());
  EXPECT_GE(a.limits().ceiling, 4.0);
  EXPECT_EQ(a.limits().slot, BootSlot::kBooting);
}

TEST(AdmissionTest, SlotAtBootingFreesTheWeightButNotTheMemory) {
  Admission a(Ceiling(1, BootSlot::kBooting));
  a.SetReadings(Quiet(/*available_mib=*/1024 + 512 + 512 + 100));
  std::vector<std::string> log;
  Ask(a, "r1", 1, 512, log);
  Ask(a, "r2", 1, 512, log);
  EXPECT_EQ(log, (std::vector<std::string>{"r1"}));
  a.Booting("r1");
  EXPECT_EQ(log, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_DOUBLE_EQ(a.in_use(), 1.0);       // r2's weight only
  EXPECT_EQ(a.mem_in_flight_mib(), 1024);  // r1 still booting: its RAM still counts
  a.Booting("r1");                         // twice: ignored
  EXPECT_DOUBLE_EQ(a.in_use(), 1.0);
  a.Release("r1");
  EXPECT_EQ(a.mem_in_flight_mib(), 512);
}

TEST(AdmissionTest, SlotAtReadyKeepsTheWeightUntilRelease) {
  Admission a(Ceiling(1, BootSlot::kReady));
  std::vector<std::string> log;
  Ask(a, "r1", 1, 0, log);
  Ask(a, "r2", 1, 0, log);
  a.Booting("r1");
  EXPECT_EQ(log, (std::vector<std::string>{"r1"}));
  EXPECT_EQ(a.QueuedReasonJson("r2"), R"({"reason":"ceiling","in_use":1,"weight":1,"ceiling":1})");
  a.Release("r1");
  EXPECT_EQ(log, (std::vector<std::string>{"r1", "r2"}));
}

TEST(AdmissionTest, RetryTakesItsWeightBackAtOnceOverTheCeiling) {
  Admission a(Ceiling(1, BootSlot::kBooting));
  std::vector<std::string> log;
  Ask(a, "r1", 1, 0, log);
  a.Booting("r1");
  Ask(a, "r2", 1, 0, log);  // r1 booting: r2 starts
  a.Readmit("r1", 1, 0);    // r1's boot is retried: it does not wait behind anyone
  EXPECT_DOUBLE_EQ(a.in_use(), 2.0);
  Ask(a, "r3", 1, 0, log);
  EXPECT_TRUE(a.IsQueued("r3"));
  a.Booting("r1");
  a.Booting("r2");
  EXPECT_EQ(log, (std::vector<std::string>{"r1", "r2", "r3"}));
}

TEST(AdmissionTest, MemoryGateCountsBootsInFlightAndTheReserve) {
  AdmissionLimits l = Ceiling(8);
  l.mem_reserve_mib = 1000;
  Admission a(l);
  a.SetReadings(Quiet(/*available_mib=*/4000));
  std::vector<std::string> log;
  Ask(a, "big1", 1, 2000, log);
  Ask(a, "big2", 1, 2000, log);  // 4000 - 2000 in flight = 2000 < 2000 + 1000
  EXPECT_EQ(log, (std::vector<std::string>{"big1"}));
  EXPECT_EQ(a.QueuedReasonJson("big2"),
            R"({"reason":"memory","need_mib":3000,"available_mib":2000,"node_mib":2000,)"
            R"("reserve_mib":1000,"in_flight_mib":2000})");
  HostReadings more = Quiet(5000);
  a.SetReadings(more);  // 5000 - 2000 = 3000: fits exactly
  EXPECT_EQ(log, (std::vector<std::string>{"big1", "big2"}));
}

TEST(AdmissionTest, PressureGatesHoldBackAndOneHundredIsOff) {
  AdmissionLimits l = Ceiling(8);
  l.cpu_pressure = 60;
  l.mem_pressure = 10;
  Admission a(l);
  HostReadings r = Quiet();
  r.cpu_recent = 75;
  r.cpu_avg10 = 20;  // the gate reads the recent share, not avg10
  a.SetReadings(r);
  std::vector<std::string> log;
  Ask(a, "r1", 1, 0, log);  // nothing in flight: admitted whatever the pressure
  Ask(a, "r2", 1, 0, log);
  EXPECT_EQ(log, (std::vector<std::string>{"r1"}));
  EXPECT_EQ(a.QueuedReasonJson("r2"), R"({"reason":"cpu_pressure","value":75,"limit":60})");
  r.cpu_recent = 10;
  r.mem_recent = 12.5;
  a.SetReadings(r);
  EXPECT_EQ(a.QueuedReasonJson("r2"), R"({"reason":"memory_pressure","value":12.5,"limit":10})");
  r.mem_recent = 0;
  a.SetReadings(r);
  EXPECT_EQ(log, (std::vector<std::string>{"r1", "r2"}));

  AdmissionLimits off = Ceiling(8);
  off.cpu_pressure = 100;
  off.mem_pressure = 100;
  Admission b(off);
  HostReadings full = Quiet();
  full.cpu_recent = full.mem_recent = 100;
  b.SetReadings(full);
  std::vector<std::string> blog;
  Ask(b, "r1", 1, 0, blog);
  Ask(b, "r2", 1, 0, blog);
  EXPECT_EQ(blog.size(), 2u);
}

TEST(AdmissionTest, LibvirtQueueGate) {
  AdmissionLimits l = Ceiling(8);
  l.libvirt_queue = 2;
  Admission a(l);
  HostReadings r = Quiet();
  r.libvirt_queued = 3;
  a.SetReadings(r);
  std::vector<std::string> log;
  Ask(a, "r1", 1, 0, log);
  Ask(a, "r2", 1, 0, log);
  EXPECT_EQ(a.QueuedReasonJson("r2"), R"({"reason":"libvirt_queue","value":3,"limit":2})");
  r.libvirt_queued = 2;
  a.SetReadings(r);
  EXPECT_EQ(log, (std::vector<std::string>{"r1", "r2"}));
}

TEST(AdmissionTest, NothingInFlightAdmitsTheHeadWhateverTheGates) {
  AdmissionLimits l = Ceiling(8);
  l.cpu_pressure = 50;
  Admission a(l);
  HostReadings r = Quiet(/*available_mib=*/100);  // less than any node needs
  r.cpu_recent = 99;
  r.libvirt_queued = 100;
  a.SetReadings(r);
  std::vector<std::string> log;
  Ask(a, "r1", 1, 4096, log);
  Ask(a, "r2", 1, 4096, log);
  EXPECT_EQ(log, (std::vector<std::string>{"r1"}));  // the host would otherwise wait forever
  a.Release("r1");
  EXPECT_EQ(log, (std::vector<std::string>{"r1", "r2"}));
}

TEST(AdmissionTest, ReasonsPerQueuedNodeAndCounts) {
  AdmissionLimits l = Ceiling(2);
  l.mem_reserve_mib = 0;
  Admission a(l);
  a.SetReadings(Quiet(/*available_mib=*/3000));
  std::vector<std::string> log;
  Ask(a, "a", 2, 1000, log);
  Ask(a, "b", 1, 4000, log);                   // blocked by the ceiling first
  EXPECT_EQ(a.QueuedReasonJson("a"), "null");  // admitted, not queued
  EXPECT_NE(a.QueuedReasonJson("b").find(R"("reason":"ceiling")"), std::string::npos);
  a.Booting("a");  // slot at ready (Ceiling's default here): still held
  auto counts = a.QueuedByReason();
  EXPECT_EQ(counts["ceiling"], 1);
  EXPECT_EQ(counts["memory"], 0);
  EXPECT_EQ(counts.size(), 6u);
  EXPECT_NE(a.ToJson().find(R"("queue":["b"])"), std::string::npos) << a.ToJson();
}

TEST(AdmissionTest, FitsHostComparesWithMemTotalMinusTheReserve) {
  AdmissionLimits l = Ceiling(8);
  l.mem_reserve_mib = 1024;
  Admission a(l);
  EXPECT_TRUE(a.FitsHost(1 << 30).ok()) << "no reading yet: nothing to refuse on";
  a.SetReadings(Quiet(/*available_mib=*/100, /*total_mib=*/4096));
  EXPECT_TRUE(a.FitsHost(3072).ok()) << "MemTotal, not MemAvailable: it is a refusal up front";
  Status st = a.FitsHost(3073);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(),
            "the nodes to start need 3073 MiB of RAM; this host has 4096 MiB (MemTotal) - 1024 MiB "
            "(--mem-reserve) = 3072 MiB; deploy with force: true to queue them anyway");
}

TEST(AdmissionTest, FitsHostCountsWhatOtherNodesAlreadyHold) {
  AdmissionLimits l = Ceiling(8);
  l.mem_reserve_mib = 1024;
  Admission a(l);
  a.SetReadings(Quiet(/*available_mib=*/100, /*total_mib=*/4096));
  EXPECT_TRUE(a.FitsHost(2048, 1024).ok());
  Status st = a.FitsHost(2048, 1025);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(),
            "the nodes to start need 2048 MiB of RAM beside the 1025 MiB of nodes already running "
            "or queued; this host has 4096 MiB (MemTotal) - 1024 MiB (--mem-reserve) = 3072 MiB; "
            "deploy with force: true to queue them anyway");
}

TEST(AdmissionTest, NoReadingsYetOnlyTheCeilingGates) {
  AdmissionLimits l = Ceiling(2);
  l.cpu_pressure = 1;
  Admission a(l);
  std::vector<std::string> log;
  Ask(a, "r1", 1, 1 << 20, log);
  Ask(a, "r2", 1, 1 << 20, log);
  EXPECT_EQ(log.size(), 2u);
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
