// LabEngine stops without libvirt (the fixture: lab_engine_boot_fixture.h): a stop or restart
// that meets a boot in any of its steps — a boot retry, a failed boot's VM left up, a start still
// in flight at libvirt — leaves the node in the state asked for and no VM up behind it.
#include "tests/unit/engine/lab_engine_boot_fixture.h"

namespace labvirt::engine {
namespace {

TEST_F(LabEngineBootTest, AStopDuringABootRetryStopsTheNodeAndFreesTheSlot) {
  Deploy({"h1", "h2"});
  ASSERT_TRUE(Booting("h1", 1));
  hv_->hold_stopped = true;  // the retry waits for the destroyed VM's stopped event
  ASSERT_TRUE(hv_->Console(Domain("h1"), kPanic));
  ASSERT_TRUE(RunUntil([&] { return !hv_->held.empty(); }));
  ASSERT_TRUE(InState("h1", "starting")) << NodeJson("h1");
  std::optional<Result<std::string>> got;
  engine_->StopNode("h", "h1", /*force=*/false, 0, /*wait=*/true,
                    [&](Result<std::string> r) { got = r; });
  reactor_->RunUntilIdle();
  EXPECT_TRUE(InState("h1", "stopping")) << NodeJson("h1");
  hv_->ReleaseStopped();
  ASSERT_TRUE(RunUntil([&] { return got.has_value(); }));
  EXPECT_TRUE(InState("h1", "stopped")) << NodeJson("h1");
  EXPECT_EQ(hv_->domain_starts[Domain("h1")], 1) << "no retry after the stop";
  ASSERT_TRUE(Booting("h2", 1)) << NodeJson("h2");
}

TEST_F(LabEngineBootTest, StoppingANodeWhoseFailedBootLeftItsVmUpTurnsItOff) {
  Deploy({"h1"});
  ASSERT_TRUE(FailBothBoots("h1")) << NodeJson("h1");
  std::string d1 = Domain("h1");
  std::optional<Result<std::string>> got;
  engine_->StopNode("h", "h1", /*force=*/false, 0, /*wait=*/true,
                    [&](Result<std::string> r) { got = r; });
  ASSERT_TRUE(RunUntil([&] { return got.has_value(); }));
  EXPECT_TRUE(InState("h1", "stopped")) << NodeJson("h1");
  EXPECT_FALSE(hv_->Running(d1));
}

// node.stop while libvirt has not answered the paused start yet: the stop's force-off finds no
// VM, so the VM the start then makes must go when the start answers (found by the fault suite
// under TCG: a VM left up, paused, behind a node that said stopped).
TEST_F(LabEngineBootTest, AStopWhileTheStartIsInFlightTurnsTheNewVmOffWhenItAnswers) {
  hv_->hold_start = true;
  Deploy({"h1"});
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "starting"); })) << NodeJson("h1");
  std::string d1 = Domain("h1");
  std::optional<Result<std::string>> got;
  engine_->StopNode("h", "h1", /*force=*/false, 0, /*wait=*/true,
                    [&](Result<std::string> r) { got = r; });
  reactor_->RunUntilIdle();
  EXPECT_TRUE(InState("h1", "stopping")) << NodeJson("h1");
  hv_->ReleaseStarts();
  // No shutdown timeout passes (the clock is manual): the stop ends when the start answers.
  ASSERT_TRUE(RunUntil([&] { return got.has_value(); })) << NodeJson("h1");
  EXPECT_TRUE(InState("h1", "stopped")) << NodeJson("h1");
  EXPECT_FALSE(hv_->Running(d1));
  EXPECT_EQ(hv_->domain_destroys[d1], 1);
}

