// labvirtctl as a user runs it: the built binary, as a child process, against the built labvirtd.
// Every subcommand in table form and with --json, and bad usage: exit codes, a one-line message on
// stderr naming the problem, nothing on stdout.
//
// The daemon talks to a private instance of libvirt's test driver through the host's libvirtd
// (test+unix:///DIR/host.xml: remote, so it has the keepalive labvirtd requires; a custom file gets
// its own empty driver instead of the shared test:///default, whose domains another labvirtd on
// it would adopt) and to a private ovsdb-server (so `cleanup` cannot touch the host's ports). The
// test driver defines domains but cannot start them (it refuses VIR_DOMAIN_START_PAUSED), attach
// or detach devices, or undefine with labvirt's flags: those verbs fail, and what is checked is
// that labvirtctl reports the failure and exits non-zero.
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

namespace labvirt {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kDir = "/tmp/lvtest-cli-" + std::to_string(::getpid());
const std::string kSocket = kDir + "/labvirtd.sock";

// One labvirtctl run.
struct CtlRun {
  int rc = -1;  // exit code; -1 when it was killed (it hung) or did not exit normally
  std::string out, err;
};

// Starts labvirtctl with `args` (after --socket kSocket unless `socket` is false); its stdout and
// stderr are pipes, stdin is /dev/null.
pid_t Spawn(const std::vector<std::string>& args, bool socket, int* out_fd, int* err_fd) {
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
CtlRun Ctl(const std::vector<std::string>& args, bool socket = true) {
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

std::string Describe(const std::vector<std::string>& args, const CtlRun& r) {
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

bool OneLine(const std::string& s) {
  return !s.empty() && s.back() == '\n' && s.find('\n') == s.size() - 1;
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Two VM nodes that are defined but not started, linked; every node verb works on them.
const char* kJsonLab = R"({"name":"jlab","nodes":[
  {"name":"r1","kind":"iosv","image":"base.qcow2","nics":2,"start":false},
  {"name":"r2","kind":"iosv","image":"base.qcow2","nics":2,"start":false}],
  "links":[{"endpoints":["r1:eth1","r2:eth1"]}]})";

// A VM node the test driver cannot start and a container node labvirt has no provider for.
const char* kYamlLab = R"(name: ylab
topology:
  nodes:
    r1: {kind: iosv, image: base.qcow2}
    c1: {kind: iosv, image: "example.org/ceos:4.30"}
)";

// One container node: deploys and destroys without the hypervisor.
const char* kContainerLab = R"({"name":"LAB","nodes":[
  {"name":"c1","kind":"iosv","image":"example.org/ceos:4.30"}]})";

