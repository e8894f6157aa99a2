// The LabEngine unit tests' fixture: the real engine, catalog, worker pool, overlays (qemu-img)
// and image checks, with the in-process hypervisor of tests/support (its in-memory domains: a set
// of defined names, every verb answered on a later loop pass), and a plumber whose bridge ports a
// test sets.
#ifndef LABVIRT_TESTS_UNIT_ENGINE_LAB_ENGINE_FIXTURE_H_
#define LABVIRT_TESTS_UNIT_ENGINE_LAB_ENGINE_FIXTURE_H_

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "engine/control/lab_spec.h"
#include "engine/control/rpc_status.h"
#include "engine/lab/lab_engine.h"
#include "gtest/gtest.h"
#include "providers/node_naming.h"
#include "tests/support/fake_hypervisor.h"

namespace labvirt::engine {

namespace fs = std::filesystem;

// Makes `dir`/images holding base.qcow2, a real (tiny) qcow2: the engine checks the header and
// qemu-img makes overlays. False if qemu-img failed.
inline bool MakeImageRoot(const fs::path& dir) {
  fs::create_directories(dir / "images");
  std::string cmd = "qemu-img create -q -f qcow2 " + (dir / "images/base.qcow2").string() + " 1M";
  return std::system(cmd.c_str()) == 0;
}

// The catalog labvirtd ships (engine/data/catalog.json); null (with a test failure) if it does not
// load.
inline std::unique_ptr<Catalog> LoadShippedCatalog() {
  auto catalog = LoadCatalog(std::string(LABVIRT_SOURCE_DIR) + "/engine/data/catalog.json");
  EXPECT_TRUE(catalog.ok()) << catalog.status().ToString();
  return catalog.ok() ? std::make_unique<Catalog>(std::move(catalog).value()) : nullptr;
}

// The bridge's labvirt ports as a test sets them; RemovePorts records what it was asked to remove.
class PortListPlumber final : public NullPlumber {
 public:
  std::vector<PlumbedPort> OwnedPorts() const override { return ports; }
  void RemovePorts(const std::vector<std::string>& names, Done done) override {
    removed.insert(removed.end(), names.begin(), names.end());
    done(Status::Ok());
  }

  std::vector<PlumbedPort> ports;
  std::vector<std::string> removed;
};

class LabEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lvengine-" + std::to_string(::getpid()));
    ASSERT_TRUE(MakeImageRoot(dir_));
    reactor_ = std::move(reactor::Reactor::Create()).value();
    pool_ = std::make_unique<reactor::WorkerPool>(*reactor_, 2, 64);
    catalog_ = LoadShippedCatalog();
    ASSERT_NE(catalog_, nullptr);
    hv_ = std::make_unique<testing::FakeHypervisor>(*reactor_);
    MakeEngine(providers::kDefaultInstance);
  }
  // (Re)creates the engine as labvirt instance `instance`; `mgmt`: with management segments.
  void MakeEngine(const std::string& instance, bool mgmt = false) {
    engine_.reset();
    EngineOptions options;
    options.instance = instance;
    options.mgmt = mgmt;
    options.image_root = (dir_ / "images").string();
    options.state_dir = (dir_ / "state").string();
    engine_ = std::make_unique<LabEngine>(*reactor_, *pool_, *hv_, plumber_, *catalog_, options);
    engine_->SetEventSink([this](const EngineEvent& ev) { events_.push_back(ev); });
  }
  // Runs one reconcile pass to its end.
  void Reconcile() {
    bool done = false;
    engine_->Reconcile([&](Status st) {
      EXPECT_TRUE(st.ok()) << st.ToString();
      done = true;
    });
    for (int i = 0; i < 100000 && !done; ++i) reactor_->RunOnce(/*block=*/true);
    ASSERT_TRUE(done);
  }
  void TearDown() override {
    engine_.reset();
    pool_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Runs the loop until `reply` has been called; returns what it got (result or error JSON).
  template <typename Verb>
  std::string Await(Verb verb) {
    std::optional<Result<std::string>> got;
    verb([&](Result<std::string> r) { got = std::move(r); });
    for (int i = 0; i < 100000 && !got; ++i) reactor_->RunOnce(/*block=*/true);
    if (!got) return "no reply";
    if (!got->ok()) {
      RpcError e = ToRpcError(got->status());  // as a client would read it
      return "error: " + e.message + " " + e.data_json;
    }
    return got->value();
  }

  std::string Deploy(const std::string& links) {
    return DeployJson(R"({"name":"lab1","nodes":[)"
                      R"({"name":"r1","kind":"iosv","image":"base.qcow2","nics":2,"start":false},)"
                      R"({"name":"r2","kind":"iosv","image":"base.qcow2","nics":2,"start":false}],)"
                      R"("links":[)" +
                      links + "]}");
  }
  std::string DeployJson(const std::string& json) {
    auto doc = parser_.parse(json);
    auto spec = ParseLabSpec(doc.value());
    if (!spec.ok()) return "bad spec: " + ToRpcError(spec.status()).data_json;
    return Await([&](LabEngine::Reply r) {
      engine_->Deploy((std::move(spec)).value(), false, std::move(r));
    });
  }
  std::string Node(const std::string& node) {
    auto r = engine_->GetNode("lab1", node);
    return r.ok() ? r.value() : "error";
  }
  std::string Lab() { return engine_->GetLab("lab1").value(); }
  bool Has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }

  fs::path dir_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<reactor::WorkerPool> pool_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<testing::FakeHypervisor> hv_;
  PortListPlumber plumber_;
  std::unique_ptr<LabEngine> engine_;
  std::vector<EngineEvent> events_;
  simdjson::dom::parser parser_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_TESTS_UNIT_ENGINE_LAB_ENGINE_FIXTURE_H_