// The case as found: the stop, then a reconcile pass whose listing shows the domain off (its
// start in flight), which makes the node stopped; then the start answers with a running VM.
TEST_F(LabEngineBootTest, AReconcileDuringAStoppedNodesStartInFlightLeavesNoVmUp) {
  hv_->hold_start = true;
  Deploy({"h1"});
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "starting"); })) << NodeJson("h1");
  std::string d1 = Domain("h1");
  engine_->StopNode("h", "h1", /*force=*/false, 0, /*wait=*/false, [](Result<std::string>) {});
  reactor_->RunUntilIdle();
  hv_->list_metadata = true;
  bool reconciled = false;
  engine_->Reconcile([&](Status) { reconciled = true; });
  ASSERT_TRUE(RunUntil([&] { return reconciled; }));
  ASSERT_TRUE(InState("h1", "stopped")) << NodeJson("h1");
  hv_->ReleaseStarts();
  ASSERT_TRUE(RunUntil([&] { return hv_->domain_destroys[d1] == 1; })) << NodeJson("h1");
  reactor_->RunUntilIdle();
  EXPECT_FALSE(hv_->Running(d1));
  EXPECT_TRUE(InState("h1", "stopped")) << NodeJson("h1");
  EXPECT_TRUE(Has(NodeJson("h1"), R"("desired":"stopped")")) << NodeJson("h1");
}

// A start that fails after the stop: no VM, and the node is stopped rather than stopping forever.
TEST_F(LabEngineBootTest, AStopWhileTheStartIsInFlightEndsStoppedWhenTheStartFails) {
  hv_->hold_start = true;
  Deploy({"h1"});
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "starting"); })) << NodeJson("h1");
  std::optional<Result<std::string>> got;
  engine_->StopNode("h", "h1", /*force=*/false, 0, /*wait=*/true,
                    [&](Result<std::string> r) { got = r; });
  reactor_->RunUntilIdle();
  hv_->fail_starts = 1;
  hv_->ReleaseStarts();
  ASSERT_TRUE(RunUntil([&] { return got.has_value(); })) << NodeJson("h1");
  EXPECT_TRUE(InState("h1", "stopped")) << NodeJson("h1");
  EXPECT_FALSE(hv_->Running(Domain("h1")));
}

// node.restart while the start is in flight: the VM it makes is turned off and a fresh one boots.
TEST_F(LabEngineBootTest, ARestartWhileTheStartIsInFlightBootsAFreshVm) {
  hv_->hold_start = true;
  Deploy({"h1"});
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "starting"); })) << NodeJson("h1");
  std::string d1 = Domain("h1");
  engine_->RestartNode("h", "h1", /*wait=*/false, [](Result<std::string>) {});
  reactor_->RunUntilIdle();
  hv_->ReleaseStarts();
  ASSERT_TRUE(Booting("h1", 2, /*attempt=*/1)) << "a fresh boot: " << NodeJson("h1");
  EXPECT_EQ(hv_->domain_destroys[d1], 1);
  ASSERT_TRUE(hv_->Console(d1, kLogin));
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "ready"); })) << NodeJson("h1");
}

// A node being adopted by a restarted labvirtd is starting too, but its guest runs: a stop then
// asks the guest (ACPI), it does not pull the plug (found by the fault suite's `stopping` case).
TEST_F(LabEngineBootTest, AStopDuringAnAdoptionAsksTheRunningGuest) {
  Deploy({"h1"});
  ASSERT_TRUE(Booting("h1", 1));
  std::string d1 = Domain("h1");
  ASSERT_TRUE(hv_->Console(d1, kLogin));
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "ready"); })) << NodeJson("h1");
  hv_->hold_resume = true;  // the adoption stays at its last step: the node is starting
  ASSERT_TRUE(RestartEngine());
  ASSERT_TRUE(RunUntil([&] { return !hv_->held_resume.empty(); })) << NodeJson("h1");
  ASSERT_TRUE(InState("h1", "starting")) << "still being adopted: " << NodeJson("h1");
  std::optional<Result<std::string>> got;
  engine_->StopNode("h", "h1", /*force=*/false, 0, /*wait=*/true,
                    [&](Result<std::string> r) { got = r; });
  ASSERT_TRUE(RunUntil([&] { return got.has_value(); })) << NodeJson("h1");
  EXPECT_TRUE(InState("h1", "stopped")) << NodeJson("h1");
  EXPECT_TRUE(Has(NodeJson("h1"), "stopped (shutdown)")) << NodeJson("h1");
  EXPECT_EQ(hv_->domain_destroys[d1], 0) << "asked, not forced off";
}

