#include "providers/docker/docker_provider.h"

#include <net/if.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "providers/config_medium.h"
#include "providers/docker/alive_guard.h"
#include "providers/docker/docker_json.h"
#include "providers/domain_xml.h"
#include "providers/netlink/veth.h"
#include "providers/state_paths.h"
#include "reactor/base/log.h"

namespace labvirt::providers::docker {
namespace {

std::string DefinitionPath(const std::string& state_dir, const std::string& name) {
  return state_dir + "/containers/" + name + ".xml";
}

Status ExitedAtOnce(const std::string& name, const InspectedState& state) {
  std::string why =
      "container " + name + " exited at once (exit code " + std::to_string(state.exit_code) + ")";
  if (!state.error.empty()) why += ": " + state.error;
  return FailedPrecondition(why);
}

}  // namespace

DockerProvider::DockerProvider(reactor::Reactor& reactor, reactor::WorkerPool& pool,
                               DockerClientOptions options, std::string state_dir)
    : reactor_(reactor),
      pool_(pool),
      client_(reactor, std::move(options)),
      state_dir_(std::move(state_dir)) {}

DockerProvider::~DockerProvider() {
  *alive_ = false;
  alive_.reset();
  if (events_id_) client_.CancelEvents(events_id_);
}

void DockerProvider::Start() {
  started_ = true;
  // The stored definitions (current metadata and NICs) first, read on a worker.
  std::string dir = state_dir_ + "/containers";
  using Defs = std::map<std::string, ContainerDefinition>;
  Status st = pool_.Submit<Defs>(
      [dir] {
        Defs defs;
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
          if (entry.path().extension() != ".xml") continue;
          std::ifstream in(entry.path());
          std::stringstream text;
          text << in.rdbuf();
          auto def = ParseContainerDomain(text.str());
          if (def.ok()) defs[def->name] = std::move(def).value();
        }
        return defs;
      },
      Guard(alive_, [this](Defs defs) {
        defs_ = std::move(defs);
        Connect();
      }));
  if (!st.ok()) Connect();
}

void DockerProvider::Connect() {
  // The event stream first, then the list: an event between the two is not lost.
  events_id_ = client_.WatchEvents(
      R"({"type":["container"],"label":["labvirt.domain"]})",
      Guard(alive_, [this](std::string_view json) { OnEvent(json); }),
      Guard(alive_, [this](Status st) {
        bool was = connected_;
        connected_ = false;
        events_id_ = 0;
        if (was) LogWarn("dockerd connection lost", {{"error", st.ToString()}});
        reconnect_timer_ = reactor_.After(std::chrono::seconds(1), [this] { Connect(); });
      }));
  client_.Request("GET", "/_ping", "", Guard(alive_, [this](Result<HttpResponse> r) {
                    if (!r.ok() || r->status != 200 || connected_) return;
                    connected_ = true;
                    LogInfo("dockerd connected", {{"socket", client_.socket_path()}});
                    if (connected_handler_) connected_handler_();
                  }));
}

void DockerProvider::OnEvent(std::string_view json) {
  auto peek = ParseEvent(json, false);
  if (!peek.ok()) return;
  bool stopping = stopping_.count(peek->info.name) != 0;
  auto ev = stopping ? ParseEvent(json, true) : std::move(peek);
  if (ev->info.event != DomainEvent::kStopped) {
    if (event_handler_) event_handler_(ev->info);
    return;
  }
  // A "die" read late (after labvirt already started the container again) is stale: only a
  // container that is still down is reported stopped, and only then are its veths released.
  std::string name = ev->info.name;
  client_.Request("GET", "/containers/" + name + "/json", "",
                  Guard(alive_, [this, info = ev->info](Result<HttpResponse> r) {
                    auto state = r.ok() && r->status == 200 ? ParseInspect(r->body)
                                                            : Result<InspectedState>(NotFound(""));
                    if (state.ok() && state->running) return;
                    stopping_.erase(info.name);
                    relays_.erase(info.name);
                    exec_respawn_.erase(info.name);
                    exec_started_.erase(info.name);
                    ReleaseNics(info.name);
                    if (event_handler_) event_handler_(info);
                  }));
}

