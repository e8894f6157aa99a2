// SimDaemon: labvirtd's engine, control server and console hubs in-process, on a reactor thread
// of their own, over the fake hypervisor in its PTY mode — the "labvirtd" of the 5000-node
// simulation (bench/sim_bench.cc). Every fake domain's console is a real PTY pair whose guest
// side is handed to SimDevices when the domain resumes.
//
// It composes what engine/daemon/daemon.cc composes (reactor, worker pool, LabEngine,
// ControlServer, RpcMethods; the PTY read mode the reactor probe picks), minus libvirt, OVS and
// the host probes. Does not own `devices`, which must outlive it. Public methods are called from
// the benchmark's thread, never from the loop thread.
#ifndef LABVIRT_BENCH_SIM_DAEMON_H_
#define LABVIRT_BENCH_SIM_DAEMON_H_

#include <pthread.h>

#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/sim_devices.h"
#include "engine/catalog/catalog.h"
#include "engine/control/control_server.h"
#include "engine/control/rpc_methods.h"
#include "engine/lab/lab_engine.h"
#include "engine/lab/network_plumber.h"
#include "reactor/reactor.h"
#include "reactor/worker_pool.h"
#include "tests/support/fake_hypervisor.h"

namespace labvirt::bench {

// What the fake hypervisor holds for the simulated domains (their XML and metadata strings):
// memory of the simulation's "libvirtd", not of labvirtd, so the RSS figure leaves it out.
struct SimHeld {
  size_t hypervisor_bytes = 0;
  size_t scrollback_bytes = 0;  // memory the hubs' scrollback rings take (allocated)
  int nodes = 0;
  int ready = 0;
};

class SimDaemon {
 public:
  // Starts the loop thread and listens on dir/labvirtd.sock; images under dir/images, state
  // under dir/state. Aborts when the engine cannot be built (a broken build, not a finding).
  SimDaemon(const std::string& dir, SimDevices& devices);
  ~SimDaemon();
  SimDaemon(const SimDaemon&) = delete;
  SimDaemon& operator=(const SimDaemon&) = delete;

  std::string socket() const { return dir_ + "/labvirtd.sock"; }
  std::string state_dir() const { return dir_ + "/state"; }
  // CPU seconds the loop thread has used (read from another thread's clock).
  double LoopCpuSeconds() const;
  // What is held for nodes `nodes` ({lab, node} pairs), and how many nodes the engine has
  // and how many of them are ready.
  SimHeld Held(const std::vector<std::pair<std::string, std::string>>& nodes);
  // labvirtd restarted: the control server and engine are dropped and a new engine adopts every
  // running fake domain from its metadata. The reconcile pass's wall and loop-thread CPU seconds
  // (call to its callback); wall is negative when the pass failed.
  struct PassTimes {
    double wall = -1;
    double cpu = 0;
  };
  PassTimes RestartAndReconcile();

 private:
  void Main(std::promise<void>& ready);
  void MakeEngine();
  // Runs `f` on the loop thread and waits for it.
  template <typename F>
  auto OnLoop(F f) -> decltype(f()) {
    std::promise<decltype(f())> p;
    reactor_->Post([&] { p.set_value(f()); });
    return p.get_future().get();
  }

  const std::string dir_;
  SimDevices& devices_;
  reactor::Reactor* reactor_ = nullptr;
  // Owned by the loop thread (made and dropped there).
  std::unique_ptr<reactor::Reactor> reactor_owned_;
  std::unique_ptr<reactor::WorkerPool> pool_;
  std::unique_ptr<engine::Catalog> catalog_;
  std::unique_ptr<testing::FakeHypervisor> hv_;
  engine::NullPlumber plumber_;
  engine::EngineOptions options_;
  std::unique_ptr<engine::LabEngine> engine_;
  std::unique_ptr<engine::ControlServer> server_;
  std::unique_ptr<engine::RpcMethods> rpc_;
  std::thread thread_;
};

}  // namespace labvirt::bench

#endif  // LABVIRT_BENCH_SIM_DAEMON_H_
