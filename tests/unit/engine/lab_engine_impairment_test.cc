// Link impairments through the real engine with the fake hypervisor in its PTY mode (nodes really
// start: paused, console, plug, resume) and a plumber that records what it is asked to shape:
// which tap gets which direction, the NICs' metadata, a kernel refusal that leaves everything as
// it was, and the impairment applied again when an end restarts and when labvirtd restarts.
#include <simdjson.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>

#include "engine/control/lab_spec.h"
#include "engine/control/rpc_status.h"
#include "engine/lab/lab_engine.h"
#include "gtest/gtest.h"
#include "tests/support/fake_hypervisor.h"
#include "tests/unit/engine/lab_engine_fixture.h"

namespace labvirt::engine {
namespace {

using namespace std::chrono_literals;

// Ports are on the bridge from Plug to Unplug; SetImpairment is recorded, and refused for
// `refuse_tap` as a kernel without netem refuses.
class ShapingPlumber final : public NullPlumber {
 public:
  void Plug(const std::string& lab, const std::string& node, const std::vector<PortPlan>& ports,
            Done done) override {
    for (const auto& p : ports) owned.push_back({p.tap, lab, node, providers::kDefaultInstance});
    plugged.insert(plugged.end(), ports.begin(), ports.end());
    done(Status::Ok());
  }
  void Unplug(const std::string&, const std::string& node, Done done) override {
    std::erase_if(owned, [&](const PlumbedPort& p) { return p.node == node; });
    done(Status::Ok());
  }
  std::vector<PlumbedPort> OwnedPorts() const override { return owned; }
  void SetImpairment(const std::string& tap, const Impairment& imp, Done done) override {
    calls.push_back({tap, imp});
    if (tap == refuse_tap) return done(Internal("netem on " + tap + ": qdisc kind is unknown"));
    done(Status::Ok());
  }
  // The last impairment asked for `tap`; nullopt when never.
  std::optional<Impairment> Last(const std::string& tap) const {
    std::optional<Impairment> out;
    for (const auto& [t, imp] : calls)
      if (t == tap) out = imp;
    return out;
  }