Status DockerProvider::Check(const Result<HttpResponse>& r, std::initializer_list<int> ok,
                             const std::string& what) const {
  if (!r.ok()) return r.status().WithContext(what);
  for (int code : ok) {
    if (r->status == code) return Status::Ok();
  }
  std::string msg = what + ": " + DockerErrorMessage(*r);
  if (r->status == 404) return NotFound(msg);
  if (r->status == 409) return FailedPrecondition(msg);
  return Internal(msg);
}

Result<ContainerDefinition> DockerProvider::Definition(const std::string& name) const {
  auto it = defs_.find(name);
  if (it == defs_.end()) return NotFound("container " + name + " is not labvirt's");
  return it->second;
}

void DockerProvider::Store(ContainerDefinition def, Done done) {
  std::string path = DefinitionPath(state_dir_, def.name);
  std::string xml = RenderContainerDomain(def);
  defs_[def.name] = std::move(def);
  Status st = pool_.Submit<Status>([path, xml] { return WriteFileAtomically(path, xml); },
                                   Guard(alive_, [done](Status st) { done(st); }));
  if (!st.ok()) done(st);
}

void DockerProvider::Define(std::string xml, Done done) {
  auto def = ParseContainerDomain(xml);
  if (!def.ok()) return done(def.status());
  std::string image = def->image;
  // Never pulled: an image that is not here is the user's to load.
  client_.Request(
      "GET", "/images/" + UrlEncode(image) + "/json", "",
      Guard(alive_, [this, def = *def, xml, done](Result<HttpResponse> r) mutable {
        if (r.ok() && r->status == 404) {
          return done(NotFound("image '" + def.image +
                               "' is not on this host (labvirt does not pull images: "
                               "docker pull, load or import it first)"));
        }
        if (Status st = Check(r, {200}, "docker image " + def.image); !st.ok()) return done(st);
        client_.Request(
            "GET", "/containers/" + def.name + "/json", "",
            Guard(alive_, [this, def, xml, done](Result<HttpResponse> r) mutable {
              if (r.ok() && r->status == 200) {
                auto state = ParseInspect(r->body);
                if (!state.ok() || state->domain != def.name) {
                  return done(Status(
                      StatusCode::kAlreadyExists,
                      "a container named " + def.name + " exists that labvirt did not make"));
                }
                // labvirt's own: a redefinition replaces it.
                std::string name = def.name;
                return client_.Request(
                    "DELETE", "/containers/" + name + "?force=1", "",
                    Guard(alive_, [this, def, xml, done](Result<HttpResponse> r) mutable {
                      if (Status st = Check(r, {204, 404}, "remove " + def.name); !st.ok()) {
                        return done(st);
                      }
                      CreateContainer(std::move(def), std::move(xml), std::move(done));
                    }));
              }
              if (Status st = Check(r, {404}, "inspect " + def.name); !st.ok()) return done(st);
              CreateContainer(std::move(def), std::move(xml), std::move(done));
            }));
      }));
}

void DockerProvider::CreateContainer(ContainerDefinition def, std::string xml, Done done) {
  auto md = ParseNodeMetadata(xml);
  if (!md.ok()) return done(md.status().WithContext("container " + def.name));
  def.hostname = md->node;
  std::string body = CreateBody(def, {md->instance, md->lab, md->node}, xml);
  std::string name = def.name;
  client_.Request("POST", "/containers/create?name=" + UrlEncode(name), body,
                  Guard(alive_, [this, def = std::move(def), done](Result<HttpResponse> r) {
                    if (Status st = Check(r, {201}, "create container " + def.name); !st.ok()) {
                      return done(st);
                    }
                    Store(def, done);
                  }));
}

