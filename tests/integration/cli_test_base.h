// What the labvirtctl tests share (cli_test.cc, cli_lab_test.cc): labvirtctl run as a child
// process, one labvirtd for the suite on a private libvirt test driver and a private ovsdb-server,
// and the topologies the tests deploy.
//
// The daemon talks to a private instance of libvirt's test driver through the host's libvirtd
// (test+unix:///DIR/host.xml: remote, so it has the keepalive labvirtd requires; a custom file gets
// its own empty driver instead of the shared test:///default, whose domains another labvirtd on
// it would adopt) and to a private ovsdb-server (so `cleanup` cannot touch the host's ports). The
// test driver defines domains but cannot start them (it refuses VIR_DOMAIN_START_PAUSED), attach
// or detach devices, or undefine with labvirt's flags: those verbs fail, and what is checked is
// that labvirtctl reports the failure and exits non-zero.
#ifndef LABVIRT_TESTS_INTEGRATION_CLI_TEST_BASE_H_
#define LABVIRT_TESTS_INTEGRATION_CLI_TEST_BASE_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/daemon_process.h"
#include "tests/support/ovs_harness.h"
#include "tests/support/prereq.h"

namespace labvirt::cli_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline const std::string kDir = "/tmp/lvtest-cli-" + std::to_string(::getpid());
inline const std::string kSocket = kDir + "/labvirtd.sock";

// One labvirtctl run.
struct CtlRun {
  int rc = -1;  // exit code; -1 when it was killed (it hung) or did not exit normally
  std::string out, err;
};

// Starts labvirtctl with `args` (after --socket kSocket unless `socket` is false); its stdout and
// stderr are pipes, stdin is /dev/null.
inline pid_t Spawn(const std::vector<std::string>& args, bool socket, int* out_fd, int* err_fd) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    std::vector<std::string> all = {LABVIRTCTL_PATH};
    if (socket) all.insert(all.end(), {"--socket", kSocket});
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  *out_fd = out[0];
  *err_fd = err[0];
  return pid;
}

// Runs labvirtctl to completion. A run still going after 60 s is killed (rc -1): a guard against a
// hung suite, not a timing check.
inline CtlRun Ctl(const std::vector<std::string>& args, bool socket = true) {
  CtlRun r;
  int fds[2];
  pid_t pid = Spawn(args, socket, &fds[0], &fds[1]);
  if (pid < 0) return r;
  std::string* sinks[2] = {&r.out, &r.err};
  pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
  auto deadline = std::chrono::steady_clock::now() + 60s;
  bool killed = false;
  while (p[0].fd >= 0 || p[1].fd >= 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (::poll(p, 2, 1000) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t n = ::read(p[i].fd, buf, sizeof buf);
      if (n <= 0) {
        ::close(p[i].fd);
        p[i].fd = -1;
      } else {
        sinks[i]->append(buf, static_cast<size_t>(n));
      }
    }
  }
  for (auto& x : p) {
    if (x.fd >= 0) ::close(x.fd);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.rc = !killed && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline std::string Describe(const std::vector<std::string>& args, const CtlRun& r) {
  std::string cmd = "labvirtctl";
  for (const auto& a : args) cmd += " " + a;
  return cmd + "\n  rc=" + std::to_string(r.rc) + "\n  stdout: " + r.out + "\n  stderr: " + r.err;
}

// A labvirtctl left running (events), read as it writes; killed and reaped on destruction.
class Background {
 public:
  explicit Background(const std::vector<std::string>& args) {
    pid_ = Spawn(args, true, &out_, &err_);
    ::fcntl(out_, F_SETFL, O_NONBLOCK);
  }
  ~Background() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
    ::close(err_);
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  // Reads what is there now (waiting up to `wait` for something); returns all output so far.
  const std::string& Poll(std::chrono::milliseconds wait) {
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) > 0) {
      char buf[65536];
      ssize_t n;
      while ((n = ::read(out_, buf, sizeof buf)) > 0) out_text_.append(buf, static_cast<size_t>(n));
    }
    return out_text_;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1, err_ = -1;
  std::string out_text_;
};

inline bool OneLine(const std::string& s) {
  return !s.empty() && s.back() == '\n' && s.find('\n') == s.size() - 1;
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// Two VM nodes that are defined but not started, linked; every node verb works on them.
inline const char* const kJsonLab = R"({"name":"jlab","nodes":[
  {"name":"r1","kind":"iosv","image":"base.qcow2","nics":2,"start":false},
  {"name":"r2","kind":"iosv","image":"base.qcow2","nics":2,"start":false}],
  "links":[{"endpoints":["r1:eth1","r2:eth1"]}]})";

