#include "engine/control/control_server.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>

#include "engine/control/peer_access.h"
#include "reactor/base/log.h"

namespace labvirt::engine {

struct ControlServer::Client {
  explicit Client(size_t max_line_bytes) : framer(max_line_bytes) {}
  UniqueFd fd;
  LineFramer framer;
  std::deque<std::string> out;
  size_t out_bytes = 0;
  bool sending = false;
  // Inside OnRecv: answers ready now are queued and leave together in one send after the chunk.
  bool batching = false;
  bool closing = false;
  bool eof = false;  // the client shut down its sending side: close once every answer is out
  // Too many requests awaiting answers: no more is read or answered; the error line goes out,
  // then the connection closes with this reason.
  std::string cut_off;
  // Answers not yet sent, in request order; an async method fills its slot later.
  struct Slot {
    uint64_t seq;
    bool ready;
    std::string line;
  };
  std::deque<Slot> pending;
  uint64_t next_seq = 1;
  // Set by TakeOver: once the output is flushed, the socket leaves the server.
  std::function<void(UniqueFd)> takeover;
  // Declared last: cancelled before the buffers above die.
  reactor::OpHandle recv_op;
  reactor::OpHandle send_op;
};

namespace {

// Queued lines are joined into one send up to about this size.
constexpr size_t kSendChunk = 64 * 1024;
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

// A misspelt optional parameter ("wiat") would otherwise be ignored and its default used without
// a word; so every member must be one the method takes.
std::optional<RpcError> CheckParamNames(std::string_view method, const ParamNames& names,
                                        simdjson::dom::element params) {
  simdjson::dom::array arr;
  if (params.get_array().get(arr) == simdjson::SUCCESS) {
    if (arr.size() == 0) return std::nullopt;
    return FieldError(kInvalidParams, "invalid params", "params",
                      "must be an object: labvirt's methods take named parameters");
  }
  simdjson::dom::object obj;
  if (params.get_object().get(obj) != simdjson::SUCCESS) return std::nullopt;  // null: none
  for (auto [key, value] : obj) {
    if (std::find(names.begin(), names.end(), key) != names.end()) continue;
    std::string takes;
    for (const auto& n : names) takes += (takes.empty() ? "" : ", ") + n;
    return FieldError(kInvalidParams, "invalid params", key,
                      "unknown parameter of " + std::string(method) +
                          (takes.empty() ? " (it takes none)" : " (it takes " + takes + ")"));
  }
  return std::nullopt;
}

}  // namespace

ControlServer::ControlServer(reactor::Reactor& reactor, ControlServerOptions options)
    : reactor_(reactor), options_(options) {}

ControlServer::~ControlServer() {
  accept_op_.Cancel();
  accept_retry_.Cancel();
  clients_.clear();
  if (listen_fd_.valid() && !path_.empty()) ::unlink(path_.c_str());
}

Status ControlServer::Listen(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return InvalidArgument("socket path must be 1-107 bytes: " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return Internal("create directory for " + path + ": " + ec.message());

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Status::FromErrno(errno, "socket");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return FailedPrecondition(path + " exists and is not a socket");
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      return FailedPrecondition("another labvirtd is already listening on " + path);
    }
    ::unlink(path.c_str());  // stale socket of a dead daemon
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    return Status::FromErrno(errno, "bind " + path);
  }
  path_ = path;
  listen_fd_ = std::move(fd);
  ::chmod(path.c_str(), 0660);
  own_uid_ = ::geteuid();
  access_group_ = AccessGroup();
  if (access_group_) {
    if (::chown(path.c_str(), static_cast<uid_t>(-1), *access_group_) < 0) {
      LogWarn("socket group not set", {{"path", path}, {"error", std::strerror(errno)}});
    }
  }
  if (::listen(listen_fd_.get(), 512) < 0) return Status::FromErrno(errno, "listen " + path);
  StartAccept();
  return Status::Ok();
}

void ControlServer::StartAccept() {
  accept_op_ = reactor_.Accept(
      listen_fd_.get(), [this](Result<UniqueFd> r) { OnAccept(std::move(r)); },
      /*multishot=*/true);
}

void ControlServer::AddMethod(std::string name, ParamNames params, RpcHandler handler) {
  AddAsyncMethod(std::move(name), std::move(params),
                 [handler = std::move(handler)](simdjson::dom::element params, RpcContext,
                                                RpcReply reply) { reply(handler(params)); });
}

void ControlServer::AddAsyncMethod(std::string name, ParamNames params, AsyncRpcHandler handler) {
  methods_[std::move(name)] = Method{std::move(params), std::move(handler)};
}

