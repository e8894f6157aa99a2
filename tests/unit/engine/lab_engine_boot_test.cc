// LabEngine boots without libvirt (the fixture: lab_engine_boot_fixture.h).
//
// What is tested: boot retries (failure pattern with action restart, idle timeout) through the
// node state machine — restart then ready, restart then failed — holding the admission slot;
// adopting a node whose boot printed its readiness text while labvirtd was down.
#include "tests/unit/engine/lab_engine_boot_fixture.h"

namespace labvirt::engine {
namespace {

using namespace std::chrono_literals;

TEST_F(LabEngineBootTest, APanicRestartsTheBootHoldingItsSlotThenItIsReady) {
  Deploy({"h1", "h2"});
  ASSERT_TRUE(Booting("h1", 1)) << NodeJson("h1");
  EXPECT_TRUE(InState("h2", "queued")) << "budget 1: h2 waits";
  EXPECT_TRUE(Has(NodeJson("h2"),
                  R"("queued":true,"queued_reason":{"reason":"ceiling","in_use":1,"weight":1,)"))
      << NodeJson("h2");
  EXPECT_TRUE(Has(NodeJson("h1"), R"("queued":false,"queued_reason":null,)")) << NodeJson("h1");
  std::string d1 = Domain("h1");
  ASSERT_TRUE(hv_->Console(d1, kPanic));
  ASSERT_TRUE(Booting("h1", 2)) << NodeJson("h1");
  EXPECT_EQ(hv_->domain_starts[d1], 2);
  EXPECT_EQ(hv_->domain_destroys[d1], 1);
  EXPECT_TRUE(InState("h2", "queued")) << "the retry kept the slot: " << NodeJson("h2");
  EXPECT_EQ(Transitions("h1"),
            (std::vector<std::string>{"defined>queued", "queued>starting", "starting>booting",
                                      "booting>starting", "starting>booting"}))
      << Joined(Transitions("h1"));
  bool retry_reason = false;
  for (const auto& ev : events_) {
    retry_reason |= ev.type == "node.state" && ev.node == "h1" &&
                    Has(ev.data_json, "restarting for boot attempt 2 (kernel_panic");
  }
  EXPECT_TRUE(retry_reason);
  // The second attempt's console is read (the late stopped event of the first VM did not close it).
  ASSERT_TRUE(hv_->Console(d1, kLogin));
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "ready"); })) << NodeJson("h1");
  EXPECT_TRUE(Has(NodeJson("h1"), R"("attempt":2,)")) << NodeJson("h1");
  ASSERT_TRUE(Booting("h2", 1)) << "h1's slot went to h2 once h1 was ready: " << NodeJson("h2");
}

TEST_F(LabEngineBootTest, DestroyingALabStartsNoneOfItsQueuedNodes) {
  Deploy({"h1", "h2", "h3"});
  ASSERT_TRUE(Booting("h1", 1)) << NodeJson("h1");
  ASSERT_TRUE(InState("h2", "queued") && InState("h3", "queued"));
  std::string d2 = Domain("h2"), d3 = Domain("h3");
  std::optional<Result<std::string>> got;
  // h1's released slot admits h2, h2's admits h3, while each is being destroyed.
  engine_->Destroy("h", [&](Result<std::string> r) { got = r; });
  ASSERT_TRUE(RunUntil([&] { return got.has_value(); }));
  ASSERT_TRUE(got->ok()) << got->status().ToString();
  reactor_->RunUntilIdle();
  EXPECT_EQ(hv_->domain_starts[d2], 0);
  EXPECT_EQ(hv_->domain_starts[d3], 0);
  EXPECT_FALSE(hv_->Running(d2) || hv_->Running(d3));
}

// The default rule: a node gives its weight back once booting, and a retry takes it back at once.
class LabEngineBootSlotTest : public LabEngineBootTest {
 protected:
  void SetUp() override {
    slot_ = BootSlot::kBooting;
    LabEngineBootTest::SetUp();
  }
};

