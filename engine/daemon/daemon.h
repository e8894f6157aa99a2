// Daemon: labvirtd's composition root. Owns the reactor, the worker pool, the libvirt connection
// and the control plane, and wires them together. Built and run on the main thread.
#ifndef LABVIRT_ENGINE_DAEMON_DAEMON_H_
#define LABVIRT_ENGINE_DAEMON_DAEMON_H_

#include <chrono>
#include <memory>

#include "engine/catalog/catalog.h"
#include "engine/control/control_plane.h"
#include "engine/daemon/flags.h"
#include "engine/lab/lab_engine.h"
#include "engine/lab/metrics.h"
#include "engine/lab/network_plumber.h"
#include "engine/lab/provider_router.h"
#include "engine/lab/wrapped_hypervisor.h"
#include "providers/docker/docker_provider.h"
#include "providers/libvirt_hypervisor.h"
#include "reactor/probe.h"
#include "reactor/reactor.h"
#include "reactor/worker_pool.h"

namespace labvirt::engine {

class Daemon {
 public:
  // Probes io_uring, builds every part and starts listening. Nothing is left half-started on
  // failure: the socket is removed and threads are joined before the error returns.
  static Result<std::unique_ptr<Daemon>> Start(const Flags& flags);
  ~Daemon();

  // Runs until SIGTERM or SIGINT.
  void Run();

 private:
  Daemon(const Flags& flags, reactor::KernelFeatures features, Catalog catalog,
         std::unique_ptr<reactor::Reactor> reactor);
  Status Init();
  // Init's steps: the OVS plumber (bridge set up in the background), then the engine on libvirt.
  void StartOvs();
  void StartEngine();
  // Admission's ceiling in force (--boot-budget, or four weighted starts per core).
  double BootBudget() const;
  // Threads for blocking libvirt calls: --workers, raised so that every start the budget admits
  // at once has a thread and a few remain for the short calls (live XML, resume, metadata).
  size_t WorkerCount() const;
  // How many starts the boot budget can admit at once (budget / the lightest kind's weight).
  size_t ConcurrentStarts() const;
  // Logs a warning (with the fix) when the local libvirtd answers fewer calls of one connection
  // at once than labvirtd may make (see providers/libvirtd_conf.h).
  void WarnIfLibvirtdServesTooFewCalls() const;
  std::string HostInfoJson() const;
  std::string MetricsText() const;

  Flags flags_;
  reactor::KernelFeatures features_;
  std::chrono::steady_clock::time_point started_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<reactor::WorkerPool> pool_;
  Catalog catalog_;
  std::unique_ptr<providers::LibvirtHypervisor> libvirt_;
  LatencyTable libvirt_calls_{"verb"};
  LatencyTable ovsdb_calls_{"method"};
  std::unique_ptr<providers::docker::DockerProvider> docker_;  // null with --docker none
  std::unique_ptr<ProviderRouter> router_;                     // libvirt_ and docker_ as one
  std::unique_ptr<TimedHypervisor> timed_libvirt_;             // router_, with its calls timed
  std::unique_ptr<NetworkPlumber> plumber_;
  class OvsPlumber* ovs_ = nullptr;  // plumber_ when it is the OVS one
  std::unique_ptr<LabEngine> engine_;
  std::unique_ptr<ControlPlane> control_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_DAEMON_DAEMON_H_