void DockerProvider::Start(std::string name, bool /*paused*/, Done done) {
  auto def = Definition(name);
  if (!def.ok()) return done(def.status());
  relays_.erase(name);
  stopping_.erase(name);
  const bool exec = !def->console_exec.empty();
  auto start = [this, name, nics = def->nics, exec, done](Status st) {
    if (!st.ok()) return done(st);
    client_.Request("POST", "/containers/" + name + "/start", "",
                    Guard(alive_, [this, name, nics, exec, done](Result<HttpResponse> r) {
                      if (Status st = Check(r, {204, 304}, "start " + name); !st.ok()) {
                        relays_.erase(name);
                        return done(st);
                      }
                      if (!exec) return PlugNics(name, nics, done);
                      // An exec console needs a running container: after the start.
                      PlugNics(name, nics, [this, name, done](Status st) {
                        if (!st.ok()) return done(st);
                        ExecConsole(name, [this, name, done](Status st) {
                          if (st.ok()) return done(st);
                          Destroy(name, [st, done](Status) { done(st); });
                        });
                      });
                    }));
  };
  // The container's own TTY is attached before the start, so none of its output is lost.
  if (exec) return start(Status::Ok());
  AttachConsole(name, start);
}

void DockerProvider::PlugMissingNics(const std::string& name, int pid, Done done) {
  auto def = Definition(name);
  if (!def.ok() || def->nics.empty() || pid <= 0) return done(Status::Ok());
  Status st = pool_.Submit<Status>(
      [nics = def->nics, pid]() -> Status {
        for (const auto& n : nics) {
          // A host end that exists is this run's: plugged by the start (its guest end is in
          // the running container's namespace; a dead run's goes with its namespace).
          if (::if_nametoindex(n.host.c_str()) != 0) continue;
          Status made = CreateVeth({n.host, n.guest, n.mac, pid, n.mtu});
          if (!made.ok()) return made.WithContext("interface " + n.guest);
        }
        return Status::Ok();
      },
      Guard(alive_, [done](Status st) { done(st); }));
  if (!st.ok()) done(st);
}

void DockerProvider::PlugNics(const std::string& name, std::vector<ContainerNic> nics, Done done) {
  client_.Request(
      "GET", "/containers/" + name + "/json", "",
      Guard(alive_, [this, name, nics, done](Result<HttpResponse> r) {
        if (Status st = Check(r, {200}, "inspect " + name); !st.ok()) return done(st);
        auto state = ParseInspect(r->body);
        if (!state.ok()) return done(state.status());
        if (!state->running || state->pid <= 0) return done(ExitedAtOnce(name, *state));
        int pid = state->pid;
        Status st = pool_.Submit<Status>(
            [nics, pid]() -> Status {
              for (const auto& n : nics) {
                // The previous run's host end goes with its namespace, but not at once: a
                // restart can come first. The name is labvirt's own (the node's tap name).
                (void)DeleteLink(n.host);
                Status made = CreateVeth({n.host, n.guest, n.mac, pid, n.mtu});
                if (!made.ok()) return made.WithContext("interface " + n.guest);
              }
              return Status::Ok();
            },
            Guard(alive_, [this, name, done](Status st) {
              if (st.ok()) return done(st);
              // A namespace that vanished under the veth: the container quit. Say that.
              client_.Request(
                  "GET", "/containers/" + name + "/json", "",
                  Guard(alive_, [this, name, st, done](Result<HttpResponse> r) {
                    auto state = r.ok() && r->status == 200 ? ParseInspect(r->body)
                                                            : Result<InspectedState>(NotFound(""));
                    Status why = st;
                    if (state.ok() && !state->running) {
                      why = ExitedAtOnce(name, *state);
                    } else if (st.code() == StatusCode::kNotFound) {
                      // Its process is gone (ESRCH) before dockerd has noted the exit.
                      why = FailedPrecondition("container " + name +
                                               " exited at once (its process was gone before its "
                                               "NICs were plugged): " +
                                               st.message());
                    }
                    // Half a node is no node: it goes down, saying why.
                    Destroy(name, [why, done](Status) { done(why); });
                  }));
            }));
        if (!st.ok()) done(st);
      }));
}