TEST_F(LabEngineBootSlotTest, TheNextNodeStartsOnceOneIsBootingAndARetryDoesNotWait) {
  Deploy({"h1", "h2", "h3"});
  ASSERT_TRUE(Booting("h1", 1)) << NodeJson("h1");
  ASSERT_TRUE(Booting("h2", 1)) << "h1 booting gave its slot to h2: " << NodeJson("h2");
  ASSERT_TRUE(Booting("h3", 1)) << NodeJson("h3");
  std::string d1 = Domain("h1");
  ASSERT_TRUE(hv_->Console(d1, kPanic));
  ASSERT_TRUE(Booting("h1", 2)) << "the retry did not queue: " << NodeJson("h1");
  EXPECT_EQ(Transitions("h1"),
            (std::vector<std::string>{"defined>queued", "queued>starting", "starting>booting",
                                      "booting>starting", "starting>booting"}))
      << Joined(Transitions("h1"));
  ASSERT_TRUE(hv_->Console(d1, kLogin));
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "ready"); })) << NodeJson("h1");
}

// Host readings of a test's choosing (HostReadingsSource is the seam).
class FixedReadings : public HostReadingsSource {
 public:
  explicit FixedReadings(HostReadings r) : r_(r) {}
  HostReadings Read(reactor::TimePoint) override { return r_; }

 private:
  HostReadings r_;
};

TEST_F(LabEngineBootSlotTest, TooBigForTheHostIsRefusedUpFrontUnlessForced) {
  HostReadings r;
  r.sampled = r.meminfo = true;
  r.mem_total_mib = 2048 + 1024;  // two linux nodes (1024 MiB each) and the default reserve...
  r.mem_available_mib = 1024 + 1024 + 512;  // ...but only one fits what is free now
  engine_->WatchHost(std::make_unique<FixedReadings>(r));
  std::string three = R"({"lab":"h","nodes":[{"name":"h1","kind":"linux","image":"base.qcow2"},)"
                      R"({"name":"h2","kind":"linux","image":"base.qcow2"},)"
                      R"({"name":"h3","kind":"linux","image":"base.qcow2"}]})";
  auto doc = parser_.parse(three);
  auto spec = ParseLabSpec(doc.value());
  ASSERT_TRUE(spec.ok());
  std::optional<Result<std::string>> got;
  engine_->Deploy(*spec, false, [&](Result<std::string> res) { got = res; });
  ASSERT_TRUE(RunUntil([&] { return got.has_value(); }));
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->status().message(),
            "the nodes to start need 3072 MiB of RAM; this host has 3072 MiB (MemTotal) - 1024 MiB "
            "(--mem-reserve) = 2048 MiB; deploy with force: true to queue them anyway");
  EXPECT_EQ(engine_->GetNode("h", "h1").status().code(), StatusCode::kNotFound) << "nothing made";

  Deploy({"h1", "h2", "h3"}, "", /*force=*/true);
  ASSERT_TRUE(Booting("h1", 1)) << NodeJson("h1");
  // h1's RAM is in flight until it is ready: h2 waits for memory, h3 behind it.
  EXPECT_TRUE(Has(NodeJson("h2"), R"("queued_reason":{"reason":"memory","need_mib":2048,)"
                                  R"("available_mib":1536,"node_mib":1024,"reserve_mib":1024,)"
                                  R"("in_flight_mib":1024})"))
      << NodeJson("h2");
  EXPECT_TRUE(Has(NodeJson("h3"), R"("queued_reason":{"reason":"memory",)")) << NodeJson("h3");
  ASSERT_TRUE(hv_->Console(Domain("h1"), kLogin));
  ASSERT_TRUE(Booting("h2", 1)) << "h1 ready: its RAM is no longer in flight: " << NodeJson("h2");
}

