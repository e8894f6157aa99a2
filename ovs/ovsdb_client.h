// OvsdbClient: an OVSDB JSON-RPC connection (RFC 7047) on the reactor, over a Unix socket
// ("unix:/path") or TCP ("tcp:IPv4:PORT").
//
// It frames the concatenated JSON values of the stream, matches responses to requests by id,
// answers the server's "echo", probes an idle server with its own "echo", fails each request that
// gets no answer within the request timeout, and reconnects with exponential backoff when the
// connection drops. It keeps no database state: OvsReplica resyncs on every (re)connect.
//
// What it does not own: the reactor (must outlive the client). Callbacks may call into the client
// again (Call, Transact) but must not destroy it; destroy it from a clean stack (reactor.Defer).
//
// Threads: loop thread only.
//
// Errors: every request callback runs exactly once (unless the client is destroyed first, then
// never): with the result, or kUnavailable (not connected / connection lost before the answer —
// the request may or may not have been applied), kDeadlineExceeded (timeout; the connection is
// then reset, since the stream can no longer be trusted to be in step), or the server's error.
#ifndef LABVIRT_OVS_OVSDB_CLIENT_H_
#define LABVIRT_OVS_OVSDB_CLIENT_H_

#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ovs/ovsdb_reply.h"
#include "ovs/ovsdb_txn.h"
#include "reactor/base/json_splitter.h"
#include "reactor/base/status.h"
#include "reactor/reactor.h"

namespace labvirt::ovs {

struct OvsdbClientOptions {
  std::string remote = "unix:/var/run/openvswitch/db.sock";
  std::string database = "Open_vSwitch";
  reactor::Duration request_timeout = std::chrono::seconds(10);
  // After this long without a byte from the server an "echo" is sent; after twice this long the
  // connection is considered dead and reset. Zero disables probing.
  reactor::Duration probe_interval = std::chrono::seconds(5);
  reactor::Duration backoff_initial = std::chrono::milliseconds(100);
  reactor::Duration backoff_max = std::chrono::seconds(5);
  size_t max_message_bytes = 64u << 20;
};

class OvsdbClient {
 public:
  // The element is valid only during the callback.
  using ResponseCallback = std::function<void(Result<simdjson::dom::element>)>;
  using TransactCallback = std::function<void(Result<TransactReply>)>;
  // A server notification (e.g. "update3"); `params` is valid only during the callback.
  using NotificationCallback =
      std::function<void(std::string_view method, simdjson::dom::element params)>;
  // Called after each successful connect (true) and each loss of the connection (false).
  using StateCallback = std::function<void(bool connected)>;

  OvsdbClient(reactor::Reactor& reactor, OvsdbClientOptions options);
  // Pending callbacks never run.
  ~OvsdbClient();
  OvsdbClient(const OvsdbClient&) = delete;
  OvsdbClient& operator=(const OvsdbClient&) = delete;

  // Starts connecting; from then on the client reconnects by itself until destroyed.
  void Start();
  bool connected() const { return state_ == State::kConnected; }
  const OvsdbClientOptions& options() const { return options_; }

  // Sends `method` with `params_json` (a JSON array). See the class comment for errors.
  void Call(std::string_view method, std::string params_json, ResponseCallback cb);
  // Sends `txn` to the configured database. The reply is parsed; per-operation errors are in the
  // TransactReply (see TransactReply::ToStatus), JSON-RPC level errors fail the Result.
  void Transact(const Transaction& txn, TransactCallback cb);

  void SetNotificationHandler(NotificationCallback cb) { on_notification_ = std::move(cb); }
  void SetStateHandler(StateCallback cb) { on_state_ = std::move(cb); }

  // Drops the connection now (pending requests fail with kUnavailable) and reconnects after the
  // backoff. For tests and for callers that found the stream out of step.
  void Reset(const Status& why);

  // Successful connects so far.
  uint64_t connects() const { return connects_; }
  // Called with the method and the seconds from sending a request to its answer (not for
  // requests that failed locally or timed out). For the `metrics` method.
  using LatencyObserver = std::function<void(const std::string& method, double seconds)>;
  void SetLatencyObserver(LatencyObserver cb) { on_latency_ = std::move(cb); }
  size_t pending_requests() const { return pending_.size(); }

 private:
  enum class State { kIdle, kConnecting, kConnected, kBackoff };
  struct Pending {
    ResponseCallback cb;
    std::string method;
    reactor::TimePoint sent{};
    reactor::OpHandle timeout;
  };

  void Connect();
  Status StartTcpConnect(std::string_view hostport);
  void OnConnected(Status status);
  void StartRead();
  void OnBytes(std::span<const char> bytes);
  void HandleMessage(const std::string& text);
  void HandleRequest(simdjson::dom::object msg, std::string_view method);
  void HandleResponse(simdjson::dom::object msg);
  void Send(std::string message);
  void FlushWrites();
  void OnProbeTick();
  void Disconnect(const Status& why);
  void FailLater(ResponseCallback cb, Status status);

  reactor::Reactor& reactor_;
  const OvsdbClientOptions options_;
  State state_ = State::kIdle;
  UniqueFd fd_;
  reactor::Duration backoff_;
  uint64_t next_id_ = 1;
  uint64_t connects_ = 0;
  uint64_t generation_ = 0;  // bumped on every connect and disconnect
  std::map<uint64_t, Pending> pending_;
  JsonSplitter splitter_;
  simdjson::dom::parser parser_;
  std::vector<std::string> messages_;  // scratch for the splitter
  std::string write_queue_;            // bytes not yet handed to the kernel
  bool write_in_flight_ = false;
  reactor::TimePoint last_rx_{};
  bool echo_outstanding_ = false;
  NotificationCallback on_notification_;
  StateCallback on_state_;
  LatencyObserver on_latency_;
  // Handles last: they die first.
  reactor::OpHandle connect_op_;
  reactor::OpHandle read_op_;
  reactor::OpHandle write_op_;
  reactor::OpHandle probe_timer_;
  reactor::OpHandle backoff_timer_;
};

}  // namespace labvirt::ovs

#endif  // LABVIRT_OVS_OVSDB_CLIENT_H_