void DockerProvider::ReleaseNics(const std::string& name) {
  auto def = Definition(name);
  if (!def.ok()) return;
  std::vector<std::string> hosts;
  for (const auto& n : def->nics) hosts.push_back(n.host);
  // The kernel removes a dead namespace's veth pairs itself, but late (its cleanup work queue
  // took over 5 s here with a VM booting beside it): labvirt does not leave them to it.
  (void)pool_.Enqueue([hosts] {
    for (const auto& h : hosts) (void)DeleteLink(h);
  });
}

void DockerProvider::Resume(std::string, Done done) { done(Status::Ok()); }

void DockerProvider::Shutdown(std::string name, Done done) {
  stopping_.insert(name);
  auto def = defs_.find(name);
  std::string signal = def != defs_.end() && !def->second.stop_signal.empty()
                           ? def->second.stop_signal
                           : std::string("SIGTERM");
  client_.Request("POST", "/containers/" + name + "/kill?signal=" + UrlEncode(signal), "",
                  Guard(alive_, [this, name, done](Result<HttpResponse> r) {
                    done(Check(r, {204, 409}, "stop " + name));
                  }));
}

void DockerProvider::Destroy(std::string name, Done done) {
  stopping_.insert(name);
  // stop with t=0: SIGKILL, and the answer comes once the container is down.
  client_.Request("POST", "/containers/" + name + "/stop?t=0", "",
                  Guard(alive_, [this, name, done](Result<HttpResponse> r) {
                    Status st = Check(r, {204, 304, 404}, "destroy " + name);
                    if (st.ok()) relays_.erase(name);
                    done(st);
                  }));
}

void DockerProvider::Undefine(std::string name, Done done) {
  client_.Request("DELETE", "/containers/" + name + "?force=1", "",
                  Guard(alive_, [this, name, done](Result<HttpResponse> r) {
                    if (Status st = Check(r, {204, 404}, "remove " + name); !st.ok())
                      return done(st);
                    relays_.erase(name);
                    defs_.erase(name);
                    std::string path = DefinitionPath(state_dir_, name);
                    Status st = pool_.Submit<Status>(
                        [path] {
                          std::error_code ec;
                          std::filesystem::remove(path, ec);
                          return Status::Ok();
                        },
                        Guard(alive_, [done](Status st) { done(st); }));
                    if (!st.ok()) done(st);
                  }));
}

void DockerProvider::GetXml(std::string name, bool live,
                            std::function<void(Result<std::string>)> done) {
  auto def = Definition(name);
  if (!def.ok()) return done(def.status());
  if (!live) return done(RenderContainerDomain(*def));
  auto answer = [this, name, done]() {
    auto def = Definition(name);
    if (!def.ok()) return done(def.status());
    auto relay = relays_.find(name);
    done(RenderContainerDomain(*def, relay == relays_.end() ? "" : relay->second->slave_path()));
  };
  if (relays_.count(name)) return answer();
  // A running container without a relay (labvirtd restarted): attach again.
  client_.Request("GET", "/containers/" + name + "/json", "",
                  Guard(alive_, [this, name, answer, done](Result<HttpResponse> r) {
                    if (Status st = Check(r, {200}, "inspect " + name); !st.ok()) return done(st);
                    auto state = ParseInspect(r->body);
                    if (!state.ok() || !state->running) return answer();
                    // A labvirtd killed between the start and the NICs left the container
                    // without them (and a kind that waits for its interfaces never boots).
                    std::string since = UnixInstantAfter(state->finished_at);
                    PlugMissingNics(name, state->pid, [this, name, since, answer](Status st) {
                      if (!st.ok()) {
                        LogWarn("container NICs not plugged again",
                                {{"container", name}, {"error", st.ToString()}});
                      }
                      // With this run's output so far: its adopter may not have seen the boot
                      // end.
                      OpenConsole(
                          name, [answer](Status) { answer(); }, since);
                    });
                  }));
}

