// Exec consoles and binds of container nodes, end to end: the built labvirtd on the real dockerd
// with a test catalog (the shipped one plus a kind whose console is `docker exec … sh`, since no
// shipped kind but cRPD has one and its image is not here) and a bind root of the test's own.
// It proves: the exec console is the node's console (ready by the shell's banner, console.tail
// shows what was typed through console.attach), a shell that exits is replaced by a new one, and
// a restarted labvirtd opens it again; a bind shows the bind root's file inside the container,
// read-only when asked; bad binds (outside the bind root, on a VM kind) are refused at deploy
// naming the field, nothing made; a kind asking for a capability the host refuses fails that
// node alone with dockerd's words (a second test kind in the same catalog); and a kind's stop
// signal and sysctls reach its container (a third).
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/container_support.h"
#include "tests/support/deadline.h"
#include "tests/support/prereq.h"
#include "tests/support/shell.h"
#include "tests/support/suite_daemon.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::Sh;
using testing::Trim;

const std::string kPid = std::to_string(::getpid());
const std::string kDir = "/var/lib/libvirt/images/lvtest-cexec-" + kPid;
const std::string kImageRoot = kDir + "/images";
const std::string kBindRoot = kDir + "/binds";
const std::string kStateDir = kDir + "/state";
const std::string kSocket = "/tmp/lvtest-cexec-" + kPid + ".sock";
const std::string kLab = "cexec" + kPid;
const char* const kImage = testing::kContainerFixtureImage;

// The test kind: the fixture image's own init, and a console that is `sh` by docker exec. Ready on
// busybox's banner, which only the exec'd interactive shell prints.
const char kExecKind[] = R"json({"name": "test_exec_container", "vendor": "Test",
  "description": "exec console test kind", "provider": "docker", "memory_mb": 64, "vcpus": 1,
  "max_nics": 4, "default_nics": 1, "management_interface": "eth0", "interface_prefix": "eth",
  "interface_start": 1, "container": {"cmd": [], "env": {}, "privileged": false,
  "capabilities": ["NET_ADMIN"], "interface_prefix": "eth", "interface_start": 1,
  "interfaces_env": "", "console": "exec", "console_cmd": ["sh"]},
  "readiness": {"success": ["built-in shell \\(ash\\)"], "progress": [], "failure": [],
  "idle_timeout_s": 0, "overall_timeout_s": 60, "retries": 0}, "shutdown_timeout_s": 10,
  "notes": "integration test only", "admission_weight": 0.1},
{"name": "test_refused_container", "vendor": "Test",
  "description": "a kind asking for a capability the host refuses", "provider": "docker",
  "memory_mb": 64, "vcpus": 1, "max_nics": 4, "default_nics": 1, "management_interface": "eth0",
  "interface_prefix": "eth", "interface_start": 1, "container": {"cmd": [], "env": {},
  "privileged": false, "capabilities": ["LABVIRT_NO_SUCH_CAPABILITY"], "interface_prefix": "eth",
  "interface_start": 1, "interfaces_env": ""},
  "readiness": {"success": ["labvirt container fixture ready"], "progress": [], "failure": [],
  "idle_timeout_s": 0, "overall_timeout_s": 60, "retries": 0}, "shutdown_timeout_s": 10,
  "notes": "integration test only", "admission_weight": 0.1},
{"name": "test_runtime_container", "vendor": "Test",
  "description": "a kind with its own stop signal and sysctls", "provider": "docker",
  "memory_mb": 64, "vcpus": 1, "max_nics": 4, "default_nics": 1, "management_interface": "eth0",
  "interface_prefix": "eth", "interface_start": 1, "container": {"cmd": [], "env": {},
  "privileged": false, "capabilities": ["NET_ADMIN"], "interface_prefix": "eth",
  "interface_start": 1, "interfaces_env": "", "console": "exec", "console_cmd": ["sh"],
  "stop_signal": "SIGUSR1", "sysctls": {"net.ipv4.ip_forward": "1",
  "net.ipv6.conf.all.disable_ipv6": "1"}},
  "readiness": {"success": ["built-in shell \\(ash\\)"], "progress": [], "failure": [],
  "idle_timeout_s": 0, "overall_timeout_s": 60, "retries": 0}, "shutdown_timeout_s": 30,
  "notes": "integration test only", "admission_weight": 0.1},
)json";

std::string Call(const std::string& method, const std::string& params) {
  return testing::CallBounded(kSocket, method, params);
}

std::string NodeParams(const std::string& node) {
  return R"({"lab":")" + kLab + R"(","node":")" + node + R"("})";
}