TEST_F(LabEngineBootSlotTest, ASecondLabThatCannotFitBesideTheFirstIsRefusedUpFront) {
  HostReadings r;
  r.sampled = r.meminfo = true;
  r.mem_total_mib = 2048 + 1024;  // room for two linux nodes (1024 MiB each) beside the reserve
  r.mem_available_mib = r.mem_total_mib;
  engine_->WatchHost(std::make_unique<FixedReadings>(r));
  Deploy({"h1"});
  std::string two = R"({"lab":"g","nodes":[{"name":"g1","kind":"linux","image":"base.qcow2"},)"
                    R"({"name":"g2","kind":"linux","image":"base.qcow2"}]})";
  auto doc = parser_.parse(two);
  auto spec = ParseLabSpec(doc.value());
  ASSERT_TRUE(spec.ok());
  std::optional<Result<std::string>> got;
  engine_->Deploy(*spec, false, [&](Result<std::string> res) { got = res; });
  ASSERT_TRUE(RunUntil([&] { return got.has_value(); }));
  ASSERT_FALSE(got->ok()) << "two more beside h1 would leave one of them queued for memory";
  EXPECT_EQ(got->status().message(),
            "the nodes to start need 2048 MiB of RAM beside the 1024 MiB of nodes already running "
            "or queued; this host has 3072 MiB (MemTotal) - 1024 MiB (--mem-reserve) = 2048 MiB; "
            "deploy with force: true to queue them anyway");
  EXPECT_EQ(engine_->GetNode("g", "g1").status().code(), StatusCode::kNotFound) << "nothing made";
}

TEST_F(LabEngineBootTest, APanicOnEveryAttemptFailsTheNodeAndFreesItsSlot) {
  Deploy({"h1", "h2"});
  ASSERT_TRUE(Booting("h1", 1));
  std::string d1 = Domain("h1");
  ASSERT_TRUE(hv_->Console(d1, kPanic));
  ASSERT_TRUE(Booting("h1", 2));
  ASSERT_TRUE(hv_->Console(d1, kPanic));
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "failed"); })) << NodeJson("h1");
  std::string j = NodeJson("h1");
  EXPECT_TRUE(Has(j, "boot failed: kernel_panic") && Has(j, "no retries left after 2 attempts"))
      << j;
  EXPECT_TRUE(hv_->Running(d1)) << "the failed boot's VM stays up for its console";
  EXPECT_EQ(hv_->domain_starts[d1], 2);
  ASSERT_TRUE(Booting("h2", 1)) << "the slot was released: " << NodeJson("h2");
}

TEST_F(LabEngineBootTest, AnIdleTimeoutRestartsTheBoot) {
  Deploy({"h1"}, R"(,"idle_timeout_s":30)");
  ASSERT_TRUE(Booting("h1", 1));
  std::string d1 = Domain("h1");
  ASSERT_TRUE(hv_->Console(d1, "Linux version 6.1.0\r\n"));
  ASSERT_TRUE(RunUntil([&] { return Has(NodeJson("h1"), R"("percent":10)"); }));
  clock_.Advance(31s);
  ASSERT_TRUE(Booting("h1", 2)) << NodeJson("h1");
  EXPECT_EQ(hv_->domain_starts[d1], 2);
  bool idle_reason = false;
  for (const auto& ev : events_) {
    idle_reason |= ev.type == "node.readiness.restart_requested" && Has(ev.data_json, "idle");
  }
  EXPECT_TRUE(idle_reason);
  // The second attempt's idle timeout counts from its own start.
  clock_.Advance(29s);
  reactor_->RunUntilIdle();
  EXPECT_TRUE(InState("h1", "booting", 2)) << NodeJson("h1");
  ASSERT_TRUE(hv_->Console(d1, kLogin));
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "ready"); })) << NodeJson("h1");
}

TEST_F(LabEngineBootTest, AnOverallTimeoutOnTheLastAttemptFailsTheNode) {
  Deploy({"h1"});
  ASSERT_TRUE(Booting("h1", 1));
  clock_.Advance(301s);  // linux: overall 300 s
  ASSERT_TRUE(Booting("h1", 2)) << NodeJson("h1");
  clock_.Advance(301s);
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "failed"); })) << NodeJson("h1");
  EXPECT_TRUE(Has(NodeJson("h1"), "(overall timeout); no retries left after 2 attempts"))
      << NodeJson("h1");
}

