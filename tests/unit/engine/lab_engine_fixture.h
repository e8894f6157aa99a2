// The LabEngine unit tests' fixture: the real engine, catalog, worker pool, overlays (qemu-img)
// and image checks, with an in-process hypervisor (MemoryHypervisor) that keeps a set of defined
// domains and answers on a later loop pass, and a plumber whose bridge ports a test sets.
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

namespace labvirt::engine {

namespace fs = std::filesystem;

// Defined domains by name; every verb answers on a later pass, as libvirt's would.
class MemoryHypervisor final : public providers::Hypervisor {
 public:
  explicit MemoryHypervisor(reactor::Reactor& r) : reactor_(r) {}
  bool connected() const override { return true; }
  void SetEventHandler(EventHandler) override {}
  void SetConnectedHandler(std::function<void()>) override {}
  void Define(std::string xml, Done done) override {
    auto start = xml.find("<name>") + 6;
    std::string name = xml.substr(start, xml.find("</name>") - start);
    defined.insert(name);
    xmls[name] = xml;
    // As libvirt does, the lifecycle event can come before the call's answer.
    if (on_defined) on_defined(name);
    Later(std::move(done), Status::Ok());
  }
  void Start(std::string name, bool, Done done) override {
    ++starts;
    Later(std::move(done), start_check ? start_check(xmls[name]) : Status::Ok());
  }
  void Resume(std::string, Done done) override { Later(std::move(done), Status::Ok()); }
  void Shutdown(std::string, Done done) override { Later(std::move(done), Status::Ok()); }
  void Destroy(std::string, Done done) override { Later(std::move(done), Status::Ok()); }
  void Undefine(std::string name, Done done) override {
    if (!fail_undefine.empty() && name.find(fail_undefine) != std::string::npos) {
      return Later(std::move(done), Internal("cannot undefine " + name));
    }
    defined.erase(name);
    Later(std::move(done), Status::Ok());
  }
  void GetXml(std::string, bool, std::function<void(Result<std::string>)> done) override {
    reactor_.Post([done = std::move(done)] { done(std::string("<domain/>")); });
  }
  void SetMetadata(std::string domain, std::string xml, Done done) override {
    ++metadata_writes;
    int now = ++metadata_in_flight[domain];
    max_metadata_in_flight = std::max(max_metadata_in_flight, now);
    reactor_.Post([this, domain, xml, done = std::move(done)] {
      --metadata_in_flight[domain];
      metadata[domain] = xml;  // lands now
      done(Status::Ok());
    });
  }
  void AttachDevice(std::string, std::string xml, Done done) override {
    attached.push_back(xml);
    Later(std::move(done), Status::Ok());
  }
  void DetachDevice(std::string, std::string xml, Done done) override {
    detached.push_back(xml);
    Later(std::move(done), Status::Ok());
  }
  void ListDomains(std::function<void(Result<std::vector<providers::DomainInfo>>)> done) override {
    std::vector<providers::DomainInfo> out = listed;
    for (const auto& d : defined) out.push_back({d, false, false, true, ""});
    reactor_.Post([done = std::move(done), out] { done(out); });
  }
  void ListMacs(std::function<void(Result<std::vector<std::string>>)> done) override {
    ++list_macs_calls;
    reactor_.Post([done = std::move(done), macs = foreign_macs] { done(macs); });
  }
  void GetHostCapabilities(std::string,
                           std::function<void(Result<providers::HostCapabilities>)> done) override {
    reactor_.Post([done = std::move(done)] { done(providers::HostCapabilities{}); });
  }

  std::set<std::string> defined;
  std::map<std::string, std::string> xmls;  // domain -> its last defined XML
  // Decides each Start from the domain's XML (a host that refuses some CPUs); unset: all start.
  std::function<Status(const std::string& xml)> start_check;
  int starts = 0;
  std::vector<providers::DomainInfo> listed;  // more domains ListDomains reports (with metadata)
  std::vector<std::string> attached, detached;
  std::function<void(const std::string&)> on_defined;  // the "defined" lifecycle event
  std::string fail_undefine;              // Undefine fails for domains whose name contains this
  std::vector<std::string> foreign_macs;  // what ListMacs reports besides nothing
  int metadata_writes = 0;
  std::map<std::string, int> metadata_in_flight;
  int max_metadata_in_flight = 0;
  std::map<std::string, std::string> metadata;  // domain -> the last metadata that landed
  int list_macs_calls = 0;

 private:
  void Later(Done done, Status st) {
    reactor_.Post([done = std::move(done), st] { done(st); });
  }
  reactor::Reactor& reactor_;
};

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
    fs::create_directories(dir_ / "images");
    // A real (tiny) qcow2 base: the engine checks the header and qemu-img makes overlays.
    ASSERT_EQ(
        std::system(("qemu-img create -q -f qcow2 " + (dir_ / "images/base.qcow2").string() + " 1M")
                        .c_str()),
        0);
    reactor_ = std::move(reactor::Reactor::Create()).value();
    pool_ = std::make_unique<reactor::WorkerPool>(*reactor_, 2, 64);
    auto catalog = LoadCatalog(std::string(LABVIRT_SOURCE_DIR) + "/engine/data/catalog.json");
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    catalog_ = std::make_unique<Catalog>(std::move(catalog).value());
    hv_ = std::make_unique<MemoryHypervisor>(*reactor_);
    MakeEngine(providers::kDefaultInstance);
  }
  // (Re)creates the engine as labvirt instance `instance`.
  void MakeEngine(const std::string& instance) {
    engine_.reset();
    EngineOptions options;
    options.instance = instance;
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
  std::unique_ptr<MemoryHypervisor> hv_;
  PortListPlumber plumber_;
  std::unique_ptr<LabEngine> engine_;
  std::vector<EngineEvent> events_;
  simdjson::dom::parser parser_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_TESTS_UNIT_ENGINE_LAB_ENGINE_FIXTURE_H_