void ControlServer::OnAccept(Result<UniqueFd> r) {
  if (!r.ok()) {
    // An error ends the multishot accept (EMFILE when the process is out of fds). Connections
    // wait in the backlog meanwhile: try again after a pause rather than spin or stop accepting.
    if (!accept_failing_) LogWarn("accept failed; retrying", {{"error", r.status().ToString()}});
    accept_failing_ = true;
    accept_retry_ = reactor_.After(kAcceptRetry, [this] { StartAccept(); });
    return;
  }
  if (accept_failing_) LogInfo("accepting again");
  accept_failing_ = false;
  UniqueFd fd = std::move(r).value();
  if (clients_.size() >= options_.max_clients) {
    Refuse(fd, "too many clients", "clients",
           "at most " + std::to_string(options_.max_clients) + " clients at once; try again later");
    LogWarn("client refused: too many clients", {{"max", std::to_string(options_.max_clients)}});
    return;
  }
  Result<PeerCredentials> peer = ReadPeerCredentials(fd.get());
  if (!peer.ok()) {
    Refuse(fd, "permission denied", "client", "its credentials are unknown");
    LogWarn("client refused: credentials unknown", {{"error", peer.status().ToString()}});
    return;
  }
  const std::string pid = std::to_string(peer->pid), uid = std::to_string(peer->uid),
                    gid = std::to_string(peer->gid);
  if (!PeerAllowed(*peer, own_uid_, access_group_)) {
    Refuse(fd, "permission denied", "client", RefusalMessage(*peer));
    LogWarn("client refused: neither root nor in group labvirt",
            {{"pid", pid}, {"uid", uid}, {"gid", gid}});
    return;
  }
  uint64_t id = next_client_id_++;
  LogInfo("client connected",
          {{"client", std::to_string(id)}, {"pid", pid}, {"uid", uid}, {"gid", gid}});
  auto client = std::make_unique<Client>(options_.max_line_bytes);
  client->fd = std::move(fd);
  clients_[id] = std::move(client);
  StartRecv(id);
}

void ControlServer::Refuse(const UniqueFd& fd, std::string summary, std::string_view field,
                           std::string_view reason) {
  std::string msg =
      ErrorResponse("null", FieldError(kInternalError, std::move(summary), field, reason)) + "\n";
  // Best effort: the connection closes right after, whether or not the client reads it.
  ssize_t ignored = ::send(fd.get(), msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)ignored;
}

void ControlServer::StartRecv(uint64_t id) {
  Client& c = *clients_.at(id);
  // One multishot recv for the connection's life: no re-arm (and no poll set-up) per request.
  c.recv_op = reactor_.RecvMultishot(
      c.fd.get(), [this, id](Result<std::span<const char>> r) { OnRecv(id, r); });
}

void ControlServer::OnRecv(uint64_t id, Result<std::span<const char>> r) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  Client& c = *it->second;
  if (!r.ok() || r->empty()) {
    if (r.ok() && (c.sending || !c.pending.empty())) {
      // Half-closed (`printf '…\n' | socat - UNIX-CONNECT:…`): answer what was asked first.
      c.eof = true;
      return;
    }
    Close(id, r.ok() ? "eof" : r.status().ToString());
    return;
  }
  if (!c.cut_off.empty()) return;  // a chunk that was in flight when reading stopped
  std::string_view data(r->data(), r->size());
  c.batching = true;
  while (!c.closing && !c.takeover) {
    std::optional<LineFramer::Frame> frame = c.framer.Next(data);
    if (!frame) break;
    if (c.pending.size() >= options_.max_pending_requests) {
      CutOff(id);
      break;
    }
    uint64_t seq = c.next_seq++;
    c.pending.push_back({seq, false, {}});
    if (frame->kind == LineFramer::Frame::Kind::kTooLong) {
      Respond(id, seq,
              ErrorResponse(
                  "null",
                  FieldError(kInvalidRequest, "request line too long", "line",
                             "longer than " + std::to_string(options_.max_line_bytes) + " bytes")));
      continue;
    }
    // Invoke may close the client, but its erase is deferred: `c` stays valid in this pass.
    Invoke(id, frame->line,
           [this, id, seq](std::string response) { Respond(id, seq, std::move(response)); });
  }
  c.batching = false;
  if (!c.sending && !c.out.empty()) Flush(id);
}

std::string ControlServer::HandleLine(std::string_view line) {
  std::string out;
  bool answered = false;
  Invoke(0, line, [&](std::string response) {
    out = std::move(response);
    answered = true;
  });
  LABVIRT_CHECK(answered);  // HandleLine is for synchronous methods only
  return out;
}