// A member of node.get's result ("" when missing).
std::string NodeField(const std::string& node, const char* key) {
  simdjson::dom::parser p;
  simdjson::dom::element d;
  std::string_view v;
  if (p.parse(Call("node.get", NodeParams(node))).get(d) || d["result"][key].get(v)) return "";
  return std::string(v);
}

std::string Exec(const std::string& node, const std::string& cmd, int* rc = nullptr) {
  return testing::DockerExec(NodeField(node, "domain"), cmd, rc);
}

// console.tail's text of `node` once it holds `needle` (within `within`), else the last tail.
std::string TailUntil(const std::string& node, const std::string& needle,
                      std::chrono::seconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  std::string tail;
  while (std::chrono::steady_clock::now() < deadline) {
    tail =
        Call("console.tail", R"({"lab":")" + kLab + R"(","node":")" + node + R"(","bytes":65536})");
    if (tail.find(needle) != std::string::npos) return tail;
    std::this_thread::sleep_for(200ms);
  }
  return tail;
}

class ContainerExecTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    have_image_ = testing::HaveContainerFixtureImage();
    fs::create_directories(kImageRoot);
    fs::create_directories(kStateDir);
    fs::create_directories(kBindRoot + "/data");
    fs::create_directories(kBindRoot + "/rw");
    fs::create_directories(kDir + "/secret");
    std::ofstream(kBindRoot + "/data/hello.txt") << "hello from the bind root\n";
    fs::create_directory_symlink(kDir + "/secret", kBindRoot + "/escape");
    // The shipped catalog with the test kind first among its kinds.
    std::ifstream in(std::string(LABVIRT_SOURCE_DIR) + "/engine/data/catalog.json");
    std::stringstream text;
    text << in.rdbuf();
    std::string catalog = text.str();
    size_t kinds = catalog.find("\"kinds\": [");
    if (kinds != std::string::npos) catalog.insert(kinds + 10, kExecKind);
    std::ofstream(kDir + "/catalog.json") << catalog;
    std::string err;
    daemon_ = testing::StartHealthyDaemon(
        {.args = {"--socket", kSocket, "--image-root", kImageRoot, "--state-dir", kStateDir,
                  "--bind-root", kBindRoot, "--catalog", kDir + "/catalog.json"},
         .log_path = kDir + "/labvirtd.log"},
        kSocket, 60s, &err);
    healthy_ = err.empty() && kinds != std::string::npos;
    if (!err.empty()) std::fprintf(stderr, "%s\n", err.c_str());
  }
  static void TearDownTestSuite() {
    Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
    daemon_.reset();
    std::error_code ec;
    fs::remove_all(kDir, ec);
  }
  void SetUp() override {
    LABVIRT_REQUIRE(testing::DockerdAnswers(), "dockerd answering on /var/run/docker.sock");
    LABVIRT_REQUIRE(have_image_, std::string("docker image ") + kImage +
                                     " (tools/mkcontainer-fixture builds it)");
    LABVIRT_REQUIRE(healthy_, "labvirtd healthy with the test catalog");
  }
  void TearDown() override { Call("lab.destroy", R"({"lab":")" + kLab + R"("})"); }

  static std::string Deploy(const std::string& binds) {
    return R"({"lab":")" + kLab +
           R"(","wait":true,"nodes":[{"name":"e1","kind":"test_exec_container","image":")" +
           kImage + R"(","binds":)" + binds + "}]}";
  }

  static inline std::unique_ptr<testing::DaemonProcess> daemon_;
  static inline bool healthy_ = false;
  static inline bool have_image_ = false;
};

