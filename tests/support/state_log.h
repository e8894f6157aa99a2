// StateLog: one node's "node.state" events, read from an events.subscribe connection to labvirtd
// on a thread of its own, for integration tests that check the path a node took.
//
// Header-only, for tests built with ctl_dep. Owns its connection and thread; the destructor shuts
// the socket down, which ends the reader, and joins it. states()/moves()/Count() may be called
// from the test thread while events arrive.
#ifndef LABVIRT_TESTS_SUPPORT_STATE_LOG_H_
#define LABVIRT_TESTS_SUPPORT_STATE_LOG_H_

#include <simdjson.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/deadline.h"
#include "tools/ctl/client.h"

namespace labvirt::testing {

class StateLog {
 public:
  // Subscribes to `node` of `lab` on labvirtd at `socket`; ok() tells whether that worked.
  StateLog(const std::string& socket, const std::string& lab, const std::string& node) {
    auto c = ConnectBounded(socket, std::chrono::seconds(30));  // for the subscription's answer
    if (!c.ok()) return;
    client_ = std::make_unique<ctl::Client>(std::move(c).value());
    auto ack = client_->Call("events.subscribe", R"({"labs":[")" + lab + R"("],"nodes":[")" + node +
                                                     R"("],"types":["node.state"]})");
    if (!ack.ok() || ack->find("\"error\"") != std::string::npos) return;
    // Events may be minutes apart; the destructor's shutdown() ends the reader's wait.
    SetReadTimeout(client_->fd(), std::chrono::milliseconds(0));
    reader_ = std::thread([this] { Read(); });
  }
  ~StateLog() {
    if (client_) ::shutdown(client_->fd(), SHUT_RDWR);
    if (reader_.joinable()) reader_.join();
  }
  StateLog(const StateLog&) = delete;
  StateLog& operator=(const StateLog&) = delete;

  bool ok() const { return reader_.joinable(); }
  // Every state the node entered, in order.
  std::vector<std::string> states() {
    std::lock_guard<std::mutex> lock(mu_);
    return states_;
  }
  // Its moves, "previous>state " each (events that name no previous state are not moves).
  std::string moves() {
    std::lock_guard<std::mutex> lock(mu_);
    return moves_;
  }
  int Count(const std::string& state) {
    auto s = states();
    return static_cast<int>(std::count(s.begin(), s.end(), state));
  }

 private:
  void Read() {
    simdjson::dom::parser p;
    while (true) {
      auto line = client_->ReadLine();
      if (!line.ok()) return;
      simdjson::dom::element d;
      std::string_view state, previous;
      if (p.parse(*line).get(d) || d["params"]["data"]["state"].get(state)) continue;
      bool moved = !d["params"]["data"]["previous"].get(previous);
      std::lock_guard<std::mutex> lock(mu_);
      states_.emplace_back(state);
      if (moved) moves_ += std::string(previous) + ">" + std::string(state) + " ";
    }
  }

  std::unique_ptr<ctl::Client> client_;
  std::thread reader_;
  std::mutex mu_;
  std::vector<std::string> states_;
  std::string moves_;
};

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_STATE_LOG_H_