  std::vector<PlumbedPort> owned;
  std::vector<PortPlan> plugged;  // every port Plug was given, in order
  std::vector<std::pair<std::string, Impairment>> calls;
  std::string refuse_tap;
};

const char kLink[] = "r1:GigabitEthernet0/0--r2:GigabitEthernet0/0";

class LabEngineImpairmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lvimpair-" + std::to_string(::getpid()));
    ASSERT_TRUE(MakeImageRoot(dir_));
    reactor_ = std::move(reactor::Reactor::Create()).value();
    pool_ = std::make_unique<reactor::WorkerPool>(*reactor_, 2, 64);
    catalog_ = LoadShippedCatalog();
    ASSERT_NE(catalog_, nullptr);
    hv_ = std::make_unique<testing::FakeHypervisor>(*reactor_, testing::FakeDomains::kPty);
    MakeEngine();
  }
  void TearDown() override {
    engine_.reset();
    pool_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // (Re)creates the engine: a labvirtd restart, the hypervisor's domains kept.
  void MakeEngine() {
    engine_.reset();
    EngineOptions options;
    options.image_root = (dir_ / "images").string();
    options.state_dir = (dir_ / "state").string();
    engine_ = std::make_unique<LabEngine>(*reactor_, *pool_, *hv_, plumber_, *catalog_, options);
    engine_->SetEventSink([this](const EngineEvent& ev) { events_.push_back(ev); });
    hv_->SetEventHandler(
        [this](const providers::DomainEventInfo& ev) { engine_->OnDomainEvent(ev); });
  }
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
  template <typename Verb>
  std::string Await(Verb verb) {
    std::optional<Result<std::string>> got;
    verb([&](Result<std::string> r) { got = std::move(r); });
    if (!RunUntil([&] { return got.has_value(); })) return "no reply";
    if (!got->ok()) return "error: " + ToRpcError(got->status()).data_json;
    return got->value();
  }
  std::string Node(const std::string& node) {
    auto r = engine_->GetNode("h", node);
    return r.ok() ? r.value() : "error";
  }
  bool Has(const std::string& text, const std::string& part) const {
    return text.find(part) != std::string::npos;
  }
  bool Booting(const std::string& node) {
    // The node's own state, not its readiness object's ("state":"booting" there too, from the
    // last boot, while a restart is still starting).
    return RunUntil([&] { return NodeState(node) == "booting"; });
  }
  std::string NodeState(const std::string& node) {
    simdjson::dom::parser parser;
    std::string_view state;
    if (parser.parse(Node(node))["state"].get(state) != simdjson::SUCCESS) return "";
    return std::string(state);
  }
  // A JSON string member of `json` after `after`.
  std::string Member(const std::string& json, const std::string& key, const std::string& after) {
    auto at = json.find(after);
    at = json.find("\"" + key + "\":\"", at == std::string::npos ? 0 : at) + key.size() + 4;
    return json.substr(at, json.find('"', at) - at);
  }
  std::string Tap(const std::string& node) { return Member(Node(node), "tap", R"("role":"data")"); }
  std::string Metadata(const std::string& node) {
    return hv_->metadata[Member(Node(node), "domain", "")];
  }
  void DeployAndBoot(
      const std::string& json =
          R"({"lab":"h","nodes":[{"name":"r1","kind":"iosv","image":"base.qcow2","nics":1},)"
          R"({"name":"r2","kind":"iosv","image":"base.qcow2","nics":1}],)"
          R"("links":[{"endpoints":["r1:eth1","r2:eth1"]}]})",
      const std::vector<std::string>& nodes = {"r1", "r2"}) {
    auto doc = parser_.parse(json);
    auto spec = ParseLabSpec(doc.value());
    ASSERT_TRUE(spec.ok());
    std::string deployed =
        Await([&](auto r) { engine_->Deploy(std::move(spec).value(), false, std::move(r)); });
    ASSERT_FALSE(Has(deployed, "error")) << deployed;
    for (const auto& n : nodes) ASSERT_TRUE(Booting(n)) << Node(n);
  }
  std::string Set(const Impairment& a_to_b, const Impairment& b_to_a) {
    return Await([&](auto r) { engine_->SetLinkImpairment("h", kLink, a_to_b, b_to_a, r); });
  }

  fs::path dir_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<reactor::WorkerPool> pool_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<testing::FakeHypervisor> hv_;
  ShapingPlumber plumber_;
  std::unique_ptr<LabEngine> engine_;
  std::vector<EngineEvent> events_;
  simdjson::dom::parser parser_;
};

TEST_F(LabEngineImpairmentTest, EachDirectionOnTheReceivingTapKeptInMetadata) {
  DeployAndBoot();
  Impairment delay, loss;
  delay.delay_ms = 20;
  loss.loss_pct = 1.5;
  std::string set = Set(delay, loss);
  EXPECT_TRUE(Has(set, R"("impairment":{"a_to_b":{"delay_ms":20},"b_to_a":{"loss_pct":1.5}})"))
      << set;
  EXPECT_EQ(plumber_.Last(Tap("r2")), delay) << "a->b frames leave through b's tap";
  EXPECT_EQ(plumber_.Last(Tap("r1")), loss);
  EXPECT_TRUE(Has(Metadata("r2"), "impairment='delay_ms=20'")) << Metadata("r2");
  EXPECT_TRUE(Has(Metadata("r1"), "impairment='loss_pct=1.5'")) << Metadata("r1");
  EXPECT_TRUE(Has(engine_->GetLab("h").value(), R"("a_to_b":{"delay_ms":20})"));
  bool event = false;
  for (const auto& ev : events_) event |= ev.type == "link.impairment";
  EXPECT_TRUE(event);

  std::string unknown =
      Await([&](auto r) { engine_->SetLinkImpairment("h", "x--y", delay, loss, r); });
  EXPECT_TRUE(Has(unknown, R"("field":"link")")) << unknown;

  std::string cleared = Set({}, {});
  EXPECT_TRUE(Has(cleared, R"("impairment":{"a_to_b":{},"b_to_a":{}})")) << cleared;
  EXPECT_EQ(plumber_.Last(Tap("r2")), Impairment{});
  EXPECT_FALSE(Has(Metadata("r2"), "impairment=")) << Metadata("r2");
}

TEST_F(LabEngineImpairmentTest, AKernelRefusalChangesNothing) {
  DeployAndBoot();
  Impairment delay;
  delay.delay_ms = 20;
  ASSERT_FALSE(Has(Set(delay, {}), "error"));
  const std::string before = engine_->GetLab("h").value();
  const std::string md_before = Metadata("r2");
  plumber_.refuse_tap = Tap("r1");
  Impairment loss;
  loss.loss_pct = 5;
  std::string refused = Set(loss, loss);
  EXPECT_TRUE(Has(refused, R"("field":"b_to_a")") && Has(refused, "qdisc kind is unknown"))
      << refused;
  EXPECT_EQ(engine_->GetLab("h").value(), before);
  EXPECT_EQ(Metadata("r2"), md_before);
  EXPECT_EQ(plumber_.Last(Tap("r2")), delay) << "b's tap got its old impairment back";
}

TEST_F(LabEngineImpairmentTest, AppliedAgainWhenAnEndRestartsAndAfterALabvirtdRestart) {
  DeployAndBoot();
  Impairment delay, loss;
  delay.delay_ms = 20;
  loss.loss_pct = 1;
  ASSERT_FALSE(Has(Set(delay, loss), "error"));
  const std::string tap_r2 = Tap("r2");

  plumber_.calls.clear();
  std::string stopped =
      Await([&](auto r) { engine_->StopNode("h", "r2", /*force=*/true, 0, true, r); });
  ASSERT_TRUE(Has(stopped, R"("state":"stopped")")) << stopped;
  std::string started = Await([&](auto r) { engine_->StartNode("h", "r2", false, r); });
  ASSERT_FALSE(Has(started, "error")) << started;
  ASSERT_TRUE(Booting("r2"));
  EXPECT_EQ(plumber_.Last(tap_r2), delay) << "r2's tap shaped again at its start";

  plumber_.calls.clear();
  hv_->list_metadata = true;
  MakeEngine();
  bool reconciled = false;
  engine_->Reconcile([&](Status) { reconciled = true; });
  ASSERT_TRUE(RunUntil([&] { return reconciled; }));
  ASSERT_TRUE(engine_->GetLab("h").ok()) << engine_->GetLab("h").status().ToString();
  EXPECT_TRUE(Has(engine_->GetLab("h").value(),
                  R"("impairment":{"a_to_b":{"delay_ms":20},"b_to_a":{"loss_pct":1}})"))
      << "rebuilt from both NICs' metadata: " << engine_->GetLab("h").value();
  ASSERT_TRUE(RunUntil([&] { return plumber_.Last(tap_r2) && plumber_.Last(Tap("r1")); }))
      << "adopted running nodes are plugged and shaped again";
  EXPECT_EQ(plumber_.Last(tap_r2), delay);
  EXPECT_EQ(plumber_.Last(Tap("r1")), loss);
}

// A loop link (two NICs of one node cabled together, as lab.deploy accepts it): each end is
// plugged naming the other as its peer, so the link is joined on the bridge. Before, the peer
// was looked for on other nodes only: the ends stayed isolated and link.set_state failed with
// "no port is in link" (found by tools/soak --nodes 1).
TEST_F(LabEngineImpairmentTest, ALoopLinkOnOneNodeIsPluggedWithEachEndTheOthersPeer) {
  DeployAndBoot(R"({"lab":"h","nodes":[{"name":"r1","kind":"iosv","image":"base.qcow2","nics":2}],)"
                R"("links":[{"endpoints":["r1:eth1","r1:eth2"]}]})",
                {"r1"});
  std::vector<PortPlan> linked;
  for (const auto& p : plumber_.plugged) {
    if (!p.link.empty()) linked.push_back(p);
  }
  ASSERT_EQ(linked.size(), 2u) << Node("r1");
  EXPECT_EQ(linked[0].link, "r1:GigabitEthernet0/0--r1:GigabitEthernet0/1");
  EXPECT_EQ(linked[1].link, linked[0].link);
  EXPECT_NE(linked[0].tap, linked[1].tap);
  EXPECT_EQ(linked[0].peer_tap, linked[1].tap);
  EXPECT_EQ(linked[1].peer_tap, linked[0].tap);
}

}  // namespace
}  // namespace labvirt::engine