TEST_F(ContainerExecTest, ExecConsoleIsTheNodesConsoleAndComesBackAfterExit) {
  std::string err = testing::DeployReady(*daemon_, kSocket, kLab,
                                         Deploy(R"(["data:/mnt/data:ro","rw:/mnt/rw"])"), {"e1"});
  ASSERT_EQ(err, "");
  std::string first = TailUntil("e1", "built-in shell", 10s);
  EXPECT_NE(first.find("built-in shell"), std::string::npos) << first;
  // The console is the exec'd shell, not the container's own TTY (its init's text is not there).
  EXPECT_EQ(first.find("labvirt container fixture"), std::string::npos) << first;

  // Typed through console.attach, seen in console.tail (the console log the relay writes).
  auto c = testing::ConnectBounded(kSocket, 20s);
  ASSERT_TRUE(c.ok());
  auto reply = c->Call("console.attach", R"({"lab":")" + kLab + R"(","node":"e1","mode":"rw"})");
  ASSERT_TRUE(reply.ok());
  ASSERT_EQ(reply->find("\"error\""), std::string::npos) << *reply;
  auto type = [&](const std::string& line) {
    return ::send(c->fd(), line.data(), line.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(line.size());
  };
  // The first keystrokes after the start may be dropped (docker_client.h): typed until seen.
  std::string tail;
  for (int i = 0; i < 10 && tail.find("marker-123-42") == std::string::npos; ++i) {
    ASSERT_TRUE(type("echo marker-123-$((40+2))\r"));
    tail = TailUntil("e1", "marker-123-42", 2s);
  }
  EXPECT_NE(tail.find("marker-123-42"), std::string::npos) << "the shell ran it: " << tail;

  // `exit`: the shell ends, a new one starts (its banner again), the container still runs.
  size_t banners = 0;
  for (size_t at = 0; (at = tail.find("built-in shell", at)) != std::string::npos; ++at) ++banners;
  ASSERT_TRUE(type("exit\r"));
  std::string after;
  auto deadline = std::chrono::steady_clock::now() + 15s;
  size_t now_banners = banners;
  while (now_banners <= banners && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(300ms);
    after = TailUntil("e1", "built-in shell", 2s);
    now_banners = 0;
    for (size_t at = 0; (at = after.find("built-in shell", at)) != std::string::npos; ++at) {
      ++now_banners;
    }
  }
  EXPECT_GT(now_banners, banners) << "no new shell after exit: " << after;
  EXPECT_EQ(testing::NodeStateOf(kSocket, kLab, "e1"), "ready");
  // The same attach keeps working with the new shell.
  ASSERT_TRUE(type("echo again-$((1+1))\r"));
  EXPECT_NE(TailUntil("e1", "again-2", 10s).find("again-2"), std::string::npos);

  // labvirtd SIGKILLed and restarted: the node is adopted and its exec console opened again.
  daemon_->Kill();
  daemon_->Start();
  ASSERT_TRUE(testing::WaitHealthy(kSocket, 60s));
  auto adopted = std::chrono::steady_clock::now() + 30s;
  while (testing::NodeStateOf(kSocket, kLab, "e1") != "ready" &&
         std::chrono::steady_clock::now() < adopted) {
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(testing::NodeStateOf(kSocket, kLab, "e1"), "ready");
  auto c2 = testing::ConnectBounded(kSocket, 20s);
  ASSERT_TRUE(c2.ok());
  auto reply2 = c2->Call("console.attach", R"({"lab":")" + kLab + R"(","node":"e1","mode":"rw"})");
  ASSERT_TRUE(reply2.ok());
  ASSERT_EQ(reply2->find("\"error\""), std::string::npos) << *reply2;
  std::string restarted;
  for (int i = 0; i < 10 && restarted.find("after-restart-7") == std::string::npos; ++i) {
    std::string line = "echo after-restart-$((3+4))\r";
    ASSERT_EQ(::send(c2->fd(), line.data(), line.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(line.size()));
    restarted = TailUntil("e1", "after-restart-7", 2s);
  }
  EXPECT_NE(restarted.find("after-restart-7"), std::string::npos) << restarted;

  // The binds: the bind root's file is there, read-only where asked, writable elsewhere.
  EXPECT_EQ(Trim(Exec("e1", "cat /mnt/data/hello.txt")), "hello from the bind root");
  int rc = 0;
  std::string ro = Exec("e1", "echo x > /mnt/data/new.txt", &rc);
  EXPECT_NE(rc, 0) << "a read-only bind took a write: " << ro;
  EXPECT_FALSE(fs::exists(kBindRoot + "/data/new.txt"));
  Exec("e1", "echo written > /mnt/rw/out.txt", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(fs::exists(kBindRoot + "/rw/out.txt"));
}

TEST_F(ContainerExecTest, BadBindsAreRefusedNamingTheFieldBeforeAnythingIsMade) {
  std::string out = Call("lab.deploy", Deploy(R"(["data:/mnt/data","escape:/mnt/x"])"));
  EXPECT_NE(out.find("nodes[0].binds[1]"), std::string::npos) << out;
  EXPECT_NE(out.find("outside the bind root"), std::string::npos) << out;
  out = Call("lab.deploy", Deploy(R"(["../images:/mnt/x"])"));
  EXPECT_NE(out.find("nodes[0].binds[0]"), std::string::npos) << out;
  out = Call("lab.deploy", Deploy(R"(["missing:/mnt/x"])"));
  EXPECT_NE(out.find("nodes[0].binds[0]"), std::string::npos) << out;
  out = Call("lab.deploy", Deploy(R"(["data:mnt"])"));
  EXPECT_NE(out.find("nodes[0].binds[0]"), std::string::npos) << out;
  out = Call("lab.deploy", R"({"lab":")" + kLab +
                               R"(","nodes":[{"name":"v1","kind":"iosv","image":"x.qcow2",)"
                               R"("binds":["data:/mnt"]}]})");
  EXPECT_NE(out.find("nodes[0].binds"), std::string::npos) << out;
  EXPECT_NE(out.find("VMs"), std::string::npos) << out;
  EXPECT_EQ(Trim(Sh("docker ps -aq --filter label=labvirt.lab=" + kLab + " | wc -l")), "0");
  EXPECT_EQ(Call("lab.get", R"({"lab":")" + kLab + R"("})").find("\"e1\""), std::string::npos);
}

// A kind whose privileges the host refuses (a capability dockerd does not know): that node fails
// naming the node and dockerd's words, the lab's other node comes up, no container is left.
TEST_F(ContainerExecTest, PrivilegesTheHostRefusesFailTheNodeAloneWithDockersWords) {
  std::string out =
      Call("lab.deploy", R"({"lab":")" + kLab +
                             R"(","wait":true,"nodes":[)"
                             R"({"name":"r1","kind":"test_refused_container","image":")" +
                             std::string(kImage) +
                             R"("},{"name":"ok1","kind":"linux_container","image":")" +
                             std::string(kImage) + R"("}]})");
  EXPECT_EQ(testing::NodeStateOf(kSocket, kLab, "r1"), "failed") << out;
  std::string reason = NodeField("r1", "reason");
  EXPECT_NE(reason.find("container: "), std::string::npos) << reason;
  EXPECT_NE(reason.find("LABVIRT_NO_SUCH_CAPABILITY"), std::string::npos) << reason;
  EXPECT_EQ(testing::NodeStateOf(kSocket, kLab, "ok1"), "ready") << out;
  Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
  EXPECT_EQ(Trim(Sh("docker ps -aq --filter label=labvirt.lab=" + kLab + " | wc -l")), "0");
}

