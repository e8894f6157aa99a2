#include "engine/daemon/daemon.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "engine/daemon/loop_priority.h"
#include "engine/lab/host_readings.h"
#include "engine/lab/ovs_plumber.h"
#include "providers/libvirt_event_impl.h"
#include "providers/libvirtd_conf.h"
#include "reactor/base/fault_point.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {

Result<std::unique_ptr<Daemon>> Daemon::Start(const Flags& flags) {
  Result<reactor::KernelFeatures> features = reactor::ProbeIoUring();
  if (!features.ok()) return features.status();
  // The catalog is read before anything starts: a bad one stops start-up with its message.
  auto catalog = LoadCatalog(flags.catalog.empty() ? DefaultCatalogPath() : flags.catalog);
  if (!catalog.ok()) return catalog.status();
  auto reactor = reactor::Reactor::Create();
  if (!reactor.ok()) return reactor.status().WithContext("io_uring");
  auto daemon = std::unique_ptr<Daemon>(
      new Daemon(flags, *features, std::move(catalog).value(), std::move(reactor).value()));
  LABVIRT_RETURN_IF_ERROR(daemon->Init());
  return daemon;
}

Daemon::Daemon(const Flags& flags, reactor::KernelFeatures features, Catalog catalog,
               std::unique_ptr<reactor::Reactor> reactor)
    : flags_(flags),
      features_(features),
      started_(std::chrono::steady_clock::now()),
      reactor_(std::move(reactor)),
      catalog_(std::move(catalog)) {}

Daemon::~Daemon() {
  // Order matters: stop serving, close libvirt (its hooks reach the reactor), stop the workers,
  // and only then let the reactor go.
  control_.reset();
  engine_.reset();
  router_.reset();
  docker_.reset();
  libvirt_.reset();
  pool_.reset();
}

namespace {

// 1024 clients, their consoles and libvirt's own fds do not fit the usual soft limit of 1024: take
// the hard limit. Running out anyway is survivable (the control server retries accept).
void RaiseFdLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
  rlim_t old = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  LogInfo("raised the open-file limit",
          {{"from", std::to_string(old)}, {"to", std::to_string(rl.rlim_cur)}});
}

}  // namespace

