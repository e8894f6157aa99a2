// RpcMethods through the JSON level: a ControlServer listening on a socket in a temp directory,
// the methods registered over a LabEngine on the fake hypervisor, and a client that writes request
// lines and reads the answers. The tests assert on the JSON answers: results, error codes and
// data.field / data.reason naming what was wrong.
#include "engine/control/rpc_methods.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>

#include "engine/console/console_log.h"
#include "engine/control/control_server.h"
#include "tests/support/socket_pair.h"
#include "tests/unit/engine/lab_engine_fixture.h"

namespace labvirt::engine {
namespace {

using namespace std::chrono_literals;

// One answer line, picked apart.
struct Answer {
  std::string line;  // as received, without '\n'
  bool error = false;
  int64_t code = 0;
  std::string message, field, reason;
  std::string result;  // the result member, minified; empty for an error
};

class RpcMethodsTest : public LabEngineTest {
 protected:
  void SetUp() override {
    LabEngineTest::SetUp();
    if (HasFatalFailure()) return;
    server_ = std::make_unique<ControlServer>(*reactor_, ControlServerOptions{});
    rpc_ = std::make_unique<RpcMethods>(*server_, *engine_, *catalog_, *pool_);
    rpc_->Register();
    socket_path_ = (dir_ / "control.sock").string();
    Status st = server_->Listen(socket_path_);
    ASSERT_TRUE(st.ok()) << st.ToString();
    // Keeps RunOnce(true) from waiting past the test's deadline when nothing else is pending.
    tick_ = reactor_->Every(5ms, [] {});
    client_ = Connect();
  }
  void TearDown() override {
    client_.Reset();
    tick_.Cancel();
    rpc_.reset();
    server_.reset();
    LabEngineTest::TearDown();
  }

  UniqueFd Connect() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path_.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
        << std::strerror(errno);
    return fd;
  }

  // The next line `fd` receives, running the loop for up to 10 s; "" if none came.
  std::string NextLine(int fd) {
    std::string& buf = pending_[fd];
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (buf.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      reactor_->RunOnce(/*block=*/true);
      testing::DrainAvailable(fd, &buf);
    }
    size_t end = buf.find('\n');
    if (end == std::string::npos) return "";
    std::string line = buf.substr(0, end);
    buf.erase(0, end + 1);
    return line;
  }

  // Sends one request of `method` with `params` (a JSON object text) and reads its answer.
  Answer Call(const std::string& method, const std::string& params = "{}", int fd = -1) {
    if (fd < 0) fd = client_.get();
    std::string line = R"({"jsonrpc":"2.0","id":)" + std::to_string(++id_) + R"(,"method":")" +
                       method + R"(","params":)" + params + "}\n";
    EXPECT_EQ(::send(fd, line.data(), line.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(line.size()));
    return Parse(NextLine(fd));
  }

  Answer Parse(const std::string& line) {
    Answer a;
    a.line = line;
    simdjson::dom::element doc, result;
    if (json_.parse(line).get(doc)) {
      a.error = true;
      a.message = "unparsable answer: " + line;
      return a;
    }
    simdjson::dom::element err;
    if (doc["error"].get(err) == simdjson::SUCCESS) {
      a.error = true;
      std::string_view s;
      if (err["code"].get(a.code)) a.code = 0;
      if (!err["message"].get(s)) a.message = s;
      if (!err["data"]["field"].get(s)) a.field = s;
      if (!err["data"]["reason"].get(s)) a.reason = s;
    } else if (doc["result"].get(result) == simdjson::SUCCESS) {
      a.result = simdjson::minify(result);
    }
    return a;
  }

  // Deploys lab1 with two defined (not started) iosv nodes linked r1:eth1 - r2:eth1.
  Answer DeployLab1() {
    return Call("lab.deploy",
                R"({"lab":"lab1","nodes":[)"
                R"({"name":"r1","kind":"iosv","image":"base.qcow2","nics":2,"start":false},)"
                R"({"name":"r2","kind":"iosv","image":"base.qcow2","nics":2,"start":false}],)"
                R"("links":[{"endpoints":["r1:eth1","r2:eth1"]}]})");
  }

  std::unique_ptr<ControlServer> server_;
  std::unique_ptr<RpcMethods> rpc_;
  std::string socket_path_;
  UniqueFd client_;
  std::map<int, std::string> pending_;
  int id_ = 0;
  simdjson::dom::parser json_;
  reactor::OpHandle tick_;
};

