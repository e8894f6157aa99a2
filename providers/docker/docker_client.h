// DockerClient: the Docker Engine API (v1.41, Debian 12's docker.io 20.10) over dockerd's Unix
// socket, on the reactor.
//
// Each request, event watch and attach gets its own connection, closed when it ends: requests are
// rare (container lifecycle), a local connect costs microseconds, /events and attach take their
// connection over anyway, and with no pool a stale keep-alive connection can never fail a request
// that was never sent.
//
// What it does not own: the reactor (must outlive the client). Callbacks may call into the client
// again (Request, WatchEvents, CancelEvents, Attach) but must not destroy it; destroy it from a
// clean stack (reactor.Defer).
//
// Threads: loop thread only.
//
// Errors: kUnavailable "dockerd at PATH: <why>" when dockerd cannot be reached or the connection
// breaks before the answer is complete (a request may or may not have been applied then);
// kDeadlineExceeded after request_timeout; kInvalidArgument when dockerd's reply is not HTTP.
#ifndef LABVIRT_PROVIDERS_DOCKER_DOCKER_CLIENT_H_
#define LABVIRT_PROVIDERS_DOCKER_DOCKER_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "providers/docker/http_parser.h"
#include "reactor/base/status.h"
#include "reactor/base/unique_fd.h"
#include "reactor/reactor.h"

namespace labvirt::providers::docker {

// A connection Docker handed over after `101 UPGRADED` (attach): raw bytes both ways from now on.
struct HijackedStream {
  UniqueFd fd;          // non-blocking Unix socket
  std::string pending;  // bytes read past the 101 response: the stream's first output
};

struct DockerClientOptions {
  std::string socket_path = "/var/run/docker.sock";
  std::chrono::milliseconds request_timeout{30000};
};

// The API version prefix of every request target.
inline constexpr std::string_view kDockerApiPrefix = "/v1.41";

class DockerClient {
 public:
  // `reactor` must outlive the client.
  DockerClient(reactor::Reactor& reactor, DockerClientOptions options);
  // Cancels every request and stream: no callback runs after.
  ~DockerClient();
  DockerClient(const DockerClient&) = delete;
  DockerClient& operator=(const DockerClient&) = delete;

  const std::string& socket_path() const { return options_.socket_path; }

  // One request; `target` is the API path without the version prefix, e.g.
  // "/containers/json?all=1"; `body` JSON ("" = none, sent with Content-Type: application/json
  // when non-empty). `done` runs once on the loop thread: the complete response whatever its
  // status, or kUnavailable "dockerd at PATH: <why>" (cannot connect, connection lost),
  // kDeadlineExceeded after request_timeout.
  void Request(std::string method, std::string target, std::string body,
               std::function<void(Result<HttpResponse>)> done);

  // GET /events?filters=<url-encoded filters_json> ("" = no filter): each event (one JSON object)
  // to on_event, the view valid only during the call; on_end once when the stream ends or fails
  // (kUnavailable when dockerd stopped or closed it, Docker's error when it refused the watch).
  // No timeout. Returns an id for CancelEvents (on_end does not run then).
  uint64_t WatchEvents(std::string filters_json,
                       std::function<void(std::string_view event_json)> on_event,
                       std::function<void(Status)> on_end);
  // Ends watch `id`; unknown or ended ids are ignored.
  void CancelEvents(uint64_t id);

  // POST /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1 with "Connection: Upgrade",
  // "Upgrade: tcp"; on 101 hands the socket over (works on a created, not yet started container
  // too: its output from the start then arrives on the stream). Any other status: the error with
  // Docker's message (see DockerStatus). request_timeout applies until the 101.
  // Observed with dockerd 20.10: stdin written in the first moments after the start may be
  // dropped (a line sent as soon as the first output arrived was lost in ~20% of runs; never
  // 300 ms later). Callers whose first input matters wait for a prompt and resend.
  void Attach(std::string container, std::function<void(Result<HijackedStream>)> done);

  // POST /exec/{id}/start with `body` (docker_json.h ExecStartBody) and "Connection: Upgrade":
  // the exec instance's stream, handed over as Attach hands over the container's (same errors,
  // same timeout until the 101). The exec instance comes from a Request to
  // /containers/{id}/exec.
  void StartExec(std::string exec_id, std::string body,
                 std::function<void(Result<HijackedStream>)> done);

  // Requests, watches and attaches in progress.
  size_t pending() const { return calls_.size(); }

 private:
  struct Call;
  enum class Kind { kRequest, kEvents, kAttach };

  uint64_t Start(Kind kind, std::string request, std::unique_ptr<Call> call);
  // A POST to `target` that the server answers with 101 and hands over (attach, exec start).
  void Hijack(std::string what, const std::string& target, const std::string& body,
              std::function<void(Result<HijackedStream>)> done);
  void OnConnected(uint64_t id, Status status);
  void SendMore(uint64_t id);
  void StartRead(uint64_t id);
  void OnBytes(uint64_t id, std::string_view bytes);
  void OnEof(uint64_t id);
  // Ends call `id` with `status` (its callback runs last, the call already gone).
  void Fail(uint64_t id, Status status);
  void Complete(uint64_t id);
  std::string Where() const { return "dockerd at " + options_.socket_path; }

  reactor::Reactor& reactor_;
  const DockerClientOptions options_;
  uint64_t next_id_ = 1;
  // Each call owns its handles, so erasing it cancels them.
  std::map<uint64_t, std::unique_ptr<Call>> calls_;
};

// Docker's message from an error reply ({"message": "..."}), else "HTTP <status>".
std::string DockerErrorMessage(const HttpResponse& response);
// A Status for an error reply: kNotFound (404), kAlreadyExists / kFailedPrecondition (409: name
// in use / container state), kInvalidArgument (400), else kUnavailable; the message is
// "<what>: <Docker's message>".
Status DockerStatus(const HttpResponse& response, std::string_view what);
// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
std::string UrlEncode(std::string_view text);

}  // namespace labvirt::providers::docker

#endif  // LABVIRT_PROVIDERS_DOCKER_DOCKER_CLIENT_H_