Status Daemon::Init() {
  ::signal(SIGPIPE, SIG_IGN);
  RaiseFdLimit();
  // Signals first, so the worker threads started below inherit the blocked mask.
  for (int signo : {SIGTERM, SIGINT}) {
    LABVIRT_RETURN_IF_ERROR(reactor_->OnSignal(signo, [this](int sig) {
      LogInfo("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      reactor_->Stop();
    }));
  }
  providers::LibvirtConnection::SilenceDefaultErrorPrinting();
  LABVIRT_RETURN_IF_ERROR(reactor::LibvirtEventImpl::Install(*reactor_));
  pool_ = std::make_unique<reactor::WorkerPool>(*reactor_, WorkerCount(), /*max_queued=*/4096);
  WarnIfLibvirtdServesTooFewCalls();
  libvirt_ = std::make_unique<providers::LibvirtHypervisor>(*reactor_, *pool_, flags_.libvirt_uri);
  if (flags_.docker != "none") {
    providers::docker::DockerClientOptions docker_options;
    docker_options.socket_path = flags_.docker;
    docker_ = std::make_unique<providers::docker::DockerProvider>(*reactor_, *pool_, docker_options,
                                                                  flags_.state_dir);
  }
  router_ = std::make_unique<ProviderRouter>(*libvirt_, docker_.get());
  StartOvs();
  StartEngine();
  control_ = std::make_unique<ControlPlane>(
      *reactor_, *engine_, catalog_, *pool_,
      DaemonHooks{[this] { return HostInfoJson(); }, [this] { return MetricsText(); }});
  LABVIRT_RETURN_IF_ERROR(control_->Listen(flags_.socket_path));
  libvirt_->Start();
  if (docker_) docker_->Start();
  LogInfo("labvirtd started", {{"version", LABVIRT_VERSION},
                               {"socket", flags_.socket_path},
                               {"libvirt_uri", flags_.libvirt_uri},
                               {"instance", InstanceName(flags_)},
                               {"workers", std::to_string(pool_->threads())},
                               {"catalog", catalog_.source()},
                               {"kinds", std::to_string(catalog_.kinds().size())}});
  if (!ArmedFaultPoints().empty()) {
    std::string points;
    for (const auto& p : ArmedFaultPoints()) points += (points.empty() ? "" : ",") + p;
    LogWarn("fault points armed: this labvirtd kills itself there (a test hook)",
            {{"LABVIRT_FAULT_KILL_AT", points}});
  }
  return Status::Ok();
}

void Daemon::StartOvs() {
  // Userspace datapath when the host has no openvswitch kernel module (docs/host-requirements.md:
  // hosts without the module, such as CI machines).
  bool netdev = ::access("/sys/module/openvswitch", F_OK) != 0;
  auto ovs = std::make_unique<OvsPlumber>(*reactor_, *pool_, flags_.ovsdb, flags_.bridge, netdev,
                                          InstanceName(flags_));
  ovs->Start([bridge = flags_.bridge](Status st) {
    if (st.ok()) {
      LogInfo("ovs bridge ready", {{"bridge", bridge}});
    } else {
      LogError("ovs bridge not ready; nodes cannot start", {{"error", st.ToString()}});
    }
  });
  ovs->SetLatencyObserver(
      [this](const std::string& method, double seconds) { ovsdb_calls_.Observe(method, seconds); });
  ovs_ = ovs.get();
  plumber_ = std::move(ovs);
}

void Daemon::StartEngine() {
  EngineOptions engine_options;
  engine_options.instance = InstanceName(flags_);
  engine_options.image_root = flags_.image_root;
  engine_options.bind_root = flags_.bind_root;
  engine_options.state_dir = flags_.state_dir;
  engine_options.admission = {
      .ceiling = BootBudget(),
      .mem_reserve_mib = flags_.mem_reserve_mib,
      .mem_pressure = static_cast<double>(flags_.mem_pressure),
      .cpu_pressure = static_cast<double>(flags_.cpu_pressure),
      .libvirt_queue = flags_.libvirt_queue,
      .slot = flags_.boot_slot_ready ? BootSlot::kReady : BootSlot::kBooting};
  engine_options.emulator = flags_.emulator;
  engine_options.force_tcg = flags_.force_tcg;
  engine_options.mgmt = flags_.mgmt == "on";
  engine_options.mgmt_pool_ipv4 = flags_.mgmt_pool;
  engine_options.mgmt_pool_ipv6 = flags_.mgmt_pool6;
  engine_options.dnsmasq = flags_.dnsmasq;
  // Direct io_uring reads on a tty only where the kernel does them without io-wq (6.12+).
  engine_options.console.reader.direct_read = features_.direct_tty_read;
  timed_libvirt_ = std::make_unique<TimedHypervisor>(*router_, TimeCalls{&libvirt_calls_});
  engine_ = std::make_unique<LabEngine>(*reactor_, *pool_, *timed_libvirt_, *plumber_, catalog_,
                                        engine_options);
  // The pool's queue is the libvirt calls waiting for a thread (its other jobs are few and short).
  engine_->WatchHost(
      std::make_unique<ProcReadings>("/proc", [pool = pool_.get()] { return pool->queued(); }));
  // Every 10 s: KSM merges over minutes (a full scan of hundreds of VMs' memory at setup-host's
  // rate), and each sample reads two files per running VM.
  engine_->WatchKsm(KsmPaths{}, std::chrono::seconds(10));
  router_->SetEventHandler(
      [this](const providers::DomainEventInfo& ev) { engine_->OnDomainEvent(ev); });
  // After every (re)connection, probe the host (libvirt or QEMU may have changed under it) and
  // rebuild the labs from libvirt in one pass.
  router_->SetConnectedHandler([this] {
    engine_->ProbeHost([this] {
      engine_->Reconcile([this](Status st) {
        if (!st.ok()) return LogWarn("reconcile failed", {{"error", st.ToString()}});
        // Report (not remove) what no node claims: removal is the user's call (lab.cleanup).
        engine_->Cleanup(/*dry_run=*/true, [](Result<std::string>) {});
      });
    });
  });
}

void Daemon::Run() {
  // Here, on the loop thread, once the worker pool's threads exist: only this thread (and what it
  // starts from now on) gets the priority.
  SetLoopThreadPriority(flags_.loop_priority);
  reactor_->Run();
}

double Daemon::BootBudget() const {
  return flags_.boot_budget > 0 ? flags_.boot_budget : DefaultBootCeiling();
}

size_t Daemon::ConcurrentStarts() const {
  double lightest = 1.0;
  // Only VM kinds: a container's start is a Docker API call on the loop; it holds no worker.
  for (const auto& k : catalog_.kinds()) {
    if (k.provider == "libvirt") lightest = std::min(lightest, k.admission_weight);
  }
  return static_cast<size_t>(std::min(std::ceil(BootBudget() / lightest), 252.0));
}

size_t Daemon::WorkerCount() const {
  // A start holds its worker for the whole virDomainCreate (seconds under load). With fewer
  // workers than admitted starts, the short calls of a node already started queued behind other
  // nodes' starts: the 50-VM benchmark (budget 8, 4 workers) saw GetXml wait 2.4 s and metadata
  // writes 1.5 s on average, and only 4 of the 8 admitted starts ran at once.
  return std::max(static_cast<size_t>(flags_.workers), ConcurrentStarts() + 4);
}

void Daemon::WarnIfLibvirtdServesTooFewCalls() const {
  const std::string& uri = flags_.libvirt_uri;
  if (uri.rfind("qemu:///", 0) != 0 && uri.rfind("qemu+unix:///", 0) != 0) return;  // not local
  std::ifstream in(providers::kLibvirtdConfPath);
  if (!in) return;
  std::stringstream text;
  text << in.rdbuf();
  long served = providers::LibvirtdConfInt(text.str(), "max_client_requests")
                    .value_or(providers::kLibvirtdDefaultClientRequests);
  size_t wanted = ConcurrentStarts() + 4;
  if (served >= static_cast<long>(wanted)) return;
  LogWarn(
      "libvirtd serves fewer calls of one connection at once than labvirtd may make; starts "
      "and console attaches will queue inside libvirtd",
      {{"max_client_requests", std::to_string(served)},
       {"wanted", std::to_string(wanted)},
       {"fix", "set max_client_requests = " + std::to_string(std::max<size_t>(wanted, 48)) +
                   " in " + providers::kLibvirtdConfPath + " and restart libvirtd" +
                   (wanted <= 48 ? " (tools/setup-host does)" : "")}});
}

std::string Daemon::HostInfoJson() const {
  utsname uts{};
  uname(&uts);
  auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_);
  JsonWriter w;
  w.BeginObject();
  w.Key("version").String(LABVIRT_VERSION);
  w.Key("hostname").String(uts.nodename);
  w.Key("kernel").String(uts.release);
  w.Key("uptime_s").Double(uptime.count());
  // Healthy: libvirt is up and the labs have been rebuilt from it at least once.
  w.Key("healthy").Bool(libvirt_ != nullptr && libvirt_->connected() && engine_ &&
                        engine_->reconciled());
  w.Key("libvirt").BeginObject();
  w.Key("uri").String(flags_.libvirt_uri);
  w.Key("connected").Bool(libvirt_ != nullptr && libvirt_->connected());
  w.Key("version").Uint(libvirt_ ? libvirt_->connection().version() : 0);
  w.Key("reconnects").Uint(libvirt_ ? libvirt_->connection().reconnects() : 0);
  w.EndObject();
  w.Key("docker").BeginObject().Key("socket").String(flags_.docker);
  w.Key("connected").Bool(docker_ != nullptr && docker_->connected()).EndObject();
  w.Key("io_uring").BeginObject();
  w.Key("direct_tty_read").Bool(features_.direct_tty_read);
  w.EndObject();
  // The accelerator, the CPU facts and the CPU choices in force (providers/host_probe.h).
  if (engine_) w.Key("cpu").Raw(engine_->CpuJson());
  // The ceiling, gates and last host readings ("psi": false: the pressure gates are off).
  if (engine_) w.Key("admission").Raw(engine_->AdmissionJson());
  w.Key("bridge").String(flags_.bridge);
  w.Key("instance").String(InstanceName(flags_)).Key("state_dir").String(flags_.state_dir);
  w.Key("ovsdb").BeginObject().Key("remote").String(flags_.ovsdb);
  w.Key("connected").Bool(ovs_ != nullptr && ovs_->connected()).EndObject();
  w.Key("catalog").String(catalog_.source());
  w.Key("kinds").Uint(catalog_.kinds().size());
  w.Key("workers").Uint(pool_ ? pool_->threads() : 0);
  w.EndObject();
  return w.Take();
}

