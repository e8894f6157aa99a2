#include "ovs/ovsdb_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>

#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::ovs {

namespace {
constexpr size_t kReadChunk = 256 * 1024;
}  // namespace

OvsdbClient::OvsdbClient(reactor::Reactor& reactor, OvsdbClientOptions options)
    : reactor_(reactor),
      options_(std::move(options)),
      backoff_(options_.backoff_initial),
      splitter_(options_.max_message_bytes) {}

OvsdbClient::~OvsdbClient() = default;

void OvsdbClient::Start() {
  if (state_ != State::kIdle) return;
  Connect();
}

void OvsdbClient::Connect() {
  state_ = State::kConnecting;
  const std::string& remote = options_.remote;
  if (remote.rfind("unix:", 0) == 0) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      OnConnected(Status::FromErrno(errno, "socket(AF_UNIX)"));
      return;
    }
    fd_.Reset(fd);
    connect_op_ = reactor_.Connect(fd, remote.substr(5), [this](Status s) { OnConnected(s); });
    return;
  }
  if (remote.rfind("tcp:", 0) == 0) {
    Status s = StartTcpConnect(std::string_view(remote).substr(4));
    if (!s.ok()) OnConnected(s);
    return;
  }
  // A configuration error: retrying will not help, but keep the state machine uniform.
  OnConnected(
      InvalidArgument("OVSDB remote \"" + remote + "\" is neither unix:PATH nor tcp:IP:PORT"));
}