// A kind's stop signal and sysctls reach the container: the sysctls are set in its namespace (the
// kind's all.disable_ipv6=1 replaces labvirt's IPv6 pair), and node.stop sends SIGUSR1, which the
// container's shell traps and exits 0 on — a SIGTERM would be ignored by a PID 1 without a handler
// and the stop would end in a kill (exit 137) after the kind's 30 s timeout.
TEST_F(ContainerExecTest, TheKindsStopSignalAndSysctlsReachTheContainer) {
  // The fixture image with a PID 1 that exits 0 on SIGUSR1 (made here, never pulled).
  const std::string trap = "lvtest-trap:" + kPid, maker = "lvtest-trapmaker-" + kPid;
  const std::string entrypoint =
      R"(["/bin/sh", "-c", "trap \"exit 0\" USR1; while :; do sleep 1; done"])";
  int rc = -1;
  Sh("docker rm -f " + maker + " >/dev/null 2>&1; docker create --name " + maker + " " + kImage +
         " >/dev/null && docker commit --change 'ENTRYPOINT " + entrypoint +
         "' --change 'CMD []' " + maker + " " + trap + " >/dev/null && docker rm " + maker +
         " >/dev/null",
     &rc);
  ASSERT_EQ(rc, 0);
  std::string err = testing::DeployReady(*daemon_, kSocket, kLab,
                                         R"({"lab":")" + kLab +
                                             R"(","wait":true,"nodes":[{"name":"s1","kind":)"
                                             R"("test_runtime_container","image":")" +
                                             trap + R"("}]})",
                                         {"s1"});
  ASSERT_EQ(err, "");
  EXPECT_EQ(Trim(Exec("s1", "cat /proc/sys/net/ipv4/ip_forward")), "1");
  EXPECT_EQ(Trim(Exec("s1", "cat /proc/sys/net/ipv6/conf/all/disable_ipv6")), "1");
  // The kernel copies `all` into `default`, and labvirt adds no `default` of its own beside a
  // kind's `all` (runc's random order made this 0 or 1 from one start to the next).
  EXPECT_EQ(Trim(Exec("s1", "cat /proc/sys/net/ipv6/conf/default/disable_ipv6")), "1");
  std::string container = NodeField("s1", "domain");
  EXPECT_EQ(Trim(Sh("docker inspect -f '{{.Config.StopSignal}}' " + container)), "SIGUSR1");

  std::string stopped = Call("node.stop", R"({"lab":")" + kLab + R"(","node":"s1","wait":true})");
  EXPECT_EQ(stopped.find("\"error\""), std::string::npos) << stopped;
  EXPECT_EQ(testing::NodeStateOf(kSocket, kLab, "s1"), "stopped");
  EXPECT_EQ(Trim(Sh("docker inspect -f '{{.State.ExitCode}}' " + container)), "0")
      << "the container did not exit by its trap: the stop signal was not SIGUSR1";
  Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
  Sh("docker rmi " + trap + " >/dev/null 2>&1");
}

}  // namespace
}  // namespace labvirt
