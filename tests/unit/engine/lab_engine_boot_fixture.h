// The fixture of the LabEngine boot tests (lab_engine_boot_test.cc, lab_engine_stop_test.cc):
// the real engine, readiness tracker and console hub, with the fake hypervisor of tests/support in
// its PTY mode: "VMs" are real PTY pairs (the test writes the guest's console into the master
// side) and Destroy reports the stopped event after its answer, the order libvirt may use. Time is
// a manual clock, so idle and overall timeouts fire when the test says. One boot at a time.
#ifndef LABVIRT_TESTS_UNIT_ENGINE_LAB_ENGINE_BOOT_FIXTURE_H_
#define LABVIRT_TESTS_UNIT_ENGINE_LAB_ENGINE_BOOT_FIXTURE_H_

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "engine/control/lab_spec.h"
#include "engine/control/rpc_status.h"
#include "engine/lab/lab_engine.h"
#include "gtest/gtest.h"
#include "tests/support/fake_hypervisor.h"
#include "tests/unit/engine/lab_engine_fixture.h"

namespace labvirt::engine {

inline constexpr char kPanic[] =
    "[    1.20] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n";
inline constexpr char kLogin[] = "\r\ndebian login: ";

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
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
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

}  // namespace labvirt::engine

#endif  // LABVIRT_TESTS_UNIT_ENGINE_LAB_ENGINE_BOOT_FIXTURE_H_