Status OvsdbClient::StartTcpConnect(std::string_view hostport) {
  size_t colon = hostport.rfind(':');
  if (colon == std::string_view::npos) return InvalidArgument("tcp remote without :PORT");
  std::string host(hostport.substr(0, colon));
  int port = std::atoi(std::string(hostport.substr(colon + 1)).c_str());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (port <= 0 || port > 65535 || ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgument("tcp remote \"" + std::string(hostport) + "\" is not IPv4:PORT");
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::FromErrno(errno, "socket(AF_INET)");
  fd_.Reset(fd);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    reactor_.Defer([this] { OnConnected(Status::Ok()); });
    return Status::Ok();
  }
  if (errno != EINPROGRESS) return Status::FromErrno(errno, "connect " + std::string(hostport));
  // A non-blocking connect finishes when the socket becomes writable; SO_ERROR says how.
  connect_op_ = reactor_.Poll(fd, POLLOUT, [this](Result<uint32_t> r) {
    if (!r.ok()) {
      OnConnected(r.status());
      return;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    OnConnected(err == 0 ? Status::Ok() : Status::FromErrno(err, "connect " + options_.remote));
  });
  return Status::Ok();
}

void OvsdbClient::OnConnected(Status status) {
  if (!status.ok()) {
    LogWarn("ovsdb connect failed", {{"remote", options_.remote}, {"error", status.ToString()}});
    fd_.Reset();
    state_ = State::kBackoff;
    reactor::Duration delay = backoff_;
    backoff_ = std::min(backoff_ * 2, options_.backoff_max);
    backoff_timer_ = reactor_.After(delay, [this] { Connect(); });
    return;
  }
  state_ = State::kConnected;
  backoff_ = options_.backoff_initial;
  ++connects_;
  ++generation_;
  splitter_.Reset();
  write_queue_.clear();
  write_in_flight_ = false;
  last_rx_ = reactor_.clock().Now();
  echo_outstanding_ = false;
  LogInfo("ovsdb connected", {{"remote", options_.remote}});
  StartRead();
  if (options_.probe_interval.count() > 0) {
    probe_timer_ = reactor_.Every(options_.probe_interval, [this] { OnProbeTick(); });
  }
  if (on_state_) on_state_(true);
}

void OvsdbClient::StartRead() {
  const uint64_t generation = generation_;
  read_op_ =
      reactor_.Recv(fd_.get(), kReadChunk, [this, generation](Result<std::span<const char>> r) {
        if (!r.ok()) {
          Disconnect(r.status().WithContext("ovsdb read"));
          return;
        }
        if (r->empty()) {
          Disconnect(Unavailable("ovsdb-server closed the connection"));
          return;
        }
        OnBytes(*r);
        // The handlers may have dropped the connection.
        if (generation == generation_) StartRead();
      });
}

void OvsdbClient::OnBytes(std::span<const char> bytes) {
  last_rx_ = reactor_.clock().Now();
  echo_outstanding_ = false;
  messages_.clear();
  Status s = splitter_.Feed(std::string_view(bytes.data(), bytes.size()), &messages_);
  std::vector<std::string> batch = std::move(messages_);
  messages_.clear();
  const uint64_t generation = generation_;
  for (const std::string& m : batch) {
    if (generation != generation_) return;
    HandleMessage(m);
  }
  if (!s.ok() && generation == generation_) Disconnect(s);
}

void OvsdbClient::HandleMessage(const std::string& text) {
  simdjson::dom::element doc;
  if (auto err = parser_.parse(text).get(doc); err) {
    Disconnect(InvalidArgument(std::string("ovsdb message is not valid JSON: ") +
                               simdjson::error_message(err)));
    return;
  }
  simdjson::dom::object msg;
  if (doc.get_object().get(msg) != simdjson::SUCCESS) {
    LogWarn("ovsdb message is not a JSON object; ignored");
    return;
  }
  std::string_view method;
  if (msg["method"].get_string().get(method) == simdjson::SUCCESS) {
    HandleRequest(msg, method);
  } else {
    HandleResponse(msg);
  }
}

void OvsdbClient::HandleRequest(simdjson::dom::object msg, std::string_view method) {
  simdjson::dom::element id = msg["id"].value_unsafe();
  bool has_id = msg["id"].error() == simdjson::SUCCESS && !id.is_null();
  simdjson::dom::element params;
  if (msg["params"].get(params) != simdjson::SUCCESS) {
    LogWarn("ovsdb request without params; ignored", {{"method", std::string(method)}});
    return;
  }
  if (method == "echo" && has_id) {
    std::string reply = "{\"id\":" + simdjson::minify(id) +
                        ",\"result\":" + simdjson::minify(params) + ",\"error\":null}";
    Send(std::move(reply));
    return;
  }
  if (has_id) {
    // RFC 7047 defines no other server-to-client request; answer so the server is not left
    // waiting.
    std::string reply = "{\"id\":" + simdjson::minify(id) +
                        ",\"result\":null,\"error\":{\"error\":\"unknown method\"}}";
    Send(std::move(reply));
    return;
  }
  if (on_notification_) on_notification_(method, params);
}

void OvsdbClient::HandleResponse(simdjson::dom::object msg) {
  uint64_t id = 0;
  if (msg["id"].get_uint64().get(id) != simdjson::SUCCESS) {
    // Replies to our own echo carry the string id "echo"; anything else is unexpected.
    std::string_view sid;
    if (msg["id"].get_string().get(sid) != simdjson::SUCCESS || sid != "echo") {
      LogWarn("ovsdb response with an id labvirt never sent; ignored");
    }
    return;
  }
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    LogWarn("ovsdb response to an unknown or timed-out request; ignored",
            {{"id", std::to_string(id)}});
    return;
  }
  ResponseCallback cb = std::move(it->second.cb);
  if (on_latency_) {
    std::chrono::duration<double> took = reactor_.clock().Now() - it->second.sent;
    on_latency_(it->second.method, took.count());
  }
  pending_.erase(it);
  Status error = ParseRpcError(msg["error"]);
  if (!error.ok()) {
    cb(error);
    return;
  }
  simdjson::dom::element result;
  if (msg["result"].get(result) != simdjson::SUCCESS) {
    cb(InvalidArgument("ovsdb response has neither a result nor an error"));
    return;
  }
  cb(result);
}

