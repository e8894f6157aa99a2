// The set-up of an integration suite that runs one labvirtd for all its tests: start the built
// binary, wait until it is healthy, optionally deploy the suite's lab and check that its nodes are
// ready; when something fails, a reason a reader can act on (the failed nodes' reasons, the
// daemon's log or its warnings).
//
// Header-only, for tests built with -DLABVIRTD_PATH="…" and ctl_dep (see daemon_process.h).
// Blocking; call from SetUpTestSuite.
#ifndef LABVIRT_TESTS_SUPPORT_SUITE_DAEMON_H_
#define LABVIRT_TESTS_SUPPORT_SUITE_DAEMON_H_

#include <simdjson.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/daemon_process.h"
#include "tests/support/deadline.h"

namespace labvirt::testing {

// Starts labvirtd with `options` and waits up to `within` until it reports healthy on `socket`.
// Always returns the process (so that tear-down stops it); *error is cleared, then set when it did
// not become healthy: "labvirtd not healthy within N s" followed by its log.
inline std::unique_ptr<DaemonProcess> StartHealthyDaemon(DaemonProcess::Options options,
                                                         const std::string& socket,
                                                         std::chrono::seconds within,
                                                         std::string* error) {
  error->clear();
  auto daemon = std::make_unique<DaemonProcess>(std::move(options));
  if (!WaitHealthy(socket, within)) {
    *error = "labvirtd not healthy within " + std::to_string(within.count()) + " s; its log:\n" +
             daemon->Log();
  }
  return daemon;
}

// node.get's "state" of `lab`/`node` on `socket`, or "" when the call or its answer failed.
inline std::string NodeStateOf(const std::string& socket, const std::string& lab,
                               const std::string& node) {
  simdjson::dom::parser p;
  simdjson::dom::element d;
  std::string_view state;
  std::string answer =
      CallBounded(socket, "node.get", R"({"lab":")" + lab + R"(","node":")" + node + R"("})");
  if (p.parse(answer).get(d) || d["result"]["state"].get(state)) return "";
  return std::string(state);
}

// Calls lab.deploy with `params` (which should ask to "wait") on `socket`, then checks that every
// node of `nodes` in `lab` is ready. Returns "" when so; otherwise why not: the failed nodes'
// reasons (or, when none failed, the deploy's answer), then the warnings in `daemon`'s log.
inline std::string DeployReady(const DaemonProcess& daemon, const std::string& socket,
                               const std::string& lab, const std::string& params,
                               const std::vector<std::string>& nodes) {
  std::string deployed = CallBounded(socket, "lab.deploy", params);
  bool ready = deployed.find("\"error\"") == std::string::npos;
  for (const auto& node : nodes) ready = ready && NodeStateOf(socket, lab, node) == "ready";
  if (ready) return "";
  std::string failure = FailedNodes(deployed);
  if (failure.empty()) failure = deployed;
  return failure + "\nlabvirtd's warnings:\n" + daemon.Warnings();
}

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_SUITE_DAEMON_H_
