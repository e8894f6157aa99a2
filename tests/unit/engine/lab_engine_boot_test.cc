// LabEngine boots without libvirt: the real engine, readiness tracker and console hub, with the
// fake hypervisor of tests/support in its PTY mode: "VMs" are real PTY pairs (the test writes the
// guest's console into the master side) and Destroy reports the stopped event after its answer,
// the order libvirt may use.
// Time is a manual clock, so idle and overall timeouts fire when the test says.
//
// What is tested: boot retries (failure pattern with action restart, idle timeout) through the
// node state machine — restart then ready, restart then failed — holding the admission slot.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "engine/control/lab_spec.h"
#include "engine/control/rpc_status.h"
#include "engine/lab/lab_engine.h"
#include "gtest/gtest.h"
#include "tests/support/fake_hypervisor.h"
#include "tests/unit/engine/lab_engine_fixture.h"

namespace labvirt::engine {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const char kPanic[] = "[    1.20] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n";
const char kLogin[] = "\r\ndebian login: ";

class LabEngineBootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lvboot-" + std::to_string(::getpid()));
    ASSERT_TRUE(MakeImageRoot(dir_));
    reactor::ReactorOptions ro;
    ro.clock = &clock_;
    reactor_ = std::move(reactor::Reactor::Create(ro)).value();
    pool_ = std::make_unique<reactor::WorkerPool>(*reactor_, 2, 64);
    catalog_ = LoadShippedCatalog();
    ASSERT_NE(catalog_, nullptr);
    hv_ = std::make_unique<testing::FakeHypervisor>(*reactor_, testing::FakeDomains::kPty);
    MakeEngine();
    hv_->SetEventHandler([this](const providers::DomainEventInfo& ev) {
      if (engine_) engine_->OnDomainEvent(ev);
    });
  }
  void MakeEngine() {
    EngineOptions options;
    options.image_root = (dir_ / "images").string();
    options.state_dir = (dir_ / "state").string();
    // One boot at a time: a second node shows who holds the slot (until ready, unless a test
    // sets slot_ to the default rule).
    options.admission.ceiling = 1;
    options.admission.slot = slot_;
    engine_ = std::make_unique<LabEngine>(*reactor_, *pool_, *hv_, plumber_, *catalog_, options);
    engine_->SetEventSink([this](const EngineEvent& ev) { events_.push_back(ev); });
  }
  // labvirtd killed and started again: a new engine over the same running "VMs", which adopts
  // them from the metadata that had landed.
  bool RestartEngine() {
    engine_.reset();
    hv_->list_metadata = true;
    MakeEngine();
    bool done = false;
    engine_->Reconcile([&](Status st) {
      EXPECT_TRUE(st.ok()) << st.ToString();
      done = true;
    });
    return RunUntil([&] { return done; });
  }
  // Appends to `node`'s console log what virtlogd would have written there.
  void AppendToLog(const std::string& node, const std::string& text) {
    fs::path log = dir_ / "state/logs/h" / (node + ".console.log");
    fs::create_directories(log.parent_path());
    std::ofstream(log, std::ios::binary | std::ios::app) << text;
  }
  void TearDown() override {
    engine_.reset();
    pool_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Deploys lab "h" with linux nodes `names` (kind linux: failure "Kernel panic - not syncing"
  // with action restart, retries 1), each with `extra` JSON fields.
  void Deploy(const std::vector<std::string>& names, const std::string& extra = "",
              bool force = false) {
    std::string nodes;
    for (const auto& n : names) {
      if (!nodes.empty()) nodes += ",";
      nodes +=
          R"({"name":")" + n + R"(","kind":"linux","image":"base.qcow2","nics":1)" + extra + "}";
    }
    auto doc = parser_.parse(R"({"lab":"h","force":)" + std::string(force ? "true" : "false") +
                             R"(,"nodes":[)" + nodes + "]}");
    auto spec = ParseLabSpec(doc.value());
    ASSERT_TRUE(spec.ok());
    std::optional<Result<std::string>> got;
    engine_->Deploy((std::move(spec)).value(), false, [&](Result<std::string> r) { got = r; });
    ASSERT_TRUE(RunUntil([&] { return got.has_value(); }));
    ASSERT_TRUE(got->ok()) << ToRpcError(got->status()).data_json;
  }
  // Runs the loop until `done`, for up to 10 s of real time: PTY reads and the worker pool (the
  // overlays) complete on their own; timers move only with clock_.
  template <typename Pred>
  bool RunUntil(Pred done) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      reactor_->RunUntilIdle();
      if (done()) return true;
      if (reactor_->RunOnce(/*block=*/false) == 0) ::usleep(1000);
    }
    return done();
  }
  std::string NodeJson(const std::string& node) {
    auto r = engine_->GetNode("h", node);
    return r.ok() ? r.value() : "error";
  }
  bool Has(const std::string& text, const std::string& part) const {
    return text.find(part) != std::string::npos;
  }
  bool InState(const std::string& node, const std::string& state, int attempt = 0) {
    std::string j = NodeJson(node);
    return Has(j, R"("state":")" + state + R"(","reason")") &&
           (attempt == 0 || Has(j, R"("attempt":)" + std::to_string(attempt) + ","));
  }
  // Waits until `node` boots its `starts`th VM start, console reader attached, and checks that
  // node.get's readiness shows boot attempt `attempt` (0: the same number).
  bool Booting(const std::string& node, int starts, int attempt = 0) {
    std::string domain = Domain(node);
    if (!RunUntil([&] { return InState(node, "booting") && hv_->domain_starts[domain] == starts; }))
      return false;
    EXPECT_TRUE(InState(node, "booting", attempt == 0 ? starts : attempt)) << NodeJson(node);
    return true;
  }
  // Panics both boots of `node` (the first and its one retry) until the node is failed, the VM of
  // its last attempt left up.
  bool FailBothBoots(const std::string& node) {
    if (!Booting(node, 1)) return false;
    std::string domain = Domain(node);
    if (!hv_->Console(domain, kPanic) || !Booting(node, 2) || !hv_->Console(domain, kPanic)) {
      return false;
    }
    return RunUntil([&] { return InState(node, "failed"); });
  }
  std::string Domain(const std::string& node) {
    std::string j = NodeJson(node);
    auto at = j.find(R"("domain":")") + 10;
    return j.substr(at, j.find('"', at) - at);
  }
  // The node's "node.state" transitions, "from>to" each (not the record of its definition).
  std::vector<std::string> Transitions(const std::string& node) {
    std::vector<std::string> out;
    for (const auto& ev : events_) {
      if (ev.type != "node.state" || ev.node != node) continue;
      auto field = [&](const std::string& key) {
        auto at = ev.data_json.find("\"" + key + "\":\"") + key.size() + 4;
        return ev.data_json.substr(at, ev.data_json.find('"', at) - at);
      };
      if (!field("previous").empty()) out.push_back(field("previous") + ">" + field("state"));
    }
    return out;
  }
  std::string Joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += x + " ";
    return s;
  }

  BootSlot slot_ = BootSlot::kReady;
  fs::path dir_;
  reactor::ManualClock clock_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<reactor::WorkerPool> pool_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<testing::FakeHypervisor> hv_;
  NullPlumber plumber_;
  std::unique_ptr<LabEngine> engine_;
  std::vector<EngineEvent> events_;
  simdjson::dom::parser parser_;
};

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

}  // namespace
}  // namespace labvirt::engine