void OvsdbClient::Call(std::string_view method, std::string params_json, ResponseCallback cb) {
  if (state_ != State::kConnected) {
    FailLater(std::move(cb), Unavailable("not connected to ovsdb-server at " + options_.remote));
    return;
  }
  uint64_t id = next_id_++;
  std::string msg = "{\"id\":" + std::to_string(id) + ",\"method\":";
  JsonWriter::AppendQuoted(msg, method);
  msg += ",\"params\":";
  msg += params_json;
  msg += '}';
  Pending& p = pending_[id];
  p.cb = std::move(cb);
  p.method = std::string(method);
  p.sent = reactor_.clock().Now();
  p.timeout = reactor_.After(options_.request_timeout, [this, id, method = std::string(method)] {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    ResponseCallback cb = std::move(it->second.cb);
    pending_.erase(it);
    cb(Status(StatusCode::kDeadlineExceeded, "ovsdb " + method + ": no answer within timeout"));
    // A late answer would be matched to nothing, but a server that stalls this long is
    // reconnected to so that the replica resyncs.
    if (state_ == State::kConnected) Reset(Unavailable("request timed out"));
  });
  Send(std::move(msg));
}

void OvsdbClient::Transact(const Transaction& txn, TransactCallback cb) {
  size_t n = txn.size();
  Call("transact", txn.Params(options_.database),
       [cb = std::move(cb), n](Result<simdjson::dom::element> r) {
         if (!r.ok()) {
           cb(r.status());
           return;
         }
         cb(ParseTransactResult(*r, n));
       });
}

void OvsdbClient::FailLater(ResponseCallback cb, Status status) {
  // Never call back from inside Call(): the caller may hold state it has not finished updating.
  reactor_.Defer([cb = std::move(cb), status = std::move(status)] { cb(status); });
}

void OvsdbClient::Send(std::string message) {
  write_queue_ += message;
  if (!write_in_flight_) FlushWrites();
}

void OvsdbClient::FlushWrites() {
  if (write_queue_.empty() || state_ != State::kConnected) return;
  write_in_flight_ = true;
  std::string chunk = std::move(write_queue_);
  write_queue_.clear();
  size_t total = chunk.size();
  // Keep the bytes for a short write: prepend the unwritten tail back onto the queue.
  auto keep = std::make_shared<std::string>(chunk);
  write_op_ = reactor_.Send(fd_.get(), std::move(chunk), [this, total, keep](Result<size_t> r) {
    write_in_flight_ = false;
    write_op_.Detach();
    if (!r.ok()) {
      Disconnect(r.status().WithContext("ovsdb write"));
      return;
    }
    if (*r < total) write_queue_.insert(0, keep->substr(*r));
    FlushWrites();
  });
}

void OvsdbClient::OnProbeTick() {
  if (state_ != State::kConnected) return;
  reactor::Duration idle = reactor_.clock().Now() - last_rx_;
  if (idle < options_.probe_interval) return;
  if (echo_outstanding_ && idle >= 2 * options_.probe_interval) {
    Reset(Unavailable("ovsdb-server did not answer an echo"));
    return;
  }
  if (!echo_outstanding_) {
    echo_outstanding_ = true;
    Send(R"({"id":"echo","method":"echo","params":[]})");
  }
}

void OvsdbClient::Reset(const Status& why) {
  if (state_ == State::kConnected || state_ == State::kConnecting) Disconnect(why);
}

void OvsdbClient::Disconnect(const Status& why) {
  LogWarn("ovsdb connection lost", {{"remote", options_.remote}, {"error", why.ToString()}});
  connect_op_.Cancel();
  read_op_.Cancel();
  write_op_.Cancel();
  probe_timer_.Cancel();
  fd_.Reset();
  write_queue_.clear();
  write_in_flight_ = false;
  splitter_.Reset();
  state_ = State::kBackoff;
  ++generation_;  // completions of this connection that are already queued stop here
  std::map<uint64_t, Pending> failed = std::move(pending_);
  pending_.clear();
  reactor::Duration delay = backoff_;
  backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  backoff_timer_ = reactor_.After(delay, [this] { Connect(); });
  if (on_state_) on_state_(false);
  for (auto& [id, p] : failed) {
    p.timeout.Cancel();
    p.cb(Unavailable("connection to ovsdb-server lost before the answer (" + why.message() + ")"));
  }
}

}  // namespace labvirt::ovs