#define EXPECT_INVALID(answer, want_field, want_reason) \
  do {                                                  \
    Answer a_ = (answer);                               \
    EXPECT_TRUE(a_.error) << a_.line;                   \
    EXPECT_EQ(a_.code, kInvalidParams) << a_.line;      \
    EXPECT_EQ(a_.field, want_field) << a_.line;         \
    EXPECT_EQ(a_.reason, want_reason) << a_.line;       \
  } while (0)

TEST_F(RpcMethodsTest, ADeployedLabIsAnsweredByLabAndNodeMethods) {
  Answer deployed = DeployLab1();
  ASSERT_FALSE(deployed.error) << deployed.line;
  EXPECT_TRUE(Has(deployed.result, R"("lab":"lab1")")) << deployed.result;
  Answer node = Call("node.get", R"({"lab":"lab1","node":"r2"})");
  ASSERT_FALSE(node.error) << node.line;
  EXPECT_TRUE(Has(node.result, R"("name":"r2")")) << node.result;
  EXPECT_TRUE(Has(node.result, R"("state":"defined")")) << node.result;
  Answer labs = Call("lab.list");
  ASSERT_FALSE(labs.error) << labs.line;
  EXPECT_TRUE(Has(labs.result, R"("lab1")")) << labs.result;
  Answer lab = Call("lab.get", R"({"lab":"lab1"})");
  ASSERT_FALSE(lab.error) << lab.line;
  EXPECT_TRUE(Has(lab.result, R"("r1")") && Has(lab.result, R"("r2")")) << lab.result;
}

TEST_F(RpcMethodsTest, ABadLabSpecIsRefusedNamingTheFieldPath) {
  EXPECT_INVALID(Call("lab.deploy", R"({"lab":"l","nodes":[{"name":"r1","kind":"iosv",)"
                                    R"("image":"base.qcow2"},{"name":"r2","kind":"iosv"}]})"),
                 "nodes[1].image", "required");
  EXPECT_INVALID(Call("lab.deploy", R"({"lab":"l","nodes":[],"wait":"yes"})"), "wait",
                 "must be a boolean");
  EXPECT_INVALID(Call("lab.deploy", R"({"lab":"l","nodes":[],"force":"yes"})"), "force",
                 "must be a boolean");
  EXPECT_INVALID(Call("lab.deploy", R"({"lab":"l","nodes":[],"colour":1})"), "colour",
                 "unknown parameter of lab.deploy (it takes lab, name, nodes, links, wait, "
                 "use_saved_configs, save_on_stop, mgmt, force)");
  Answer labs = Call("lab.list");
  EXPECT_EQ(labs.result, "[]") << "nothing was deployed: " << labs.line;
}

TEST_F(RpcMethodsTest, MissingOrMistypedParamsAreNamed) {
  EXPECT_INVALID(Call("node.get", R"({"lab":"lab1"})"), "node", "required string");
  EXPECT_INVALID(Call("node.get", R"({"lab":1,"node":"r1"})"), "lab", "required string");
  EXPECT_INVALID(Call("lab.destroy"), "lab", "required string");
  EXPECT_INVALID(Call("lab.cleanup", R"({"dry_run":1})"), "dry_run", "must be a boolean");
  EXPECT_INVALID(Call("node.start", R"({"lab":"l","node":"n","wait":"no"})"), "wait",
                 "must be a boolean");
  EXPECT_INVALID(Call("node.stop", R"({"lab":"l","node":"n","timeout_s":-1})"), "timeout_s",
                 "must be an integer 0..86400");
  EXPECT_INVALID(Call("node.stop", R"({"lab":"l","node":"n","force":"yes"})"), "force",
                 "must be a boolean");
  EXPECT_INVALID(Call("node.wipe", R"({"node":"n"})"), "lab", "required string");
}

TEST_F(RpcMethodsTest, UnknownNodesAreNotFound) {
  ASSERT_FALSE(DeployLab1().error);
  Answer a = Call("node.get", R"({"lab":"lab1","node":"r9"})");
  EXPECT_TRUE(a.error) << a.line;
  EXPECT_EQ(a.code, kInvalidParams) << a.line;
  EXPECT_EQ(a.message, "not found") << a.line;
  EXPECT_EQ(a.field, "node") << a.line;
  EXPECT_EQ(a.reason, "no node named 'r9' in lab lab1") << a.line;
  a = Call("console.tail", R"({"lab":"lab1","node":"r9"})");
  EXPECT_EQ(a.field, "node") << a.line;
  EXPECT_EQ(a.reason, "no node named 'r9' in lab lab1") << a.line;
}