// A VM node the test driver cannot start and a container node labvirt has no provider for.
inline const char* const kYamlLab = R"(name: ylab
topology:
  nodes:
    r1: {kind: iosv, image: base.qcow2}
    c1: {kind: iosv, image: "example.org/ceos:4.30"}
)";

// One container node: deploys and destroys without the hypervisor.
inline const char* const kContainerLab = R"({"name":"LAB","nodes":[
  {"name":"c1","kind":"iosv","image":"example.org/ceos:4.30"}]})";

inline std::string ContainerLab(const std::string& name) {
  std::string s = kContainerLab;
  return s.replace(s.find("LAB"), 3, name);
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fs::create_directories(kDir + "/img");
    fs::create_directories(kDir + "/state");
    WriteFile(kDir + "/host.xml", "<node/>\n");
    WriteFile(kDir + "/jlab.json", kJsonLab);
    WriteFile(kDir + "/ylab.yaml", kYamlLab);
    WriteFile(kDir + "/clab.json", ContainerLab("clab"));
    WriteFile(kDir + "/elab.json", ContainerLab("elab"));
    int rc = 0;
    ovs::testing::Sh("qemu-img create -q -f qcow2 " + kDir + "/img/base.qcow2 64M 2>&1", &rc);
    have_image_ = rc == 0;
    ovsdb_ = new ovs::testing::PrivateOvsdb();
    if (!ovsdb_->created() || !ovsdb_->Start()) return;
    daemon_ = new testing::DaemonProcess(
        {.args = {"--socket", kSocket, "--libvirt-uri", "test+unix://" + kDir + "/host.xml",
                  "--image-root", kDir + "/img", "--state-dir", kDir + "/state", "--ovsdb",
                  ovsdb_->remote(), "--bridge", "lvcli", "--workers", "2"},
         .log_path = kDir + "/labvirtd.log"});
    healthy_ = testing::WaitHealthy(kSocket);
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete ovsdb_;
    std::error_code ec;
    fs::remove_all(kDir, ec);
  }
  void SetUp() override {
    LABVIRT_REQUIRE(have_image_, "qemu-img");
    LABVIRT_REQUIRE(ovsdb_->created(), "ovsdb-tool and ovsdb-server");
    LABVIRT_REQUIRE(healthy_, "labvirtd healthy on the test driver (libvirtd running)");
  }
  void TearDown() override {
    if (daemon_ == nullptr) return;
    EXPECT_TRUE(daemon_->running()) << "labvirtd died";
    if (HasFailure()) {
      std::string log = daemon_->Log();
      std::cerr << "--- labvirtd log (end) ---\n"
                << log.substr(log.size() > 6000 ? log.size() - 6000 : 0) << "\n";
    }
  }

  // Runs labvirtctl and checks its exit code; returns the run for more checks.
  CtlRun Expect(int rc, const std::vector<std::string>& args) {
    CtlRun r = Ctl(args);
    EXPECT_EQ(r.rc, rc) << Describe(args, r);
    return r;
  }
  // A run that must fail with `rc`: one line on stderr containing `want`, nothing on stdout.
  void ExpectError(int rc, const std::vector<std::string>& args, const std::string& want,
                   bool socket = true) {
    CtlRun r = Ctl(args, socket);
    EXPECT_EQ(r.rc, rc) << Describe(args, r);
    EXPECT_TRUE(r.out.empty()) << Describe(args, r);
    EXPECT_TRUE(OneLine(r.err)) << Describe(args, r);
    EXPECT_NE(r.err.find(want), std::string::npos) << "want: " << want << "\n" << Describe(args, r);
  }
  // A --json run that succeeds; returns its stdout parsed.
  simdjson::dom::element Json(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--json"};
    all.insert(all.end(), args.begin(), args.end());
    CtlRun r = Ctl(all);
    EXPECT_EQ(r.rc, 0) << Describe(all, r);
    json_text_ = r.out;
    simdjson::dom::element doc;
    EXPECT_EQ(parser_.parse(json_text_).get(doc), simdjson::SUCCESS) << Describe(all, r);
    return doc;
  }

  static inline ovs::testing::PrivateOvsdb* ovsdb_ = nullptr;
  static inline testing::DaemonProcess* daemon_ = nullptr;
  static inline bool have_image_ = false;
  static inline bool healthy_ = false;
  simdjson::dom::parser parser_;
  std::string json_text_;
};

}  // namespace labvirt::cli_test

#endif  // LABVIRT_TESTS_INTEGRATION_CLI_TEST_BASE_H_