std::string ContainerLab(const std::string& name) {
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

TEST_F(CliTest, OfflineKindsAndRenderDomain) {
  CtlRun kinds = Expect(0, {"kinds"});
  EXPECT_EQ(kinds.out.rfind("KIND ", 0), 0u) << kinds.out;
  EXPECT_NE(kinds.out.find("cisco_iosv "), std::string::npos) << kinds.out;
  // One row per name: FTDv and FMCv have entries, so they are not repeated as deny-list rows.
  for (const char* once : {"cisco_ftdv ", "cisco_fmcv ", "cisco_cat9kv "}) {
    size_t first = kinds.out.find(std::string("\n") + once);
    EXPECT_NE(first, std::string::npos) << once << kinds.out;
    EXPECT_EQ(kinds.out.find(std::string("\n") + once, first + 1), std::string::npos)
        << once << " listed twice:\n"
        << kinds.out;
  }
  simdjson::dom::element k = Json({"kinds"});
  ASSERT_TRUE(k.is_array());
  bool iosv = false;
  for (auto e : k.get_array()) iosv |= e["kind"].get_string().value_unsafe() == "cisco_iosv";
  EXPECT_TRUE(iosv) << json_text_;

  CtlRun xml = Expect(0, {"render-domain", "--kind", "iosv", "--node", "r9", "--nics", "3"});
  EXPECT_NE(xml.out.find("<domain"), std::string::npos) << xml.out;
  EXPECT_NE(xml.out.find("r9"), std::string::npos) << xml.out;
  ExpectError(2, {"render-domain", "--node", "r9"}, "--kind");
  // An unknown kind falls back to generic (docs/catalog.md); a denylisted one is refused.
  ExpectError(1, {"render-domain", "--kind", "cat9kv"}, "'cat9kv' is refused");
  ExpectError(2, {"render-domain", "--kind", "iosv", "--nics", "many"}, "--nics");
}

TEST_F(CliTest, HostInfoCatalogStatusMetricsVersion) {
  CtlRun info = Expect(0, {"host-info"});
  EXPECT_NE(info.out.find("healthy        true"), std::string::npos) << info.out;
  EXPECT_TRUE(Json({"host-info"})["healthy"].get_bool().value_unsafe()) << json_text_;

  CtlRun catalog = Expect(0, {"catalog"});
  EXPECT_EQ(catalog.out.rfind("KIND ", 0), 0u) << catalog.out;
  EXPECT_NE(catalog.out.find("cisco_iosv "), std::string::npos) << catalog.out;
  simdjson::dom::element c = Json({"catalog"});
  ASSERT_TRUE(c.is_array()) << json_text_;
  EXPECT_GT(c.get_array().size(), 1u);

  CtlRun status = Expect(0, {"status"});
  EXPECT_EQ(status.out.rfind("LAB ", 0), 0u) << status.out;
  EXPECT_TRUE(Json({"status"}).is_array()) << json_text_;

  CtlRun metrics = Expect(0, {"metrics"});
  EXPECT_NE(metrics.out.find("# TYPE labvirt_up "), std::string::npos) << metrics.out;
  std::string_view text;
  ASSERT_EQ(Json({"metrics"}).get_string().get(text), simdjson::SUCCESS) << json_text_;
  EXPECT_NE(text.find("labvirt_up"), std::string::npos);

  CtlRun version = Ctl({"version"}, false);
  EXPECT_EQ(version.rc, 0);
  EXPECT_EQ(version.out.rfind("labvirtctl ", 0), 0u) << version.out;
  CtlRun call = Expect(0, {"call", "catalog.get", R"({"kind":"iosv"})"});
  EXPECT_NE(call.out.find("cisco_iosv"), std::string::npos) << call.out;
}

// A JSON topology of stopped nodes, then every node and link verb on it.
TEST_F(CliTest, JsonLabThroughEveryNodeAndLinkVerb) {
  CtlRun deploy = Expect(0, {"deploy", kDir + "/jlab.json"});
  EXPECT_NE(deploy.out.find("lab jlab deployed: 2 nodes"), std::string::npos) << deploy.out;
  EXPECT_NE(deploy.out.find("0 ready, 0 failed, 2 not started"), std::string::npos) << deploy.out;

  CtlRun lab = Expect(0, {"status", "jlab"});
  EXPECT_EQ(lab.out.rfind("NODE ", 0), 0u) << lab.out;
  EXPECT_NE(lab.out.find("\nr1 "), std::string::npos) << lab.out;
  EXPECT_NE(lab.out.find("defined"), std::string::npos) << lab.out;
  EXPECT_NE(lab.out.find("r1:GigabitEthernet0/0--r2:GigabitEthernet0/0"), std::string::npos);
  // Every data NIC under its vendor name and its ethN alias (issue 13).
  EXPECT_NE(lab.out.find("\nNODE           INTERFACE                ALIAS  LINK\n"),
            std::string::npos)
      << lab.out;
  EXPECT_NE(lab.out.find("\nr2             GigabitEthernet0/1       eth2   -\n"), std::string::npos)
      << lab.out;
  simdjson::dom::element l = Json({"status", "jlab"});
  EXPECT_EQ(l["nodes"].at(0)["nics"].at(0)["alias"].get_string().value_unsafe(), "eth1")
      << json_text_;
  EXPECT_EQ(l["nodes"].get_array().size(), 2u) << json_text_;
  EXPECT_EQ(l["links"].get_array().size(), 1u) << json_text_;
  CtlRun labs = Expect(0, {"status"});
  EXPECT_NE(labs.out.find("\njlab "), std::string::npos) << labs.out;

  CtlRun node = Expect(0, {"node", "jlab", "r1"});
  EXPECT_NE(node.out.find("state          defined"), std::string::npos) << node.out;
  EXPECT_EQ(Json({"node", "jlab", "r1"})["name"].get_string().value_unsafe(), "r1");

  // Live links between the second NICs: create, down, up, delete.
  const std::string id = "r1:GigabitEthernet0/1--r2:GigabitEthernet0/1";
  CtlRun create = Expect(0, {"link", "jlab", "create", "r1:eth2", "r2:eth2"});
  EXPECT_NE(create.out.find("id             " + id), std::string::npos) << create.out;
  EXPECT_FALSE(Json({"link", "jlab", "down", id})["up"].get_bool().value_unsafe()) << json_text_;
  CtlRun up = Expect(0, {"link", "jlab", "up", id});
  EXPECT_NE(up.out.find("up             true"), std::string::npos) << up.out;
  EXPECT_EQ(Json({"link", "jlab", "delete", id})["id"].get_string().value_unsafe(), id);
  EXPECT_EQ(Json({"status", "jlab"})["links"].get_array().size(), 1u) << json_text_;
  ExpectError(1, {"link", "jlab", "delete", id}, id);

  // The test driver attaches and detaches no devices.
  ExpectError(1, {"nic-add", "jlab", "r1"}, "NIC not added");
  ExpectError(1, {"--json", "nic-add", "jlab", "r1"}, "\"code\":-32603");
  ExpectError(1, {"nic-remove", "jlab", "r1"}, "NIC not removed");

  CtlRun wipe = Expect(0, {"wipe", "jlab", "r1"});
  EXPECT_NE(wipe.out.find("state          defined"), std::string::npos) << wipe.out;
  EXPECT_EQ(Json({"wipe", "jlab", "r2"})["name"].get_string().value_unsafe(), "r2");
  CtlRun reconcile = Expect(0, {"reconcile", "jlab", "r1"});
  EXPECT_NE(reconcile.out.find("actions "), std::string::npos) << reconcile.out;
  EXPECT_EQ(Json({"reconcile", "jlab", "r1"})["node"]["name"].get_string().value_unsafe(), "r1");

  // Never started: no console log, no console.
  ExpectError(1, {"tail", "jlab", "r1"}, "no console log");
  ExpectError(1, {"--json", "tail", "jlab", "r1", "--bytes", "100"}, "\"field\":\"node\"");
  ExpectError(1, {"console", "jlab", "r1"}, "no console for jlab/r1");

  // start asks for the node; the test driver then refuses to start it (paused).
  EXPECT_EQ(Json({"start", "jlab", "r1"})["desired"].get_string().value_unsafe(), "running");
  CtlRun wait = Ctl({"start", "jlab", "r2", "--wait"});
  EXPECT_EQ(wait.rc, 1) << Describe({"start --wait"}, wait);
  EXPECT_NE(wait.out.find("state          failed"), std::string::npos) << wait.out;
  EXPECT_TRUE(OneLine(wait.err)) << wait.err;
  EXPECT_NE(wait.err.find("r2 failed: start "), std::string::npos) << wait.err;
  CtlRun stop = Expect(0, {"stop", "jlab", "r1"});
  EXPECT_NE(stop.out.find("desired        stopped"), std::string::npos) << stop.out;
  EXPECT_EQ(Json({"stop", "jlab", "r2", "--force", "--timeout", "5"})["desired"]
                .get_string()
                .value_unsafe(),
            "stopped");
  CtlRun restart = Ctl({"restart", "jlab", "r1", "--wait"});
  EXPECT_EQ(restart.rc, 1) << Describe({"restart --wait"}, restart);
  EXPECT_NE(restart.err.find("r1 failed: "), std::string::npos) << restart.err;
  EXPECT_EQ(Json({"restart", "jlab", "r2"})["desired"].get_string().value_unsafe(), "running");

  CtlRun destroy = Expect(0, {"destroy", "jlab"});
  EXPECT_NE(destroy.out.find("destroyed      2"), std::string::npos) << destroy.out;
  ExpectError(1, {"status", "jlab"}, "no lab named 'jlab'");
}

// A YAML topology whose nodes fail: deploy reports each and exits 1. A container lab in --json.
TEST_F(CliTest, YamlDeployReportsFailedNodesAndDestroy) {
  CtlRun deploy = Expect(1, {"deploy", kDir + "/ylab.yaml"});
  EXPECT_NE(deploy.out.find("lab ylab deployed: 2 nodes"), std::string::npos) << deploy.out;
  EXPECT_NE(deploy.out.find("is a container image, but kind cisco_iosv runs VMs"),
            std::string::npos)
      << deploy.out;
  EXPECT_NE(deploy.out.find("0 ready, 2 failed"), std::string::npos) << deploy.out;
  // Exit 1 comes with one line on stderr, `message: reason`, as for every other failure.
  EXPECT_TRUE(OneLine(deploy.err)) << deploy.err;
  EXPECT_NE(deploy.err.find("labvirtctl: deploy of ylab: 2 node(s) failed: c1: image"),
            std::string::npos)
      << deploy.err;
  EXPECT_NE(deploy.err.find("; r1: "), std::string::npos) << deploy.err;
  CtlRun lab = Expect(0, {"status", "ylab"});
  EXPECT_NE(lab.out.find("\nc1 "), std::string::npos) << lab.out;

  // --json: one event per line, each JSON, the container node's failure among them.
  CtlRun json = Expect(1, {"--json", "deploy", kDir + "/clab.json"});
  size_t lines = 0, failed = 0;
  for (size_t pos = 0, nl; (nl = json.out.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    simdjson::dom::element ev;
    ASSERT_EQ(parser_.parse(json.out.substr(pos, nl - pos)).get(ev), simdjson::SUCCESS) << json.out;
    ++lines;
    failed += ev["type"].get_string().value_unsafe() == "node.state" &&
              ev["data"]["state"].get_string().value_unsafe() == "failed";
  }
  EXPECT_GT(lines, 0u) << json.out;
  EXPECT_EQ(failed, 1u) << json.out;
  EXPECT_TRUE(OneLine(json.err)) << json.err;
  EXPECT_NE(json.err.find("1 node(s) failed: c1: "), std::string::npos) << json.err;
  CtlRun no_wait = Expect(0, {"deploy", kDir + "/clab.json", "--no-wait"});
  EXPECT_NE(no_wait.out.find("lab clab deployed: 1 nodes"), std::string::npos) << no_wait.out;

  CtlRun destroy = Expect(0, {"destroy", "clab"});
  EXPECT_NE(destroy.out.find("destroyed      1"), std::string::npos) << destroy.out;
  EXPECT_EQ(Json({"destroy", "clab"})["destroyed"].get_int64().value_unsafe(), 0) << json_text_;
  ExpectError(1, {"status", "clab"}, "no lab named 'clab'");
  Expect(0, {"destroy", "ylab"});
}

// events in both forms, following a lab that is deployed and destroyed until both have seen it.
TEST_F(CliTest, EventsStreamInTableAndJson) {
  Background table({"events", "--lab", "elab"});
  Background json({"--json", "events", "--lab=elab", "--type", "lab."});
  // The subscriptions are made at some point after start; deploy again until both saw one.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  bool seen = false;
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    Expect(0, {"deploy", kDir + "/elab.json", "--no-wait"});
    Expect(0, {"destroy", "elab"});
    seen = table.Poll(500ms).find("lab.deployed") != std::string::npos &&
           json.Poll(500ms).find("lab.deployed") != std::string::npos;
  }
  ASSERT_TRUE(seen) << "table:\n" << table.Poll(0ms) << "\njson:\n" << json.Poll(0ms);
  std::string t = table.Poll(0ms);
  EXPECT_NE(("\n" + t).find("\nnode.state "), std::string::npos) << t;
  EXPECT_NE(t.find(" elab/c1 "), std::string::npos) << t;
  std::string j = json.Poll(0ms);
  for (size_t pos = 0, nl; (nl = j.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    simdjson::dom::element ev;
    ASSERT_EQ(parser_.parse(j.substr(pos, nl - pos)).get(ev), simdjson::SUCCESS) << j;
    EXPECT_EQ(ev["lab"].get_string().value_unsafe(), "elab") << j;
    EXPECT_EQ(ev["type"].get_string().value_unsafe().rfind("lab.", 0), 0u) << j;
  }
  ExpectError(2, {"events", "--lab"}, "--lab needs a value");
  ExpectError(2, {"events", "elab"}, "usage: labvirtctl events");
}

TEST_F(CliTest, CleanupDryRunKeepsAndCleanupRemoves) {
  const std::string stray = kDir + "/state/overlays/ghost/n1.qcow2";
  fs::create_directories(kDir + "/state/overlays/ghost");
  WriteFile(stray, "not a real overlay");
  CtlRun dry = Expect(0, {"cleanup", "--dry-run"});
  EXPECT_NE(dry.out.find("dry_run        true"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find(stray), std::string::npos) << dry.out;
  simdjson::dom::element d = Json({"cleanup", "--dry-run"});
  EXPECT_TRUE(d["dry_run"].get_bool().value_unsafe()) << json_text_;
  EXPECT_TRUE(fs::exists(stray)) << "a dry run removes nothing";
  CtlRun real = Expect(0, {"cleanup"});
  EXPECT_NE(real.out.find("dry_run        false"), std::string::npos) << real.out;
  EXPECT_NE(real.out.find(stray), std::string::npos) << real.out;
  EXPECT_FALSE(fs::exists(stray));
  simdjson::dom::element again = Json({"cleanup"});
  EXPECT_EQ(again["overlays"].get_array().size(), 0u) << json_text_;
  ExpectError(2, {"cleanup", "now"}, "usage: labvirtctl cleanup");
}

TEST_F(CliTest, BadUsageIsOneLineOnStderrAndNonZero) {
  ExpectError(2, {"frobnicate"}, "unknown command 'frobnicate'");
  ExpectError(2, {"--bogus", "status"}, "unknown flag --bogus");
  ExpectError(2, {"stop", "jlab", "r1", "--forse"}, "unknown flag --forse");
  ExpectError(2, {"tail", "jlab", "r1", "--bytes", "ten"}, "--bytes must be an integer");
  ExpectError(2, {"node", "jlab"}, "usage: labvirtctl node LAB NODE");
  ExpectError(2, {"tail", "jlab"}, "usage: labvirtctl tail LAB NODE");
  ExpectError(2, {"destroy"}, "usage: labvirtctl destroy LAB");
  ExpectError(2, {"deploy"}, "usage: labvirtctl deploy FILE");
  ExpectError(2, {"link", "jlab", "frob", "x"}, "usage: labvirtctl link");
  ExpectError(2, {"status", "a", "b"}, "usage: labvirtctl status");
  ExpectError(2, {"metrics", "x"}, "usage: labvirtctl metrics");
  ExpectError(2, {"call", "lab.get", "not json"}, "PARAMS must be a JSON object");
  ExpectError(2, {"deploy", kDir + "/missing.yaml"}, kDir + "/missing.yaml");
  ExpectError(1, {"status", "nolab"}, "no lab named 'nolab'");
  ExpectError(1, {"--json", "status", "nolab"}, "no lab named 'nolab'");
  for (const char* verb : {"node", "start", "stop", "restart", "wipe", "reconcile", "nic-add",
                           "nic-remove", "tail", "console"}) {
    ExpectError(1, {verb, "nolab", "r1"}, "nolab");
  }
  ExpectError(1, {"link", "nolab", "delete", "x"}, "nolab");
  ExpectError(1, {"--socket", kDir + "/none.sock", "host-info"}, "cannot reach labvirtd", false);
  CtlRun none = Ctl({}, false);
  EXPECT_EQ(none.rc, 2);
  EXPECT_TRUE(none.out.empty()) << none.out;
  EXPECT_EQ(none.err.rfind("usage: labvirtctl", 0), 0u) << none.err;
}

}  // namespace
}  // namespace labvirt
