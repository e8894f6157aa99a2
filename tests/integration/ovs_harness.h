// Test harness for the ovs integration tests: a private ovsdb-server on a temp db and socket
// (killed and restarted at will without touching the host's), shell helpers, and a loop runner.
#ifndef LABVIRT_TESTS_INTEGRATION_OVS_HARNESS_H_
#define LABVIRT_TESTS_INTEGRATION_OVS_HARNESS_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "ovs/ovs_replica.h"
#include "ovs/ovs_switch.h"
#include "ovs/ovsdb_client.h"
#include "reactor/reactor.h"

namespace labvirt::ovs::testing {

// Runs `cmd` through sh; returns its stdout (trailing newline removed) and sets *rc.
inline std::string Sh(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  if (rc != nullptr) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

inline bool HaveCommand(const std::string& name) {
  int rc = 0;
  Sh("command -v " + name + " >/dev/null 2>&1", &rc);
  return rc == 0;
}

// A private ovsdb-server on a fresh database from vswitch.ovsschema.
class PrivateOvsdb {
 public:
  PrivateOvsdb() {
    char tmpl[] = "/tmp/labvirt-ovsdb.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    db_ = dir_ + "/conf.db";
    sock_ = dir_ + "/db.sock";
    int rc = 0;
    Sh("ovsdb-tool create " + db_ + " /usr/share/openvswitch/vswitch.ovsschema 2>&1", &rc);
    created_ = rc == 0;
  }
  ~PrivateOvsdb() {
    Kill();
    Sh("rm -rf " + dir_);
  }
  bool created() const { return created_; }
  bool Start() {
    int rc = 0;
    Sh("ovsdb-server " + db_ + " --remote=punix:" + sock_ +
           " --remote=ptcp:" + std::to_string(tcp_port()) + ":127.0.0.1 --pidfile=" + dir_ +
           "/pid --unixctl=" + dir_ + "/ctl --log-file=" + dir_ + "/log --detach --no-chdir 2>&1",
       &rc);
    return rc == 0;
  }
  void Kill() {
    std::ifstream f(dir_ + "/pid");
    int pid = 0;
    if (f >> pid && pid > 0) {
      ::kill(pid, SIGKILL);
      for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    ::unlink((dir_ + "/pid").c_str());
    ::unlink(sock_.c_str());
  }
  std::string remote() const { return "unix:" + sock_; }
  // A TCP listener too, on a port derived from the pid (tests run one binary at a time).
  int tcp_port() const { return 20000 + ::getpid() % 20000; }
  // ovs-vsctl against this server.
  std::string Vsctl(const std::string& args, int* rc = nullptr) const {
    return Sh("ovs-vsctl --db=unix:" + sock_ + " --no-wait " + args + " 2>&1", rc);
  }

 private:
  std::string dir_, db_, sock_;
  bool created_ = false;
};

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

#endif  // LABVIRT_TESTS_INTEGRATION_OVS_HARNESS_H_
