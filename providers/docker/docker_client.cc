#include "providers/docker/docker_client.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "reactor/base/json_splitter.h"

namespace labvirt::providers::docker {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
// Enough of a refused watch's body for Docker's message; the rest is dropped.
constexpr size_t kMaxErrorBody = 64 * 1024;

std::string BuildRequest(std::string_view method, std::string_view target, std::string_view body,
                         bool upgrade) {
  std::string r;
  r.append(method).append(" ").append(kDockerApiPrefix).append(target).append(" HTTP/1.1\r\n");
  // dockerd ignores the host, but HTTP/1.1 requires the header.
  r += "Host: docker\r\nUser-Agent: labvirt\r\n";
  r += upgrade ? "Connection: Upgrade\r\nUpgrade: tcp\r\n" : "Connection: close\r\n";
  if (!body.empty()) r += "Content-Type: application/json\r\n";
  if (!body.empty() || method != "GET") {
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  r += "\r\n";
  r.append(body);
  return r;
}

}  // namespace

struct DockerClient::Call {
  explicit Call(Kind k) : kind(k), parser(/*accumulate=*/k != Kind::kEvents) {}

  const Kind kind;
  std::string what;  // "GET /version", for messages
  UniqueFd fd;
  std::string unsent;
  HttpResponseParser parser;
  JsonSplitter splitter{1u << 20};
  std::vector<std::string> events;  // completed by the bytes being parsed
  Status stream_error;              // the splitter's, for a watch
  std::string error_body;           // of a refused watch
  std::function<void(Result<HttpResponse>)> on_response;
  std::function<void(Result<HijackedStream>)> on_attach;
  std::function<void(std::string_view)> on_event;
  std::function<void(Status)> on_end;
  // Handles last: they die first.
  reactor::OpHandle connect_op;
  reactor::OpHandle send_op;
  reactor::OpHandle read_op;
  reactor::OpHandle timer;  // the request timeout, or the deferred report of a local failure
};

DockerClient::DockerClient(reactor::Reactor& reactor, DockerClientOptions options)
    : reactor_(reactor), options_(std::move(options)) {}

DockerClient::~DockerClient() = default;

void DockerClient::Request(std::string method, std::string target, std::string body,
                           std::function<void(Result<HttpResponse>)> done) {
  auto call = std::make_unique<Call>(Kind::kRequest);
  call->what = method + " " + target;
  call->on_response = std::move(done);
  Start(Kind::kRequest, BuildRequest(method, target, body, false), std::move(call));
}

uint64_t DockerClient::WatchEvents(std::string filters_json,
                                   std::function<void(std::string_view)> on_event,
                                   std::function<void(Status)> on_end) {
  auto call = std::make_unique<Call>(Kind::kEvents);
  std::string target = "/events";
  if (!filters_json.empty()) target += "?filters=" + UrlEncode(filters_json);
  call->what = "GET /events";
  call->on_event = std::move(on_event);
  call->on_end = std::move(on_end);
  Call* c = call.get();
  // Runs inside Feed: only collect here; the events are handed out after Feed returns, so that
  // on_event may cancel the watch without destroying the parser under itself.
  c->parser.SetBodyCallback([c](std::string_view bytes) {
    if (c->parser.response().status != 200) {
      if (c->error_body.size() < kMaxErrorBody) c->error_body.append(bytes);
      return;
    }
    if (c->stream_error.ok()) c->stream_error = c->splitter.Feed(bytes, &c->events);
  });
  return Start(Kind::kEvents, BuildRequest("GET", target, "", false), std::move(call));
}

void DockerClient::CancelEvents(uint64_t id) {
  auto it = calls_.find(id);
  if (it != calls_.end() && it->second->kind == Kind::kEvents) calls_.erase(it);
}

void DockerClient::Attach(std::string container, std::function<void(Result<HijackedStream>)> done) {
  std::string target =
      "/containers/" + UrlEncode(container) + "/attach?stream=1&stdin=1&stdout=1&stderr=1";
  Hijack("attach to container " + container, target, "", std::move(done));
}

void DockerClient::StartExec(std::string exec_id, std::string body,
                             std::function<void(Result<HijackedStream>)> done) {
  Hijack("start exec " + exec_id, "/exec/" + UrlEncode(exec_id) + "/start", body, std::move(done));
}

void DockerClient::Hijack(std::string what, const std::string& target, const std::string& body,
                          std::function<void(Result<HijackedStream>)> done) {
  auto call = std::make_unique<Call>(Kind::kAttach);
  call->what = std::move(what);
  call->on_attach = std::move(done);
  Start(Kind::kAttach, BuildRequest("POST", target, body, true), std::move(call));
}

uint64_t DockerClient::Start(Kind kind, std::string request, std::unique_ptr<Call> call) {
  const uint64_t id = next_id_++;
  Call& c = *call;
  c.unsent = std::move(request);
  calls_.emplace(id, std::move(call));
  if (kind != Kind::kEvents) {
    c.timer = reactor_.After(options_.request_timeout, [this, id] {
      auto it = calls_.find(id);
      std::string what = it == calls_.end() ? "" : it->second->what;
      Fail(id, Status(StatusCode::kDeadlineExceeded,
                      Where() + ": no complete answer to " + what + " within " +
                          std::to_string(options_.request_timeout.count()) + " ms"));
    });
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    // Reported from the loop, never from inside the caller's own call.
    Status s = Unavailable(Where() + ": " + Status::FromErrno(errno, "socket").message());
    c.timer = reactor_.After(reactor::Duration::zero(), [this, id, s] { Fail(id, s); });
    return id;
  }
  c.fd.Reset(fd);
  c.connect_op = reactor_.Connect(fd, options_.socket_path,
                                  [this, id](Status s) { OnConnected(id, std::move(s)); });
  return id;
}

void DockerClient::OnConnected(uint64_t id, Status status) {
  if (!status.ok()) {
    // Includes EAGAIN: a local connect never waits, so a full backlog is a failure too.
    Fail(id, Unavailable(Where() + ": " + status.message()));
    return;
  }
  SendMore(id);
  StartRead(id);
}

void DockerClient::SendMore(uint64_t id) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  Call& c = *it->second;
  c.send_op = reactor_.Send(c.fd.get(), c.unsent, [this, id](Result<size_t> r) {
    if (!r.ok()) {
      Fail(id, Unavailable(Where() + ": sending the request: " + r.status().message()));
      return;
    }
    auto it = calls_.find(id);
    if (it == calls_.end()) return;
    it->second->unsent.erase(0, *r);
    if (!it->second->unsent.empty()) SendMore(id);
  });
}