TEST_F(RpcMethodsTest, LinkMethodsCheckTheirParams) {
  EXPECT_INVALID(Call("link.create", R"({"lab":"lab1","endpoints":["r1:eth2"]})"), "endpoints",
                 "must be two \"node:interface\" strings");
  EXPECT_INVALID(Call("link.create", R"({"lab":"lab1","endpoints":"r1:eth2"})"), "endpoints",
                 "must be an array of strings");
  EXPECT_INVALID(Call("link.create", R"({"lab":"lab1","endpoints":["r1:eth2",3]})"), "endpoints",
                 "must be an array of strings");
  EXPECT_INVALID(Call("link.delete", R"({"lab":"lab1"})"), "link", "required string");
  EXPECT_INVALID(Call("link.set_state", R"({"lab":"lab1","link":"x","state":"sideways"})"), "state",
                 "must be \"up\" or \"down\"");
}

TEST_F(RpcMethodsTest, ConsoleMethodsCheckModeAndBytes) {
  ASSERT_FALSE(DeployLab1().error);
  EXPECT_INVALID(Call("console.attach", R"({"lab":"lab1","node":"r1","mode":"rx"})"), "mode",
                 "must be \"rw\" or \"ro\"");
  EXPECT_INVALID(Call("console.attach", R"({"lab":"lab1","node":"r1","mode":"ro"})"), "node",
                 "no console for lab1/r1 (unknown node, or never started)");
  EXPECT_INVALID(Call("console.tail", R"({"lab":"lab1","node":"r1","bytes":0})"), "bytes",
                 "must be an integer 1.." + std::to_string(ConsoleLog::kMaxTailBytes));
}

TEST_F(RpcMethodsTest, CatalogMethodsAnswerFromTheCatalog) {
  Answer list = Call("catalog.list");
  ASSERT_FALSE(list.error) << list.line;
  EXPECT_EQ(list.result.front(), '[');
  EXPECT_TRUE(Has(list.result, R"("vendor":)")) << list.result;
  const std::string kind = catalog_->kinds().front().name;
  Answer one = Call("catalog.get", R"({"kind":")" + kind + R"("})");
  ASSERT_FALSE(one.error) << one.line;
  EXPECT_TRUE(Has(one.result, R"({"kind":")" + kind + R"(")")) << one.result;
  EXPECT_TRUE(Has(one.result, R"("readiness":{"none":)")) << one.result;
  EXPECT_INVALID(Call("catalog.get", R"({"kind":"nope"})"), "kind", "no kind named 'nope'");
  EXPECT_INVALID(Call("catalog.get"), "kind", "required string");
}

TEST_F(RpcMethodsTest, SubscribersGetTheEventsTheirFilterPasses) {
  EXPECT_INVALID(Call("events.subscribe", R"({"types":"node."})"), "types",
                 "must be an array of strings");
  UniqueFd other = Connect();
  Answer mine = Call("events.subscribe", R"({"labs":["lab1"],"types":["node."]})");
  ASSERT_FALSE(mine.error) << mine.line;
  EXPECT_EQ(mine.result, R"({"subscribed":true})");
  Answer theirs = Call("events.subscribe", R"({"labs":["lab2"]})", other.get());
  ASSERT_FALSE(theirs.error) << theirs.line;
  EXPECT_EQ(rpc_->subscriber_count(), 2u);

  rpc_->Publish(EngineEvent{"lab.deployed", "lab1", "", "{}"});  // type filtered out
  rpc_->Publish(EngineEvent{"node.state", "lab1", "r1", R"({"state":"ready"})"});
  std::string line = NextLine(client_.get());
  simdjson::dom::element ev;
  ASSERT_EQ(json_.parse(line).get(ev), simdjson::SUCCESS) << line;
  std::string_view method, type, node;
  EXPECT_NE(ev["id"].error(), simdjson::SUCCESS) << "a notification: " << line;
  ASSERT_FALSE(ev["method"].get(method) || ev["params"]["type"].get(type) ||
               ev["params"]["node"].get(node))
      << line;
  EXPECT_EQ(method, "event");
  EXPECT_EQ(type, "node.state");
  EXPECT_EQ(node, "r1");
  EXPECT_TRUE(Has(line, R"("data":{"state":"ready"})")) << line;

  // lab2's subscriber got nothing: its next line is the answer to its own next call.
  Answer ping = Call("lab.list", "{}", other.get());
  EXPECT_FALSE(ping.error) << ping.line;
  EXPECT_TRUE(Has(ping.line, R"("result")")) << "no event before the answer: " << ping.line;

  other.Reset();  // a client that leaves drops its subscription
  for (int i = 0; i < 1000 && rpc_->subscriber_count() != 1; ++i) reactor_->RunOnce(true);
  EXPECT_EQ(rpc_->subscriber_count(), 1u);
}

}  // namespace
}  // namespace labvirt::engine