TEST_F(LabEngineBootTest, StartingANodeWhoseFailedBootLeftItsVmUpBootsAfresh) {
  Deploy({"h1"});
  ASSERT_TRUE(FailBothBoots("h1")) << NodeJson("h1");
  std::string d1 = Domain("h1");
  ASSERT_TRUE(hv_->Running(d1));
  std::optional<Result<std::string>> got;
  engine_->StartNode("h", "h1", /*wait=*/true, [&](Result<std::string> r) { got = r; });
  // Started again without "domain is already running": the old VM went first.
  ASSERT_TRUE(Booting("h1", 3, /*attempt=*/1)) << "a fresh boot: " << NodeJson("h1");
  EXPECT_EQ(hv_->domain_destroys[d1], 2);
  ASSERT_TRUE(hv_->Console(d1, kLogin));
  ASSERT_TRUE(RunUntil([&] { return got.has_value(); }));
  EXPECT_TRUE(InState("h1", "ready")) << NodeJson("h1");
}

TEST_F(LabEngineBootTest, WhatTheGuestPrintsBeforeTheResumeAnswerCounts) {
  hv_->hold_resume = true;  // libvirt answers the resume after the guest already printed
  Deploy({"h1"});
  ASSERT_TRUE(RunUntil([&] { return !hv_->held_resume.empty(); }));
  std::string d1 = Domain("h1");
  ASSERT_TRUE(hv_->Console(d1, std::string("Linux version 6.1.0\r\n") + kLogin));
  ASSERT_TRUE(RunUntil([&] {
    ConsoleHub* hub = engine_->Console("h", "h1");
    return hub != nullptr && hub->bytes_read() >= 30;
  }));
  hv_->hold_resume = false;
  for (auto& done : hv_->held_resume) done(Status::Ok());
  hv_->held_resume.clear();
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "ready"); })) << NodeJson("h1");
}

TEST_F(LabEngineBootTest, AQemuGoneRightAfterItsStartIsStartedAgain) {
  hv_->vanish_starts = 1;  // the first start answers OK, its PTY already gone
  Deploy({"h1"});
  std::string d1 = Domain("h1");
  ASSERT_TRUE(RunUntil([&] {
    clock_.Advance(100ms);  // the retry's pause
    return hv_->Running(d1);
  })) << NodeJson("h1");
  EXPECT_EQ(hv_->domain_starts[d1], 2);
  ASSERT_TRUE(hv_->Console(d1, kLogin));
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "ready"); })) << NodeJson("h1");
}

TEST_F(LabEngineBootTest, AQemuThatKeepsVanishingFailsTheNodeNamingItsConsole) {
  hv_->vanish_starts = 100;
  Deploy({"h1"});
  std::string d1 = Domain("h1");
  ASSERT_TRUE(RunUntil([&] {
    clock_.Advance(100ms);
    return InState("h1", "failed");
  })) << NodeJson("h1");
  EXPECT_EQ(hv_->domain_starts[d1], 3) << "the first start and two more";
  EXPECT_NE(NodeJson("h1").find("console: open console /dev/pts/"), std::string::npos)
      << NodeJson("h1");
}

// Issue 19: labvirtd killed right after a node became ready, before its metadata said so. The
// guest printed its readiness text while nobody read the PTY; only virtlogd's log has it (here
// the test writes the log). The restarted daemon adopts the node from the log, not the PTY.
TEST_F(LabEngineBootTest, AnAdoptedNodeWhoseLogHoldsThisBootsReadinessTextIsReady) {
  AppendToLog("h1", "an earlier boot, shut down before its prompt\r\n");
  Deploy({"h1"});
  ASSERT_TRUE(Booting("h1", 1)) << NodeJson("h1");
  std::string domain = Domain("h1");
  EXPECT_TRUE(Has(hv_->metadata[domain], "<labvirt:boot domain-id=")) << hv_->metadata[domain];
  AppendToLog("h1", std::string("[    0.90] Run /sbin/init\r\n") + kLogin);
  ASSERT_TRUE(RestartEngine());
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "ready"); })) << NodeJson("h1");
  EXPECT_EQ(hv_->domain_starts[domain], 1) << "adopted, not started again";
  EXPECT_TRUE(Has(NodeJson("h1"), "login:")) << "matched the logged prompt: " << NodeJson("h1");
}