void DockerProvider::SetMetadata(std::string name, std::string metadata_xml, Done done) {
  auto def = Definition(name);
  if (!def.ok()) return done(def.status());
  def->metadata = std::move(metadata_xml);
  Store(std::move(def).value(), std::move(done));
}

void DockerProvider::AttachDevice(std::string name, std::string device_xml, Done done) {
  auto def = Definition(name);
  if (!def.ok()) return done(def.status());
  auto nic = ParseContainerNic(device_xml);
  if (!nic.ok()) return done(nic.status());
  def->nics.push_back(*nic);
  // The definition first: a NIC the container has is always one labvirt knows about.
  Store(std::move(def).value(), [this, name, nic = *nic, done](Status st) {
    if (!st.ok()) return done(st);
    client_.Request("GET", "/containers/" + name + "/json", "",
                    Guard(alive_, [this, name, nic, done](Result<HttpResponse> r) {
                      auto state = r.ok() && r->status == 200
                                       ? ParseInspect(r->body)
                                       : Result<InspectedState>(NotFound(""));
                      if (!state.ok() || !state->running) return done(Status::Ok());
                      PlugNics(name, {nic}, done);
                    }));
  });
}

void DockerProvider::DetachDevice(std::string name, std::string device_xml, Done done) {
  auto def = Definition(name);
  if (!def.ok()) return done(def.status());
  auto nic = ParseContainerNic(device_xml);
  if (!nic.ok()) return done(nic.status());
  std::erase_if(def->nics, [&](const ContainerNic& n) { return n.mac == nic->mac; });
  Store(std::move(def).value(), [this, host = nic->host, done](Status st) {
    if (!st.ok()) return done(st);
    Status sub = pool_.Submit<Status>([host] { return DeleteLink(host); },
                                      Guard(alive_, [done](Status st) { done(st); }));
    if (!sub.ok()) done(sub);
  });
}

void DockerProvider::ListDomains(std::function<void(Result<std::vector<DomainInfo>>)> done) {
  std::string filters = UrlEncode(R"({"label":["labvirt.domain"]})");
  client_.Request("GET", "/containers/json?all=1&filters=" + filters, "",
                  Guard(alive_, [this, done](Result<HttpResponse> r) {
                    if (Status st = Check(r, {200}, "list containers"); !st.ok()) return done(st);
                    auto listed = ParseContainerList(r->body);
                    if (!listed.ok()) return done(listed.status());
                    std::vector<DomainInfo> out;
                    std::map<std::string, ContainerDefinition> seen;
                    for (const auto& c : *listed) {
                      // The stored definition (current metadata) wins over the label (as created).
                      auto it = defs_.find(c.domain);
                      Result<ContainerDefinition> def =
                          it != defs_.end() ? Result<ContainerDefinition>(it->second)
                                            : ParseContainerDomain(c.definition);
                      if (!def.ok()) continue;
                      DomainInfo info;
                      info.name = c.domain;
                      info.active =
                          c.state == "running" || c.state == "paused" || c.state == "restarting";
                      info.paused = c.state == "paused";
                      info.persistent = true;
                      info.metadata = def->metadata;
                      seen[c.domain] = std::move(def).value();
                      out.push_back(std::move(info));
                    }
                    // Containers removed behind labvirt's back are forgotten with their
                    // definitions.
                    defs_ = std::move(seen);
                    done(std::move(out));
                  }));
}

std::vector<DomainInfo> DockerProvider::KnownDomains() const {
  std::vector<DomainInfo> out;
  for (const auto& [name, def] : defs_) out.push_back({name, false, false, true, def.metadata});
  return out;
}

void DockerProvider::ListMacs(std::function<void(Result<std::vector<std::string>>)> done) {
  std::vector<std::string> macs;
  for (const auto& [name, def] : defs_) {
    for (const auto& n : def.nics) macs.push_back(n.mac);
  }
  done(std::move(macs));
}

void DockerProvider::GetHostCapabilities(std::string,
                                         std::function<void(Result<HostCapabilities>)> done) {
  done(FailedPrecondition("docker has no domain capabilities"));
}

}  // namespace labvirt::providers::docker
