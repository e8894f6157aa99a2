// DockerProvider's consoles (docker_provider.h): the container's own TTY through Docker's attach,
// or an exec console (docker exec of the kind's console_cmd with a TTY) kept alive while the
// container runs. Either way a ConsoleRelay turns the stream into the PTY the console hub reads.
#include "providers/docker/alive_guard.h"
#include "providers/docker/docker_json.h"
#include "providers/docker/docker_provider.h"
#include "providers/domain_xml.h"
#include "providers/state_paths.h"
#include "reactor/base/log.h"

namespace labvirt::providers::docker {
namespace {

// At most this many of a run's last lines are replayed into an attached console (a container
// that has printed for weeks is not read whole); a boot's readiness text is near the end.
constexpr int kReplayLines = 2000;

// GET path of the last `lines` lines container `name` printed since `since` (UnixInstantAfter;
// "" = since it was made). Every labvirt container has a TTY, so the body is raw bytes, as the
// attach stream gives them.
std::string LogsSincePath(const std::string& name, const std::string& since, int lines) {
  std::string path =
      "/containers/" + UrlEncode(name) + "/logs?stdout=1&stderr=1&tail=" + std::to_string(lines);
  if (!since.empty()) path += "&since=" + since;
  return path;
}

// The exec console starts at most this often: a console_cmd that exits at once (a typo, a CLI
// that refuses to start yet) costs one exec a second, not a busy loop.
constexpr reactor::Duration kExecRespawnInterval = std::chrono::seconds(1);

// Where the console log of the container `def` goes (virtlogd's place for a VM's serial 0).
std::string LogPathOf(const std::string& state_dir, const ContainerDefinition& def) {
  auto md = ParseNodeMetadata("<domain><metadata>" + def.metadata + "</metadata></domain>");
  return md.ok() ? ConsoleLogPath(state_dir, md->lab, md->node, 0) : "";
}

}  // namespace

void DockerProvider::AttachConsole(const std::string& name, Done then,
                                   std::optional<std::string> replay_since) {
  ConsoleRelayOptions options;
  if (auto def = Definition(name); def.ok()) options.log_path = LogPathOf(state_dir_, *def);
  auto start_relay = [this, name, options, then](HijackedStream s, std::string replay) {
    auto relay = ConsoleRelay::Start(
        reactor_, std::move(s.fd), std::move(replay) + s.pending,
        Guard(alive_,
              [this, name](Status) {
                // The container ended (or dockerd went): drop the relay from a clean stack, not
                // from inside its own callback.
                reactor_.Defer(Guard(alive_, [this, name] { relays_.erase(name); }));
              }),
        options);
    if (!relay.ok()) return then(relay.status().WithContext("console of " + name));
    relays_[name] = std::move(relay).value();
    then(Status::Ok());
  };
  client_.Attach(
      name, Guard(alive_, [this, name, replay_since, start_relay, then](Result<HijackedStream> s) {
        if (!s.ok()) return then(s.status().WithContext("console of " + name));
        if (!replay_since) return start_relay(std::move(s).value(), "");
        // Attached first, then the log: what the container prints between the two arrives on
        // the stream as well, so nothing falls in a gap (a line twice can only match again what
        // already matched). The stream's bytes wait in its socket meanwhile.
        auto stream = std::make_shared<HijackedStream>(std::move(s).value());
        client_.Request(
            "GET", LogsSincePath(name, *replay_since, kReplayLines), "",
            Guard(alive_, [name, stream, start_relay](Result<HttpResponse> r) {
              std::string replay;
              if (r.ok() && r->status == 200) {
                replay = std::move(r->body);
              } else {
                LogWarn("this run's console output not replayed",
                        {{"container", name},
                         {"error", r.ok() ? DockerErrorMessage(*r) : r.status().ToString()}});
              }
              start_relay(std::move(*stream), std::move(replay));
            }));
      }));
}

void DockerProvider::OpenConsole(const std::string& name, Done then,
                                 std::optional<std::string> replay_since) {
  auto def = Definition(name);
  if (def.ok() && !def->console_exec.empty()) return ExecConsole(name, std::move(then));
  AttachConsole(name, std::move(then), std::move(replay_since));
}

void DockerProvider::ExecConsole(const std::string& name, Done then) {
  auto def = Definition(name);
  if (!def.ok()) return then(def.status());
  exec_started_[name] = reactor_.clock().Now();
  std::string log_path = LogPathOf(state_dir_, *def);
  client_.Request(
      "POST", "/containers/" + name + "/exec", ExecCreateBody(def->console_exec),
      Guard(alive_, [this, name, log_path, then](Result<HttpResponse> r) {
        if (Status st = Check(r, {201}, "exec console of " + name); !st.ok()) return then(st);
        auto id = ParseCreatedId(r->body);
        if (!id.ok()) return then(id.status().WithContext("exec console of " + name));
        client_.StartExec(
            *id, ExecStartBody(),
            Guard(alive_, [this, name, log_path, then](Result<HijackedStream> s) {
              if (!s.ok()) return then(s.status().WithContext("exec console of " + name));
              auto it = relays_.find(name);
              if (it != relays_.end() && !it->second->closed() && !it->second->has_stream()) {
                return then(it->second->Reattach(std::move(s->fd), std::move(s->pending)));
              }
              ConsoleRelayOptions options;
              options.log_path = log_path;
              options.keep_pty = true;
              auto relay = ConsoleRelay::Start(
                  reactor_, std::move(s->fd), std::move(s->pending),
                  Guard(alive_,
                        [this, name](Status) {
                          reactor_.Defer(Guard(alive_, [this, name] { OnExecEnded(name); }));
                        }),
                  options);
              if (!relay.ok()) return then(relay.status().WithContext("console of " + name));
              relays_[name] = std::move(relay).value();
              then(Status::Ok());
            }));
      }));
}

void DockerProvider::OnExecEnded(const std::string& name) {
  auto it = relays_.find(name);
  // Gone (the container stopped, labvirt destroyed it) or already given a new stream.
  if (it == relays_.end() || it->second->has_stream() || stopping_.count(name)) return;
  reactor::TimePoint next = exec_started_[name] + kExecRespawnInterval;
  reactor::Duration wait = std::max(reactor::Duration::zero(), next - reactor_.clock().Now());
  exec_respawn_[name] = reactor_.After(wait, [this, name] {
    auto it = relays_.find(name);
    if (it == relays_.end() || it->second->has_stream() || stopping_.count(name)) return;
    ExecConsole(name, [this, name](Status st) {
      if (st.ok()) return;
      // A container that stopped answers 409 and its "die" drops the relay; anything else is
      // tried again a second later, as an exited shell is.
      LogWarn("exec console failed", {{"container", name}, {"error", st.ToString()}});
      if (st.code() != StatusCode::kFailedPrecondition && st.code() != StatusCode::kNotFound) {
        OnExecEnded(name);
      }
    });
  });
}

}  // namespace labvirt::providers::docker
