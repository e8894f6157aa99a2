// OvsdbServer: a private ovsdb-server (no ovs-vswitchd) on a fresh Open_vSwitch database in a
// temporary directory, for tests and benchmarks that must not touch the host's OVS. It can be
// killed and started again on the same database, as a crash and a restart would.
//
// Owns the server process and the directory: the destructor kills the one and removes the other.
// Blocking; not thread-safe.
#ifndef LABVIRT_TESTS_SUPPORT_OVSDB_SERVER_H_
#define LABVIRT_TESTS_SUPPORT_OVSDB_SERVER_H_

#include <string>

namespace labvirt::testing {

struct OvsdbServerOptions {
  std::string dir_prefix = "/tmp/labvirt-ovsdb";  // mkdtemp template without its XXXXXX
  bool tcp = false;                               // also listen on 127.0.0.1:tcp_port()
};

class OvsdbServer {
 public:
  // Creates the directory and the database (ovsdb-tool, vswitch.ovsschema); created() tells
  // whether that worked. Does not start the server.
  explicit OvsdbServer(OvsdbServerOptions options = {});
  ~OvsdbServer();
  OvsdbServer(const OvsdbServer&) = delete;
  OvsdbServer& operator=(const OvsdbServer&) = delete;

  bool created() const { return created_; }
  // Starts the server detached (again after Kill); true when it is up and serving its socket.
  bool Start();
  // SIGKILL, as a crash; waits up to 1 s for the process to go, then removes its pid and socket.
  void Kill();

  // The OVSDB remote of its Unix socket ("unix:/tmp/…/db.sock").
  std::string remote() const { return "unix:" + sock_; }
  // With options.tcp: a port derived from the pid (tests run one binary at a time).
  int tcp_port() const;
  // The ovs-vsctl command line (--db=…, --no-wait) that talks to this server, for callers that
  // build their own commands.
  std::string VsctlCommand() const;
  // Runs ovs-vsctl `args` against this server; returns its output (stderr included).
  std::string Vsctl(const std::string& args, int* rc = nullptr) const;

 private:
  const OvsdbServerOptions options_;
  std::string dir_, db_, sock_;
  bool created_ = false;
};

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_OVSDB_SERVER_H_
