// Test harness for the ovs integration tests: a private ovsdb-server on a temp db and socket
// (killed and restarted at will without touching the host's; tests/support/ovsdb_server.h), shell
// helpers, labvirt's OVS stack, and a loop runner.
#ifndef LABVIRT_TESTS_SUPPORT_OVS_HARNESS_H_
#define LABVIRT_TESTS_SUPPORT_OVS_HARNESS_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "ovs/ovs_replica.h"
#include "ovs/ovs_switch.h"
#include "ovs/ovsdb_client.h"
#include "reactor/reactor.h"
#include "tests/support/ovsdb_server.h"
#include "tests/support/shell.h"

namespace labvirt::ovs::testing {

using labvirt::testing::HaveCommand;
using labvirt::testing::Sh;

// The ovs tests' private ovsdb-server: tests/support's launcher, listening on TCP too.
class PrivateOvsdb : public labvirt::testing::OvsdbServer {
 public:
  PrivateOvsdb()
      : OvsdbServer(labvirt::testing::OvsdbServerOptions{.dir_prefix = "/tmp/labvirt-ovsdb",
                                                         .tcp = true}) {}
};

// The host's ovsdb-server socket: the data-plane tests drive the host's ovs-vswitchd.
inline constexpr char kHostOvsDb[] = "/var/run/openvswitch/db.sock";
// True when the host's ovs-vswitchd runs and its ovsdb-server socket exists.
inline bool HostOvsRunning() {
  int rc = 0;
  Sh("pidof ovs-vswitchd >/dev/null && test -S " + std::string(kHostOvsDb), &rc);
  return rc == 0;
}

// Reactor + client + replica + switch, created together and destroyed together (a "restart").
struct Stack {
  Stack(reactor::Reactor& r, const std::string& remote, OvsSwitchOptions so = {}) {
    OvsdbClientOptions o;
    o.remote = remote;
    o.request_timeout = std::chrono::seconds(5);
    o.backoff_initial = std::chrono::milliseconds(50);
    o.backoff_max = std::chrono::milliseconds(400);
    client = std::make_unique<OvsdbClient>(r, o);
    replica = std::make_unique<OvsReplica>(r, *client);
    sw = std::make_unique<OvsSwitch>(r, *client, *replica, std::move(so));
    client->Start();
  }
  ~Stack() {
    sw.reset();
    replica.reset();
    client.reset();
  }
  std::unique_ptr<OvsdbClient> client;
  std::unique_ptr<OvsReplica> replica;
  std::unique_ptr<OvsSwitch> sw;
};

// Runs the loop until `pred` holds or `timeout` passes; returns pred().
inline bool RunUntil(reactor::Reactor& r, const std::function<bool()>& pred,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto tick = r.Every(std::chrono::milliseconds(5), [] {});
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred() && std::chrono::steady_clock::now() < deadline) r.RunOnce(true);
  return pred();
}

// Starts `op(callback)` and runs the loop until the callback reports.
inline Status Await(reactor::Reactor& r, const std::function<void(OvsSwitch::Callback)>& op,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  bool done = false;
  Status status = Internal("no answer");
  op([&](Status s) {
    done = true;
    status = std::move(s);
  });
  if (!RunUntil(
          r, [&] { return done; }, timeout))
    return Internal("timed out in test");
  return status;
}

}  // namespace labvirt::ovs::testing

#endif  // LABVIRT_TESTS_SUPPORT_OVS_HARNESS_H_