// The log is appended across boots: a prompt printed before this boot's mark is not this boot's.
TEST_F(LabEngineBootTest, AnAdoptedNodeWhoseLogHasOnlyAnEarlierBootsPromptWaitsForItsOwn) {
  AppendToLog("h1", std::string("an earlier boot") + kLogin);
  Deploy({"h1"});
  ASSERT_TRUE(Booting("h1", 1)) << NodeJson("h1");
  AppendToLog("h1", "[    0.90] Run /sbin/init\r\n");
  ASSERT_TRUE(RestartEngine());
  // The log is read before the node is booting again: booting here means it did not match.
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "booting") || InState("h1", "ready"); }));
  EXPECT_TRUE(InState("h1", "booting")) << NodeJson("h1");
  ASSERT_TRUE(hv_->Console(Domain("h1"), kLogin));
  EXPECT_TRUE(RunUntil([&] { return InState("h1", "ready"); })) << NodeJson("h1");
}

// A VM started again outside labvirt while labvirtd was down is another run (another libvirt
// id) than the one the mark was taken for: the log after the mark is the earlier run's.
TEST_F(LabEngineBootTest, AnAdoptedNodeStartedOutsideLabvirtDoesNotTakeTheMarkedRunsPrompt) {
  Deploy({"h1"});
  ASSERT_TRUE(Booting("h1", 1)) << NodeJson("h1");
  std::string domain = Domain("h1");
  AppendToLog("h1", kLogin);
  engine_.reset();
  bool off = false, on = false;
  hv_->Destroy(domain, [&](Status) { off = true; });
  ASSERT_TRUE(RunUntil([&] { return off && !hv_->Running(domain); }));
  hv_->Start(domain, false, [&](Status st) { on = st.ok(); });
  ASSERT_TRUE(RunUntil([&] { return on; }));
  ASSERT_TRUE(RestartEngine());
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "booting") || InState("h1", "ready"); }));
  EXPECT_TRUE(InState("h1", "booting")) << NodeJson("h1");
}

// Domain events find their node through the store's index (issue 20): a VM powered off outside
// labvirt stops its own node only, whether the node was deployed or adopted by a restarted
// labvirtd.
TEST_F(LabEngineBootTest, AVmPoweredOffOutsideLabvirtStopsItsOwnNodeOnly) {
  Deploy({"h1", "h2"});
  ASSERT_TRUE(Booting("h1", 1)) << NodeJson("h1");
  ASSERT_TRUE(hv_->Console(Domain("h1"), kLogin));
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "ready"); })) << NodeJson("h1");
  ASSERT_TRUE(Booting("h2", 1)) << NodeJson("h2");
  ASSERT_TRUE(hv_->Console(Domain("h2"), kLogin));
  ASSERT_TRUE(RunUntil([&] { return InState("h2", "ready"); })) << NodeJson("h2");
  bool off = false;
  hv_->Destroy(Domain("h1"), [&](Status) { off = true; });
  ASSERT_TRUE(RunUntil([&] { return off && !InState("h1", "ready"); })) << NodeJson("h1");
  EXPECT_TRUE(InState("h2", "ready")) << NodeJson("h2");

  ASSERT_TRUE(RestartEngine());
  ASSERT_TRUE(RunUntil([&] { return InState("h2", "ready"); })) << NodeJson("h2");
  off = false;
  hv_->Destroy(Domain("h2"), [&](Status) { off = true; });
  EXPECT_TRUE(RunUntil([&] { return off && !InState("h2", "ready"); }))
      << "the adopted node saw its VM stop: " << NodeJson("h2");
}

}  // namespace
}  // namespace labvirt::engine
