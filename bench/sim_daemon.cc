#include "bench/sim_daemon.h"

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "engine/daemon/flags.h"
#include "engine/daemon/loop_priority.h"
#include "reactor/probe.h"

namespace labvirt::bench {
namespace {

// Sums every "key":N in `json` (ListLabs' per-lab counts).
int SumField(const std::string& json, const std::string& key) {
  int sum = 0;
  const std::string k = "\"" + key + "\":";
  for (size_t at = json.find(k); at != std::string::npos; at = json.find(k, at + 1)) {
    sum += std::atoi(json.c_str() + at + k.size());
  }
  return sum;
}

}  // namespace

SimDaemon::SimDaemon(const std::string& dir, SimDevices& devices) : dir_(dir), devices_(devices) {
  std::promise<void> ready;
  thread_ = std::thread([this, &ready] { Main(ready); });
  ready.get_future().wait();
}

SimDaemon::~SimDaemon() {
  reactor_->Post([this] {
    // Everything that holds the reactor goes on its thread, before the loop stops.
    rpc_.reset();
    server_.reset();
    engine_.reset();
    reactor_->Stop();
  });
  thread_.join();
}

void SimDaemon::Main(std::promise<void>& ready) {
  auto reactor = reactor::Reactor::Create(reactor::ReactorOptions{});
  auto catalog = engine::LoadCatalog(engine::DefaultCatalogPath());
  if (!reactor.ok() || !catalog.ok()) {
    std::fprintf(stderr, "sim_bench: no reactor or catalog\n");
    std::abort();
  }
  reactor_owned_ = std::move(reactor).value();
  reactor_ = reactor_owned_.get();
  // As labvirtd sizes it: every start the default ceiling admits plus 4 (engine/daemon).
  pool_ = std::make_unique<reactor::WorkerPool>(*reactor_, 12, 4096);
  catalog_ = std::make_unique<engine::Catalog>(std::move(catalog).value());
  hv_ = std::make_unique<testing::FakeHypervisor>(*reactor_, testing::FakeDomains::kPty);
  hv_->on_resumed = [this](const std::string& domain, int master) { devices_.Add(domain, master); };
  hv_->on_power_off = [this](const std::string& domain) { devices_.Forget(domain); };
  hv_->SetEventHandler([this](const providers::DomainEventInfo& ev) {
    if (engine_) engine_->OnDomainEvent(ev);
  });
  options_.image_root = dir_ + "/images";
  options_.state_dir = state_dir();
  // The PTY read mode labvirtd picks on this kernel.
  auto features = reactor::ProbeIoUring();
  options_.console.reader.direct_read = features.ok() && features->direct_tty_read;
  MakeEngine();
  ready.set_value();
  // As labvirtd's loop runs (engine/daemon/daemon.cc: after its pool's threads exist, so only
  // this thread gets it): the simulated devices and the clients compete with it for the cores.
  engine::SetLoopThreadPriority(engine::Flags{}.loop_priority);
  reactor_->Run();
  devices_.ForgetAll();  // the fake closes every master
  hv_.reset();
  pool_.reset();
  reactor_owned_.reset();
}

void SimDaemon::MakeEngine() {
  engine_ =
      std::make_unique<engine::LabEngine>(*reactor_, *pool_, *hv_, plumber_, *catalog_, options_);
  server_ = std::make_unique<engine::ControlServer>(*reactor_, engine::ControlServerOptions{});
  rpc_ = std::make_unique<engine::RpcMethods>(*server_, *engine_, *catalog_, *pool_);
  rpc_->Register();
  if (!server_->Listen(socket()).ok()) {
    std::fprintf(stderr, "sim_bench: cannot listen on %s\n", socket().c_str());
    std::abort();
  }
}

double SimDaemon::LoopCpuSeconds() const {
  clockid_t id;
  timespec ts{};
  if (pthread_getcpuclockid(const_cast<std::thread&>(thread_).native_handle(), &id) != 0 ||
      clock_gettime(id, &ts) != 0) {
    return 0;
  }
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

SimHeld SimDaemon::Held(const std::vector<std::pair<std::string, std::string>>& nodes) {
  return OnLoop([&] {
    SimHeld held;
    for (const auto& [name, xml] : hv_->xmls) held.hypervisor_bytes += name.size() + xml.size();
    for (const auto& [name, md] : hv_->metadata) held.hypervisor_bytes += name.size() + md.size();
    for (const auto& [lab, node] : nodes) {
      engine::ConsoleHub* hub = engine_->Console(lab, node);
      if (hub != nullptr) held.scrollback_bytes += hub->scrollback_allocated();
    }
    auto labs = engine_->ListLabs();
    if (labs.ok()) {
      held.nodes = SumField(*labs, "nodes");
      held.ready = SumField(*labs, "ready");
    }
    return held;
  });
}

SimDaemon::PassTimes SimDaemon::RestartAndReconcile() {
  std::promise<PassTimes> done;
  reactor_->Post([this, &done] {
    rpc_.reset();
    server_.reset();
    engine_.reset();
    hv_->list_metadata = true;  // what libvirt tells a restarted labvirtd
    MakeEngine();
    auto t0 = std::chrono::steady_clock::now();
    const double cpu0 = LoopCpuSeconds();
    engine_->Reconcile([this, &done, t0, cpu0](Status st) {
      PassTimes times;
      times.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      times.cpu = LoopCpuSeconds() - cpu0;
      if (!st.ok()) {
        std::fprintf(stderr, "sim_bench: reconcile: %s\n", st.ToString().c_str());
        times.wall = -1;
      }
      done.set_value(times);
    });
  });
  return done.get_future().get();
}

}  // namespace labvirt::bench