std::string Daemon::MetricsText() const {
  std::string out;
  if (engine_) engine_->RenderMetrics(out);
  libvirt_calls_.Render(out, "labvirt_libvirt_call_seconds",
                        "libvirt calls from submission to completion (worker queue included)");
  ovsdb_calls_.Render(out, "labvirt_ovsdb_call_seconds", "OVSDB requests from send to answer");
  AppendHeader(out, "labvirt_libvirt_reconnects_total", "counter", "libvirt reconnections");
  AppendSample(out, "labvirt_libvirt_reconnects_total", "",
               libvirt_ ? static_cast<double>(libvirt_->connection().reconnects()) : 0);
  AppendHeader(out, "labvirt_ovsdb_connects_total", "counter",
               "OVSDB connections made (the first one included)");
  AppendSample(out, "labvirt_ovsdb_connects_total", "",
               ovs_ ? static_cast<double>(ovs_->connects()) : 0);
  AppendHeader(out, "labvirt_up", "gauge", "1 when the named backend is connected");
  AppendSample(out, "labvirt_up", Label("backend", "libvirt"),
               libvirt_ && libvirt_->connected() ? 1 : 0);
  AppendSample(out, "labvirt_up", Label("backend", "ovsdb"), ovs_ && ovs_->connected() ? 1 : 0);
  AppendHeader(out, "labvirt_control_clients", "gauge", "Connected control-socket clients");
  AppendSample(out, "labvirt_control_clients", "",
               control_ ? static_cast<double>(control_->client_count()) : 0);
  return out;
}

}  // namespace labvirt::engine