void DockerClient::StartRead(uint64_t id) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  Call& c = *it->second;
  c.read_op = reactor_.Recv(c.fd.get(), kReadChunk, [this, id](Result<std::span<const char>> r) {
    if (!r.ok()) {
      Fail(id, Unavailable(Where() + ": reading the answer: " + r.status().message()));
    } else if (r->empty()) {
      OnEof(id);
    } else {
      OnBytes(id, std::string_view(r->data(), r->size()));
    }
  });
}

void DockerClient::OnBytes(uint64_t id, std::string_view bytes) {
  Call* c = calls_.at(id).get();
  Status s = c->parser.Feed(bytes);
  if (c->kind == Kind::kEvents && !c->events.empty()) {
    std::vector<std::string> events = std::move(c->events);
    c->events.clear();
    for (const std::string& e : events) {
      auto it = calls_.find(id);
      if (it == calls_.end()) return;  // on_event cancelled the watch
      it->second->on_event(e);
    }
    auto it = calls_.find(id);
    if (it == calls_.end()) return;
    c = it->second.get();
  }
  if (!s.ok()) {
    Fail(id, s.WithContext(Where()));
  } else if (!c->stream_error.ok()) {
    Fail(id, c->stream_error.WithContext(Where()));
  } else if (c->parser.done() || c->parser.upgraded()) {
    Complete(id);
  } else {
    StartRead(id);
  }
}

void DockerClient::OnEof(uint64_t id) {
  Call& c = *calls_.at(id);
  Status s = c.parser.FeedEof();
  if (!s.ok()) {
    Fail(id, Unavailable(Where() + ": connection closed before the answer to " + c.what +
                         " was complete (" + s.message() + ")"));
    return;
  }
  Complete(id);
}

void DockerClient::Complete(uint64_t id) {
  auto node = calls_.extract(id);
  std::unique_ptr<Call> c = std::move(node.mapped());
  HttpResponse response = c->parser.TakeResponse();
  switch (c->kind) {
    case Kind::kRequest: {
      auto done = std::move(c->on_response);
      c.reset();
      done(std::move(response));
      return;
    }
    case Kind::kAttach: {
      auto done = std::move(c->on_attach);
      if (response.status != 101) {
        Status s = DockerStatus(response, Where() + ": " + c->what);
        c.reset();
        done(std::move(s));
        return;
      }
      // The caller drives the stream with its own ops; non-blocking so a stray read() or write()
      // outside the reactor cannot stall the loop.
      int flags = ::fcntl(c->fd.get(), F_GETFL);
      ::fcntl(c->fd.get(), F_SETFL, flags | O_NONBLOCK);
      HijackedStream stream{std::move(c->fd), c->parser.TakeLeftover()};
      c.reset();
      done(std::move(stream));
      return;
    }
    case Kind::kEvents: {
      auto on_end = std::move(c->on_end);
      Status s = Unavailable(Where() + ": the event stream ended");
      if (response.status != 200) {
        response.body = std::move(c->error_body);
        s = DockerStatus(response, Where() + ": " + c->what);
      }
      c.reset();
      on_end(std::move(s));
      return;
    }
  }
}

void DockerClient::Fail(uint64_t id, Status status) {
  auto node = calls_.extract(id);
  if (node.empty()) return;
  std::unique_ptr<Call> c = std::move(node.mapped());
  switch (c->kind) {
    case Kind::kRequest: {
      auto done = std::move(c->on_response);
      c.reset();
      done(std::move(status));
      return;
    }
    case Kind::kAttach: {
      auto done = std::move(c->on_attach);
      c.reset();
      done(std::move(status));
      return;
    }
    case Kind::kEvents: {
      auto on_end = std::move(c->on_end);
      c.reset();
      on_end(std::move(status));
      return;
    }
  }
}

}  // namespace labvirt::providers::docker
