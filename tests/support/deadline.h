// Deadlines for integration tests that talk to labvirtd over its socket. Every blocking read has
// one, so a test fails within its own time and says what it waited for, instead of blocking until
// meson's timeout (x3 for the sanitized build) kills it without a word: wave 1's lab_test sat in
// recv() for 13 minutes with both nodes failed. A node that ends `failed` fails the wait at once,
// with its reason.
//
// Header-only, for tests built with tools/ctl (ctl_dep); blocking; not thread-safe per client.
#ifndef LABVIRT_TESTS_SUPPORT_DEADLINE_H_
#define LABVIRT_TESTS_SUPPORT_DEADLINE_H_

#include <simdjson.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tools/ctl/client.h"

namespace labvirt::testing {

using DeadlineClock = std::chrono::steady_clock;

// Default budget of one request/answer with labvirtd (a deploy with "wait" included).
inline constexpr std::chrono::seconds kCallTimeout{120};

// Seconds from now until `deadline`, for messages.
inline long SecondsLeft(DeadlineClock::time_point deadline) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::seconds>(deadline - DeadlineClock::now()).count());
}

// Makes every blocking read on `fd` give up after `timeout` instead of waiting for ever; zero
// (or less) takes the limit away again. Returns false when the socket option cannot be set.
inline bool SetReadTimeout(int fd, std::chrono::milliseconds timeout) {
  timeout = std::max(timeout, std::chrono::milliseconds(0));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  return ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0;
}

// Connects to labvirtd at `socket`; every read on the client then gives up after `per_read`.
inline Result<ctl::Client> ConnectBounded(const std::string& socket,
                                          std::chrono::milliseconds per_read = kCallTimeout) {
  auto c = ctl::Client::Connect(socket);
  if (c.ok() && !SetReadTimeout(c->fd(), per_read)) return Internal("SO_RCVTIMEO on " + socket);
  return c;
}

// The next line from `c` if it comes by `deadline`; otherwise an error naming `what` (a read that
// timed out is reported by ctl::Client as a closed connection, so the deadline is checked here).
inline Result<std::string> ReadLineBy(ctl::Client& c, DeadlineClock::time_point deadline,
                                      std::string_view what) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - DeadlineClock::now());
  if (left.count() <= 0 || !SetReadTimeout(c.fd(), left)) {
    return Unavailable("deadline passed waiting for " + std::string(what));
  }
  auto line = c.ReadLine();
  if (!line.ok() && DeadlineClock::now() >= deadline) {
    return Unavailable("deadline passed waiting for " + std::string(what));
  }
  return line;
}

// One request on a fresh connection, answered within `timeout`; the answer, or a line starting
// "call failed:" that says why.
inline std::string CallBounded(const std::string& socket, const std::string& method,
                               const std::string& params,
                               std::chrono::milliseconds timeout = kCallTimeout) {
  auto c = ConnectBounded(socket, timeout);
  if (!c.ok()) return "call failed: " + c.status().message();
  auto r = c->Call(method, params);
  if (r.ok()) return *r;
  return "call failed: " + method + " not answered within " +
         std::to_string(timeout.count() / 1000) + " s or connection lost (" + r.status().message() +
         ")";
}

// "node: reason" of every node of a lab.deploy/lab.get/node.get answer whose state is `failed`,
// joined with "; "; empty when none failed (or the answer is not JSON).
inline std::string FailedNodes(const std::string& answer) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(answer).get(doc)) return "";
  simdjson::dom::element result;
  if (doc["result"].get(result)) return "";
  std::vector<simdjson::dom::element> nodes;
  simdjson::dom::array array;
  if (!result["nodes"].get(array)) {
    for (auto n : array) nodes.push_back(n);
  } else {
    nodes.push_back(result);
  }
  std::string out;
  for (auto n : nodes) {
    std::string_view state, name, reason;
    if (n["state"].get(state) || state != "failed") continue;
    if (n["name"].get(name)) name = "?";
    if (n["reason"].get(reason)) reason = "(no reason given)";
    if (!out.empty()) out += "; ";
    out += std::string(name) + ": " + std::string(reason);
  }
  return out;
}

// Calls `method` on `socket` every 100 ms until `done(answer)` holds, a node in the answer is
// `failed`, or `deadline` passes (each call is bounded by it too). Returns the last answer: the
// caller checks it, and FailedNodes() tells why a wait ended early.
inline std::string PollUntil(const std::string& socket, const std::string& method,
                             const std::string& params,
                             const std::function<bool(const std::string&)>& done,
                             DeadlineClock::time_point deadline) {
  std::string answer;
  while (true) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - DeadlineClock::now());
    answer = CallBounded(socket, method, params,
                         std::min<std::chrono::milliseconds>(left, kCallTimeout));
    if (done(answer) || !FailedNodes(answer).empty() || DeadlineClock::now() >= deadline) {
      return answer;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Reads node.state events from `sub` (an events.subscribe connection) until every node in `nodes`
// has `want` as its latest state. Returns "" then. Returns at once, with the reason, when one of
// them turns `failed` (unless `want` is "failed"), and at `deadline` with every state seen so far.
// The states seen, in order, are left in *seen.
inline std::string WaitNodeStates(ctl::Client& sub, const std::vector<std::string>& nodes,
                                  std::string_view want, DeadlineClock::time_point deadline,
                                  std::map<std::string, std::vector<std::string>>* seen) {
  simdjson::dom::parser parser;
  auto done = [&] {
    return std::all_of(nodes.begin(), nodes.end(), [&](const std::string& n) {
      auto it = seen->find(n);
      return it != seen->end() && !it->second.empty() && it->second.back() == want;
    });
  };
  while (!done()) {
    auto line = ReadLineBy(sub, deadline, "nodes to become " + std::string(want));
    if (!line.ok()) {
      std::string states;
      for (const auto& [node, list] : *seen) {
        states += " " + node + ":";
        for (const auto& s : list) states += " " + s;
      }
      return line.status().message() + "; states seen:" + (states.empty() ? " none" : states);
    }
    simdjson::dom::element ev;
    std::string_view type, node, state, reason;
    if (parser.parse(*line)["params"].get(ev) || ev["type"].get(type) || type != "node.state" ||
        ev["node"].get(node) || ev["data"]["state"].get(state)) {
      continue;
    }
    (*seen)[std::string(node)].emplace_back(state);
    if (state == "failed" && want != "failed" &&
        std::find(nodes.begin(), nodes.end(), node) != nodes.end()) {
      if (ev["data"]["reason"].get(reason)) reason = "(no reason given)";
      return "node " + std::string(node) + " failed: " + std::string(reason);
    }
  }
  return "";
}

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_DEADLINE_H_