// The same stop, with the adoption finishing (starting -> ready) before the stop begins: the
// ready transition does not answer the stop's caller, the node's stop does (fault suite,
// StopFaultTest on a container: `node.stop … wait` answered with the node still stopping).
TEST_F(LabEngineBootTest, AStopWaitingDuringAnAdoptionIsAnsweredByTheStopNotByTheAdoption) {
  Deploy({"h1"});
  ASSERT_TRUE(Booting("h1", 1));
  ASSERT_TRUE(hv_->Console(Domain("h1"), kLogin));
  ASSERT_TRUE(RunUntil([&] { return InState("h1", "ready"); })) << NodeJson("h1");
  hv_->hold_resume = true;
  ASSERT_TRUE(RestartEngine());
  ASSERT_TRUE(RunUntil([&] { return !hv_->held_resume.empty(); })) << NodeJson("h1");
  std::optional<Result<std::string>> got;
  engine_->StopNode("h", "h1", /*force=*/false, 0, /*wait=*/true,
                    [&](Result<std::string> r) { got = r; });
  hv_->hold_resume = false;
  for (auto& done : std::exchange(hv_->held_resume, {})) done(Status::Ok());
  ASSERT_TRUE(RunUntil([&] { return got.has_value(); })) << NodeJson("h1");
  ASSERT_TRUE(got->ok());
  EXPECT_TRUE(Has(**got, R"("state":"stopped")")) << "answered at: " << **got;
}

// lab.destroy while a node's start is still in flight at libvirt. The destroy's force-off finds no
// VM; the start then makes one that belongs to nobody, which must be turned off when the start
// answers instead of running on after its lab.
class LabEngineDestroyDuringStartTest : public LabEngineBootTest {
 protected:
  // Deploys h1 with its start held, destroys the lab, releases the start — before the destroy
  // goes on when `start_answers_first`, else once lab.destroy has answered — and waits until all
  // is done. Returns h1's domain.
  std::string DestroyWhileTheStartIsHeld(bool start_answers_first) {
    hv_->hold_start = true;
    Deploy({"h1"});
    EXPECT_TRUE(RunUntil([&] { return InState("h1", "starting"); })) << NodeJson("h1");
    std::string d1 = Domain("h1");
    std::optional<Result<std::string>> got;
    engine_->Destroy("h", [&](Result<std::string> r) { got = r; });
    if (start_answers_first) hv_->ReleaseStarts();  // answered before the destroy's undefine
    EXPECT_TRUE(RunUntil([&] { return got.has_value(); }));
    EXPECT_TRUE(got.has_value() && got->ok());
    EXPECT_EQ(hv_->defined.count(d1), 0u);
    if (!start_answers_first) hv_->ReleaseStarts();
    RunUntil([&] { return hv_->domain_destroys[d1] == 1; });
    reactor_->RunUntilIdle();
    return d1;
  }
};

// The start answers after lab.destroy: the node is gone by then (libvirt made the VM of a domain
// already undefined, a transient one).
TEST_F(LabEngineDestroyDuringStartTest, StartAnsweringAfterTheDestroyLeavesNoVmUp) {
  std::string d1 = DestroyWhileTheStartIsHeld(/*start_answers_first=*/false);
  EXPECT_EQ(hv_->domain_destroys[d1], 1);
  EXPECT_FALSE(hv_->Running(d1));
}

// The start answers first: libvirtd runs the destroy's undefine only once the start's job is
// over, so the answer reaches labvirtd while the node still exists, being destroyed (found by the
// fault suite under TCG: killed mid-destroy, the restarted labvirtd restarted the node as the
// same lab.destroy came again, and the node's VM ran on as a transient domain).
TEST_F(LabEngineDestroyDuringStartTest, StartAnsweringFirstLeavesNoVmUp) {
  std::string d1 = DestroyWhileTheStartIsHeld(/*start_answers_first=*/true);
  EXPECT_EQ(hv_->domain_starts[d1], 1);
  EXPECT_EQ(hv_->domain_destroys[d1], 1);
  EXPECT_FALSE(hv_->Running(d1)) << "a VM left up behind the destroyed lab";
}

}  // namespace
}  // namespace labvirt::engine
