#include "tests/support/ovsdb_server.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/support/shell.h"

namespace labvirt::testing {

OvsdbServer::OvsdbServer(OvsdbServerOptions options) : options_(std::move(options)) {
  std::string tmpl = options_.dir_prefix + ".XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return;
  dir_ = tmpl;
  db_ = dir_ + "/conf.db";
  sock_ = dir_ + "/db.sock";
  int rc = 0;
  Sh("ovsdb-tool create " + db_ + " /usr/share/openvswitch/vswitch.ovsschema 2>&1", &rc);
  created_ = rc == 0;
}

OvsdbServer::~OvsdbServer() {
  if (dir_.empty()) return;
  Kill();
  Sh("rm -rf " + dir_);
}

bool OvsdbServer::Start() {
  if (!created_) return false;
  std::string tcp;
  if (options_.tcp) tcp = " --remote=ptcp:" + std::to_string(tcp_port()) + ":127.0.0.1";
  int rc = 0;
  Sh("ovsdb-server " + db_ + " --remote=punix:" + sock_ + tcp + " --pidfile=" + dir_ +
         "/pid --unixctl=" + dir_ + "/ctl --log-file=" + dir_ + "/log --detach --no-chdir 2>&1",
     &rc);
  return rc == 0;
}

void OvsdbServer::Kill() {
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

int OvsdbServer::tcp_port() const { return 20000 + ::getpid() % 20000; }

std::string OvsdbServer::VsctlCommand() const {
  return "ovs-vsctl --db=unix:" + sock_ + " --no-wait";
}

std::string OvsdbServer::Vsctl(const std::string& args, int* rc) const {
  return Sh(VsctlCommand() + " " + args + " 2>&1", rc);
}

}  // namespace labvirt::testing