void ControlServer::Invoke(uint64_t client, std::string_view line,
                           std::function<void(std::string)> respond) {
  auto decoded = decoder_.Decode(line);
  if (auto* bad = std::get_if<EnvelopeError>(&decoded)) {
    return respond(ErrorResponse(bad->id_json, bad->error));
  }
  Request& req = std::get<Request>(decoded);
  auto reply = [has_id = req.has_id, id_json = req.id_json, respond](RpcResult result) {
    if (!has_id) return respond("");  // a notification gets no answer
    if (const RpcError* err = std::get_if<RpcError>(&result)) {
      return respond(ErrorResponse(id_json, *err));
    }
    respond(ResultResponse(id_json, std::get<std::string>(result)));
  };
  auto handler = methods_.find(req.method);
  if (handler == methods_.end()) {
    return reply(FieldError(kMethodNotFound, "method not found", "method",
                            "no method named '" + std::string(req.method) + "'"));
  }
  if (auto bad = CheckParamNames(req.method, handler->second.params, req.params)) {
    return reply(*bad);
  }
  handler->second.handler(req.params, RpcContext{client}, std::move(reply));
}
void ControlServer::CutOff(uint64_t id) {
  Client& c = *clients_.at(id);
  const std::string max = std::to_string(options_.max_pending_requests);
  c.cut_off = "more than " + max + " requests awaiting answers";
  LogWarn("client cut off: too many requests awaiting answers",
          {{"client", std::to_string(id)}, {"max", max}});
  c.recv_op.Cancel();
  c.pending.clear();  // their answers, when they come, find no slot and are dropped
  c.eof = true;       // Flush closes once the error line is out
  Enqueue(id, ErrorResponse("null", FieldError(kInternalError, "too many requests", "requests",
                                               "at most " + max +
                                                   " requests awaiting answers per client; read "
                                                   "the answers before sending more")));
}

void ControlServer::Respond(uint64_t client, uint64_t seq, std::string line) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;  // the client left before its answer was ready
  Client& c = *it->second;
  for (auto& slot : c.pending) {
    if (slot.seq != seq) continue;
    slot.ready = true;
    slot.line = std::move(line);
    break;
  }
  // Answers leave in request order: move the ready prefix to the output queue.
  while (!c.pending.empty() && c.pending.front().ready) {
    std::string l = std::move(c.pending.front().line);
    c.pending.pop_front();
    Enqueue(client, std::move(l));
    if (!clients_.count(client) || c.closing) return;
  }
  if (c.eof && !c.sending) Flush(client);  // the last answer may have been a notification's ""
}

void ControlServer::Notify(uint64_t client, std::string_view method, std::string_view params) {
  if (!clients_.count(client)) return;
  Enqueue(client, Notification(method, params));
}

void ControlServer::NotifyLine(uint64_t client, std::string_view notification) {
  if (!clients_.count(client)) return;
  std::string line;
  line.reserve(notification.size() + 1);  // Enqueue appends the newline without regrowing
  line.append(notification);
  Enqueue(client, std::move(line));
}

void ControlServer::TakeOver(uint64_t client, std::function<void(UniqueFd)> take) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  // Stop reading now: what the client sends next is raw console input, not requests.
  it->second->recv_op.Cancel();
  it->second->takeover = std::move(take);
  if (!it->second->sending) Flush(client);
}

void ControlServer::Enqueue(uint64_t id, std::string line) {
  if (line.empty()) return;
  Client& c = *clients_.at(id);
  line += '\n';
  c.out_bytes += line.size();
  c.out.push_back(std::move(line));
  if (c.out_bytes > options_.max_output_bytes) {
    Close(id, "client does not read its responses (output queue full)");
    return;
  }
  if (!c.sending && !c.batching) Flush(id);
}

void ControlServer::Flush(uint64_t id) {
  Client& c = *clients_.at(id);
  if (c.out.empty() && c.takeover && !c.closing) {
    // Everything owed is sent: the raw stream (a console) takes the socket from here.
    c.sending = false;
    c.closing = true;
    c.recv_op.Cancel();
    auto take = std::move(c.takeover);
    UniqueFd fd = std::move(c.fd);
    reactor_.Defer([this, id] { clients_.erase(id); });
    if (client_closed_) client_closed_(id);
    take(std::move(fd));
    return;
  }
  if (c.out.empty() || c.closing) {
    c.sending = false;
    if (c.eof && c.pending.empty()) Close(id, c.cut_off.empty() ? "eof" : c.cut_off);
    return;
  }
  c.sending = true;
  // Coalesce queued lines into one send; pipelined answers leave in one syscall. MSG_WAITALL: the
  // ring finishes a short stream send itself, so the chunk is handed over, not copied.
  std::string chunk = std::move(c.out.front());
  c.out.pop_front();
  while (!c.out.empty() && chunk.size() < kSendChunk) {
    chunk += c.out.front();
    c.out.pop_front();
  }
  const size_t size = chunk.size();
  c.send_op = reactor_.Send(
      c.fd.get(), std::move(chunk),
      [this, id, size](Result<size_t> r) {
        auto it = clients_.find(id);
        if (it == clients_.end()) return;
        Client& client = *it->second;
        if (!r.ok()) {
          Close(id, r.status().ToString());
          return;
        }
        if (*r < size) {
          Close(id, "the socket took only part of an answer");
          return;
        }
        client.out_bytes -= *r;
        Flush(id);
      },
      MSG_NOSIGNAL | MSG_WAITALL);
}

void ControlServer::Close(uint64_t id, const std::string& reason) {
  auto it = clients_.find(id);
  if (it == clients_.end() || it->second->closing) return;
  it->second->closing = true;
  LogInfo("client disconnected", {{"client", std::to_string(id)}, {"reason", reason}});
  if (client_closed_) client_closed_(id);
  // Defer: we may be inside this client's own callback.
  reactor_.Defer([this, id] { clients_.erase(id); });
}

}  // namespace labvirt::engine
