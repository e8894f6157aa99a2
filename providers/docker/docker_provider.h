// DockerProvider: the Hypervisor seam (providers/hypervisor.h) on Docker, so the engine runs a
// container node exactly as it runs a VM. A container node's definition is a container domain
// XML (providers/container_xml.h); every verb maps to the Docker Engine API (DockerClient, HTTP on
// the reactor; no `docker` process):
//
//   Define      check the image is on the host (labvirt never pulls), refuse a same-named
//               container labvirt did not make, POST /containers/create (identity in labels),
//               keep the definition under STATE/containers/NAME.xml
//   Start       attach to the console first (its hijacked stream becomes a PTY through
//               ConsoleRelay, so the console hub reads a container exactly as a VM's serial);
//               an exec console (docker exec of the kind's console_cmd with a TTY) instead
//               once it runs, started again whenever it exits,
//               start, then create each NIC's veth pair with its guest end directly in the
//               container's network namespace (rtnetlink, on a worker). `paused` cannot be kept:
//               a container has no network namespace before it runs, so it starts at once and
//               its first output waits in the PTY until the console reader takes it
//   Resume      nothing (it runs)
//   Shutdown    SIGTERM; Destroy: stop with no grace (returns once it is down)
//   Undefine    remove the container and its definition
//   GetXml      the definition; live: with the console PTY as <serial><source path>
//   SetMetadata rewrites the stored definition (labels cannot change)
//   Attach/DetachDevice  a veth pair into/out of the running container and the definition
//   ListDomains containers labelled labvirt.domain, with their definitions
//
// Lifecycle events come from GET /events (no polling); a "die" labvirt did not ask for is a crash
// (the engine's restart policy applies), its exit status 0 a power-off. dockerd going away ends
// the stream: connected() turns false and the provider reconnects every second, calling the
// connected handler when it is back (the engine then reconciles, as after a libvirtd restart).
//
// Does not own the reactor or the pool, which must outlive it. Loop thread only.
#ifndef LABVIRT_PROVIDERS_DOCKER_DOCKER_PROVIDER_H_
#define LABVIRT_PROVIDERS_DOCKER_DOCKER_PROVIDER_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "providers/container_xml.h"
#include "providers/docker/console_relay.h"
#include "providers/docker/docker_client.h"
#include "providers/hypervisor.h"
#include "reactor/reactor.h"
#include "reactor/worker_pool.h"

namespace labvirt::providers::docker {

class DockerProvider final : public Hypervisor {
 public:
  // `state_dir`: labvirt's state directory (definitions under STATE/containers/).
  DockerProvider(reactor::Reactor& reactor, reactor::WorkerPool& pool, DockerClientOptions options,
                 std::string state_dir);
  ~DockerProvider() override;
  // Connects (asynchronously; the connected handler runs once the event stream is up).
  void Start();
  const std::string& socket_path() const { return client_.socket_path(); }

  bool connected() const override { return connected_; }
  void SetEventHandler(EventHandler handler) override { event_handler_ = std::move(handler); }
  void SetConnectedHandler(std::function<void()> handler) override {
    connected_handler_ = std::move(handler);
  }
  void Define(std::string xml, Done done) override;
  void Start(std::string name, bool paused, Done done) override;
  void Resume(std::string name, Done done) override;
  void Shutdown(std::string name, Done done) override;
  void Destroy(std::string name, Done done) override;
  void Undefine(std::string name, Done done) override;
  void GetXml(std::string name, bool live, std::function<void(Result<std::string>)> done) override;
  void SetMetadata(std::string name, std::string metadata_xml, Done done) override;
  void AttachDevice(std::string name, std::string device_xml, Done done) override;
  void DetachDevice(std::string name, std::string device_xml, Done done) override;
  void ListDomains(std::function<void(Result<std::vector<DomainInfo>>)> done) override;
  void ListMacs(std::function<void(Result<std::vector<std::string>>)> done) override;
  void GetHostCapabilities(std::string virttype,
                           std::function<void(Result<HostCapabilities>)> done) override;

  // Whether `name` is a container this provider defined or listed (the router asks).
  bool Knows(const std::string& name) const { return defs_.count(name) != 0; }
  // The containers it last knew, all inactive (for ListDomains while dockerd is unreachable).
  std::vector<DomainInfo> KnownDomains() const;

 private:
  void Connect();
  void OnEvent(std::string_view json);
  // The stored definition of `name` (NotFound when labvirt has none).
  Result<ContainerDefinition> Definition(const std::string& name) const;
  // Keeps `def` in memory and on disk (a worker writes it); `done` after the write.
  void Store(ContainerDefinition def, Done done);
  void CreateContainer(ContainerDefinition def, std::string xml, Done done);
  // (docker_console.cc) Attaches the container's own TTY (a new relay), then `then`. With
  // `replay_since` (UnixInstantAfter of the previous run's end; "" = since the container was
  // made) the relay's PTY first gives what the container printed in this run before the attach
  // (Docker's log, its last lines): a labvirtd that adopts a running container reads its boot so
  // far as a VM's adopter reads the console log.
  void AttachConsole(const std::string& name, Done then,
                     std::optional<std::string> replay_since = std::nullopt);
  // Starts the exec console of running container `name` (its definition's console_exec) into
  // its relay (a new one with keep_pty, or the one whose shell ended), then `then`.
  void ExecConsole(const std::string& name, Done then);
  // AttachConsole or ExecConsole, as the definition says (an exec console is a new shell: it
  // has nothing to replay).
  void OpenConsole(const std::string& name, Done then,
                   std::optional<std::string> replay_since = std::nullopt);
  // The exec console of `name` ended: a new one, at most one start a second, while it runs.
  void OnExecEnded(const std::string& name);
  // Deletes the host ends of a stopped container's veth pairs (on a worker).
  void ReleaseNics(const std::string& name);
  // Creates the veth pairs of running container `name` (process `pid`) whose host end is
  // missing, on a worker; those that exist are left as they are. For a container attached
  // again (adopted by a restarted labvirtd).
  void PlugMissingNics(const std::string& name, int pid, Done done);
  // Inspects `name`, then creates its NICs' veth pairs in its namespace.
  void PlugNics(const std::string& name, std::vector<ContainerNic> nics, Done done);
  // Docker's answer as a Status: OK for `ok_status` codes, else the error naming the node.
  Status Check(const Result<HttpResponse>& r, std::initializer_list<int> ok_status,
               const std::string& what) const;

  reactor::Reactor& reactor_;
  reactor::WorkerPool& pool_;
  DockerClient client_;
  std::string state_dir_;
  EventHandler event_handler_;
  std::function<void()> connected_handler_;
  bool connected_ = false;
  bool started_ = false;
  uint64_t events_id_ = 0;
  std::map<std::string, ContainerDefinition> defs_;
  std::map<std::string, std::unique_ptr<ConsoleRelay>> relays_;
  // Containers labvirt is stopping: their "die" is not a crash.
  std::set<std::string> stopping_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  // Exec consoles: when each last started, and the pending restart of one whose shell ended.
  std::map<std::string, reactor::TimePoint> exec_started_;
  std::map<std::string, reactor::OpHandle> exec_respawn_;
  reactor::OpHandle reconnect_timer_;  // last: dies first
};

}  // namespace labvirt::providers::docker

#endif  // LABVIRT_PROVIDERS_DOCKER_DOCKER_PROVIDER_H_
