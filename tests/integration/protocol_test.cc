// The control protocol of the real labvirtd binary over its real socket: a thousand clients at
// once and one too many, a client flooding garbage while others are served, clients leaving in
// the middle of a request, the standard error shapes, a client that never reads, the socket's
// mode and group, peer credentials in the log, and accept surviving fd exhaustion.
//
// The daemon talks to libvirt's test driver through the host's libvirtd (test+unix:///default:
// remote, so it has the keepalive labvirtd requires; test:///default in-process has not), so it
// neither sees nor adopts the host's labs and VMs, and nothing else changes its labs while a test
// compares them. No VM is started: events come from labs whose only node has a container image
// (refused per node without defining a domain), so deploy emits node.state and lab.deployed and
// destroy lab.destroyed, in milliseconds.
#include <grp.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/daemon_process.h"
#include "tests/support/deadline.h"
#include "tests/support/prereq.h"
#include "tools/ctl/client.h"

namespace labvirt {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kDir = "/tmp/lvtest-proto-" + std::to_string(::getpid());
const std::string kSocket = kDir + "/labvirtd.sock";

// Every blocking read in these tests gives up instead of hanging the suite.
Result<ctl::Client> Connect(const std::string& socket = kSocket) {
  return testing::ConnectBounded(socket, 20s);
}

bool SendRaw(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::vector<std::string> DaemonArgs(const std::string& socket) {
  return {"--socket",      socket,
          "--libvirt-uri", "test+unix:///default",
          "--image-root",  kDir + "/img",
          "--state-dir",   kDir + "/state",
          "--workers",     "2"};
}

// A lab whose single node has a container image: deploys and destroys without the hypervisor.
std::string ContainerLab(const std::string& name) {
  return R"({"name":")" + name +
         R"(","nodes":[{"name":"c1","kind":"iosv","image":"example.org/ceos:4.30"}]})";
}

class ProtocolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::RaiseFdLimit(4096);
    fs::create_directories(kDir + "/img");
    fs::create_directories(kDir + "/state");
    daemon_ = new testing::DaemonProcess(
        {.args = DaemonArgs(kSocket), .log_path = kDir + "/labvirtd.log"});
    healthy_ = testing::WaitHealthy(kSocket);
  }
  static void TearDownTestSuite() {
    delete daemon_;
    std::error_code ec;
    fs::remove_all(kDir, ec);
  }
  void SetUp() override {
    LABVIRT_REQUIRE(healthy_, "labvirtd healthy on test+unix:///default (libvirtd running)");
  }
  void TearDown() override {
    EXPECT_TRUE(daemon_->running()) << "labvirtd died";
    if (HasFailure()) {
      std::string log = daemon_->Log();
      std::cerr << "--- labvirtd log (end) ---\n"
                << log.substr(log.size() > 6000 ? log.size() - 6000 : 0) << "\n";
    }
  }

  static std::string Call(const std::string& method, const std::string& params) {
    auto c = Connect();
    if (!c.ok()) return "connect failed: " + c.status().message();
    auto r = c->Call(method, params);
    return r.ok() ? *r : "call failed: " + r.status().message();
  }

  static inline testing::DaemonProcess* daemon_ = nullptr;
  static inline bool healthy_ = false;
  simdjson::dom::parser parser_;
};

// Names of every lab kind in the catalog, for requests with distinct, checkable answers.
std::vector<std::string> KindNames(simdjson::dom::parser& parser, const std::string& list) {
  std::vector<std::string> kinds;
  simdjson::dom::element doc;
  if (parser.parse(list).get(doc)) return kinds;
  for (auto k : doc["result"].get_array()) kinds.emplace_back(k["kind"].get_string().value());
  return kinds;
}

TEST_F(ProtocolTest, AThousandClientsAtOnceEachGetTheirAnswerAndOneTooManyIsRefused) {
  std::vector<std::string> kinds = KindNames(parser_, Call("catalog.list", "{}"));
  ASSERT_GT(kinds.size(), 1u);
  constexpr int kClients = 1024;  // the daemon's max_clients
  std::vector<ctl::Client> clients;
  for (int i = 0; i < kClients; ++i) {
    auto c = Connect();
    ASSERT_TRUE(c.ok()) << i << ": " << c.status().ToString();
    clients.push_back(std::move(c).value());
  }
  // Every client has its request in flight before any answer is read.
  for (int i = 0; i < kClients; ++i) {
    const std::string& kind = kinds[static_cast<size_t>(i) % kinds.size()];
    ASSERT_TRUE(clients[i].Send("catalog.get", R"({"kind":")" + kind + R"("})", i).ok()) << i;
  }
  for (int i = 0; i < kClients; ++i) {
    auto line = clients[i].ReadLine();
    ASSERT_TRUE(line.ok()) << i << ": " << line.status().ToString();
    simdjson::dom::element doc;
    ASSERT_EQ(parser_.parse(*line).get(doc), simdjson::SUCCESS) << *line;
    EXPECT_EQ(doc["id"].get_int64().value_unsafe(), i) << *line;
    std::string_view kind;
    ASSERT_EQ(doc["result"]["kind"].get(kind), simdjson::SUCCESS) << *line;
    EXPECT_EQ(kind, kinds[static_cast<size_t>(i) % kinds.size()]);
  }
  // All 1024 are being served, so one more is refused with a line saying why, then closed.
  auto extra = Connect();
  ASSERT_TRUE(extra.ok());
  auto refusal = extra->ReadLine();
  ASSERT_TRUE(refusal.ok()) << refusal.status().ToString();
  simdjson::dom::element doc;
  ASSERT_EQ(parser_.parse(*refusal).get(doc), simdjson::SUCCESS) << *refusal;
  EXPECT_EQ(doc["error"]["code"].get_int64().value_unsafe(), -32603) << *refusal;
  EXPECT_EQ(doc["error"]["message"].get_string().value_unsafe(), "too many clients");
  EXPECT_EQ(doc["error"]["data"]["field"].get_string().value_unsafe(), "clients");
  EXPECT_FALSE(extra->ReadLine().ok()) << "closed after the refusal";
  // Once one leaves, a newcomer is served again.
  clients.pop_back();
  std::string answer;
  for (int attempt = 0; attempt < 100; ++attempt) {
    answer = Call("host.info", "{}");
    if (answer.find("\"result\"") != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(answer.find("\"healthy\":true"), std::string::npos) << answer;
}

// One request line -> its error object, checked for code and data.field.
struct ErrorCase {
  std::string line;
  int code;
  std::string field;
};

TEST_F(ProtocolTest, StandardErrorShapesNameTheField) {
  const std::vector<ErrorCase> cases = {
      {"{not json", -32700, "request"},
      {R"({"jsonrpc":"2.0","id":1,"method":"host.info")", -32700, "request"},  // truncated
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"lab.get\",\"params\":{\"lab\":\"\xff\xfe\"}}",
       -32700, "request"},                                                   // invalid UTF-8
      {std::string(5000, '[') + std::string(5000, ']'), -32700, "request"},  // too deep
      {"[1,2]", -32600, "request"},
      {R"({"id":1,"method":"host.info"})", -32600, "jsonrpc"},
      {R"({"jsonrpc":"2.0","id":1,"method":7})", -32600, "method"},
      {R"({"jsonrpc":"2.0","id":{"a":1},"method":"host.info"})", -32600, "id"},
      {R"({"jsonrpc":"2.0","id":1,"method":"no.such"})", -32601, "method"},
      {R"({"jsonrpc":"2.0","id":1,"method":"lab.get","params":5})", -32602, "params"},
      {R"({"jsonrpc":"2.0","id":1,"method":"lab.get","params":{}})", -32602, "lab"},
      {R"({"jsonrpc":"2.0","id":1,"method":"lab.get","params":{"lab":5}})", -32602, "lab"},
      {R"({"jsonrpc":"2.0","id":1,"method":"node.get","params":{"lab":"x"}})", -32602, "node"},
      {R"({"jsonrpc":"2.0","id":1,"method":"node.stop","params":{"lab":"x","node":"y","timeout_s":-1}})",
       -32602, "timeout_s"},
      {R"({"jsonrpc":"2.0","id":1,"method":"catalog.get","params":{"kind":"nope"}})", -32602,
       "kind"},
      // A parameter a method does not take is refused by name, for every method (issue 13).
      {R"({"jsonrpc":"2.0","id":1,"method":"lab.get","params":{"lab":"x","wiat":true}})", -32602,
       "wiat"},
      {R"({"jsonrpc":"2.0","id":1,"method":"host.info","params":{"verbose":true}})", -32602,
       "verbose"},
      {R"({"jsonrpc":"2.0","id":1,"method":"node.start","params":{"lab":"x","node":"y","force":true}})",
       -32602, "force"},
      {R"({"jsonrpc":"2.0","id":1,"method":"lab.deploy","params":{"lab":"h13p","nodes":[],"wiat":true}})",
       -32602, "wiat"},
      {R"({"jsonrpc":"2.0","id":1,"method":"lab.deploy","params":{"lab":"h13p","name":"h13p","nodes":[]}})",
       -32602, "name"},
      {R"({"jsonrpc":"2.0","id":1,"method":"lab.deploy","params":{"lab":"h13p","nodes":[],"links":[{"endpoints":[],"speed":1}]}})",
       -32602, "links[0].speed"},
      // A deploy refused for its image names the image's field, in the parser's path syntax.
      {R"({"jsonrpc":"2.0","id":1,"method":"lab.deploy","params":{"lab":"h13p","nodes":[{"name":"r1","kind":"iosv","image":"missing.qcow2"}]}})",
       -32602, "nodes[0].image"},
      {R"({"jsonrpc":"2.0","id":1,"method":"lab.deploy","params":{"lab":"bad lab","nodes":[]}})",
       -32602, "lab"},
      {std::string(R"({"jsonrpc":"2.0","id":1,"method":"host.info","params":{"x":")") +
           std::string((1 << 20) + 10, 'a') + "\"}}",
       -32600, "line"},  // over 1 MiB
  };
  auto c = Connect();
  ASSERT_TRUE(c.ok());
  for (const auto& k : cases) {
    ASSERT_TRUE(SendRaw(c->fd(), k.line + "\n"));
    auto line = c->ReadLine();
    ASSERT_TRUE(line.ok()) << k.line.substr(0, 80);
    simdjson::dom::element doc;
    ASSERT_EQ(parser_.parse(*line).get(doc), simdjson::SUCCESS) << *line;
    EXPECT_EQ(doc["jsonrpc"].get_string().value_unsafe(), "2.0") << *line;
    EXPECT_EQ(doc["error"]["code"].get_int64().value_unsafe(), k.code)
        << k.line.substr(0, 80) << " -> " << *line;
    std::string_view field, message, reason;
    ASSERT_EQ(doc["error"]["data"]["field"].get(field), simdjson::SUCCESS) << *line;
    EXPECT_EQ(field, k.field) << k.line.substr(0, 80) << " -> " << *line;
    EXPECT_EQ(doc["error"]["data"]["reason"].get(reason), simdjson::SUCCESS) << *line;
    EXPECT_EQ(doc["error"]["message"].get(message), simdjson::SUCCESS) << *line;
  }
  // After all that the connection still works.
  auto ok = c->Call("host.info", "{}");
  ASSERT_TRUE(ok.ok());
  EXPECT_NE(ok->find("\"result\""), std::string::npos) << *ok;
}

// What the flooder sends: every kind of bad input, about 12 MiB in all.
std::string Garbage() {
  std::mt19937 rng(7);
  std::string g;
  for (int i = 0; i < 4; ++i) {  // random bytes, newlines included
    for (int k = 0; k < (1 << 20); ++k) g += static_cast<char>(rng());
    g += '\n';
  }
  g += std::string(3 << 20, 'x') + "\n";  // oversized line
  g += "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + std::string(2 << 20, 'm') + "\"}\n";
  for (int i = 0; i < 2000; ++i) {
    g += "{\"jsonrpc\":\"2.0\",\"id\":1,\"meth\n";                               // truncated
    g += "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xc3\x28\"}\n";             // invalid UTF-8
    g += "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"lab.deploy\",\"params\":";  // wrong params
    g += std::to_string(i) + "}\n";
    g += "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"lab.destroy\",\"params\":{}}\n";
    g += std::string(1, '\0') + "\r\n";
  }
  g += std::string(200000, '[') + "\n";  // deep nesting
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "{\"a\":";
  g += deep + "\n";
  g += std::string(1 << 20, '{');  // ends mid-line: the flooder then leaves
  return g;
}

// lab.deploy takes the lab as `lab`, like every other method; `name`, its first spelling, still
// works (issue 13).
TEST_F(ProtocolTest, DeployTakesLabAndStillItsOldAliasName) {
  for (const char* member : {"lab", "name"}) {
    std::string lab = std::string("h13-by-") + member;
    std::string params = ContainerLab(lab);  // {"name":"LAB",...}
    params.replace(2, 4, member);
    std::string answer = Call("lab.deploy", params);
    EXPECT_NE(answer.find(R"("result":{"name":")" + lab + "\""), std::string::npos) << answer;
    answer = Call("lab.destroy", R"({"lab":")" + lab + R"("})");
    EXPECT_NE(answer.find(R"("destroyed":1)"), std::string::npos) << answer;
  }
}

TEST_F(ProtocolTest, GarbageFloodHarmsNoOtherClient) {
  const std::string before = Call("lab.list", "{}");
  ASSERT_NE(before.find("\"result\""), std::string::npos) << before;
  auto sub = Connect();
  ASSERT_TRUE(sub.ok());
  // No lab filter: lab.deployed and lab.destroyed carry an empty "lab" (only data.lab names it).
  auto subscribed = sub->Call("events.subscribe", "{}");
  ASSERT_TRUE(subscribed.ok());
  ASSERT_NE(subscribed->find("\"subscribed\":true"), std::string::npos) << *subscribed;

  auto flooder = Connect();
  ASSERT_TRUE(flooder.ok());
  const int flood_fd = flooder->fd();
  std::atomic<size_t> flood_answers{0}, parse_errors{0};
  // Drains the flooder's answers so that it stays a client that reads.
  std::thread drain([&] {
    for (;;) {
      auto line = flooder->ReadLine();
      if (!line.ok()) return;
      ++flood_answers;
      parse_errors += line->find("\"code\":-32700") != std::string::npos;
    }
  });
  std::atomic<bool> flooding{true};
  std::thread flood([&] {
    SendRaw(flood_fd, Garbage());
    ::shutdown(flood_fd, SHUT_WR);
    flooding = false;
  });

  // Meanwhile another client keeps getting correct answers and its events.
  auto good = Connect();
  ASSERT_TRUE(good.ok());
  int rounds = 0;
  while (flooding || rounds < 3) {
    ++rounds;
    auto info = good->Call("catalog.get", R"({"kind":"iosv"})");
    ASSERT_TRUE(info.ok());
    EXPECT_NE(info->find("\"result\":{\"kind\":\"cisco_iosv\""), std::string::npos) << *info;
    auto dep = good->Call("lab.deploy", ContainerLab("flood-ok"));
    ASSERT_TRUE(dep.ok());
    EXPECT_NE(dep->find("\"result\""), std::string::npos) << *dep;
    auto des = good->Call("lab.destroy", R"({"lab":"flood-ok"})");
    ASSERT_TRUE(des.ok());
    EXPECT_NE(des->find("\"destroyed\":1"), std::string::npos) << *des;
    std::vector<std::string> types;
    while (types.size() < 3) {  // node.state, lab.deployed, lab.destroyed
      auto ev = sub->ReadLine();
      ASSERT_TRUE(ev.ok()) << "subscriber lost its events";
      if (ev->find("flood-ok") == std::string::npos) continue;  // the host's own events
      simdjson::dom::element doc;
      ASSERT_EQ(parser_.parse(*ev).get(doc), simdjson::SUCCESS) << *ev;
      types.emplace_back(doc["params"]["type"].get_string().value_unsafe());
    }
    EXPECT_EQ(types, (std::vector<std::string>{"node.state", "lab.deployed", "lab.destroyed"}));
  }
  flood.join();
  drain.join();
  EXPECT_GT(parse_errors.load(), 2000u) << "the garbage was answered with parse errors";
  EXPECT_GT(flood_answers.load(), 10000u);
  EXPECT_EQ(Call("lab.list", "{}"), before) << "the flood changed the daemon's labs";
}

TEST_F(ProtocolTest, ClientsLeavingMidRequestHarmNothing) {
  const std::string before = Call("lab.list", "{}");
  ASSERT_NE(before.find("\"result\""), std::string::npos) << before;
  constexpr int kRounds = 50;
  for (int i = 0; i < kRounds; ++i) {
    {  // half a request line, then gone
      auto c = Connect();
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE(SendRaw(c->fd(), R"({"jsonrpc":"2.0","id":1,"method":"lab.li)"));
    }
    {  // an asynchronous request (deploy runs on the worker pool), then gone before its answer
      auto c = Connect();
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE(c->Send("lab.deploy", ContainerLab("gone-" + std::to_string(i)), 1).ok());
      ASSERT_TRUE(c->Send("events.subscribe", "{}", 2).ok());
      ASSERT_TRUE(SendRaw(c->fd(), R"({"jsonrpc":"2.0","id":3,"meth)"));
    }
  }
  // The deploys still happen (leaving does not cancel them): wait until each lab has its node.
  // (Destroying a lab while its deploy is in flight is not what this test is about.)
  auto deployed = [](int i) {
    return Call("lab.get", R"({"lab":"gone-)" + std::to_string(i) + "\"}")
               .find("\"name\":\"c1\"") != std::string::npos;
  };
  for (int i = 0; i < kRounds; ++i) {
    bool done = false;
    for (int attempt = 0; attempt < 200 && !done; ++attempt) {
      done = deployed(i);
      if (!done) std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(done) << "gone-" << i << " was not deployed";
  }
  for (int i = 0; i < kRounds; ++i) {
    std::string des = Call("lab.destroy", R"({"lab":"gone-)" + std::to_string(i) + "\"}");
    EXPECT_NE(des.find("\"destroyed\":1"), std::string::npos) << des;
  }
  EXPECT_EQ(Call("lab.list", "{}"), before);
  EXPECT_NE(Call("host.info", "{}").find("\"healthy\":true"), std::string::npos);
}

// `printf '…\n' | socat - UNIX-CONNECT:…` shuts down its sending side right after the request.
// lab.destroy arriving while the same lab's deploy is still in flight (it crashed labvirtd once):
// the destroy answers, the deploy then fails naming why and leaves nothing, and labvirtd lives on.
TEST_F(ProtocolTest, DestroyDuringDeployLeavesNothingAndKeepsTheDaemon) {
  auto events = Connect();
  ASSERT_TRUE(events.ok());
  ASSERT_TRUE(events->Call("events.subscribe", R"({"labs":["race"],"types":["lab."]})").ok());
  auto c = Connect();
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send("lab.deploy", ContainerLab("race"), 1).ok());
  ASSERT_TRUE(c->Send("lab.destroy", R"({"lab":"race"})", 2).ok());
  auto deploy = c->ReadLine();
  ASSERT_TRUE(deploy.ok()) << "labvirtd died";
  auto destroy = c->ReadLine();
  ASSERT_TRUE(destroy.ok()) << "labvirtd died";
  EXPECT_NE(destroy->find(R"("id":2,"result")"), std::string::npos) << *destroy;
  if (deploy->find("error") != std::string::npos) {
    EXPECT_NE(deploy->find("destroyed while it was being deployed"), std::string::npos) << *deploy;
  }
  EXPECT_EQ(Call("lab.list", "{}").find("race"), std::string::npos) << "nothing left";
  EXPECT_NE(Call("host.info", "{}").find("\"result\""), std::string::npos);
  // Lab events name their lab, so a subscriber filtering by lab receives them.
  auto ev = events->ReadLine();
  ASSERT_TRUE(ev.ok());
  EXPECT_NE(ev->find(R"("lab":"race")"), std::string::npos) << *ev;
}

TEST_F(ProtocolTest, HalfClosedClientStillGetsEveryAnswer) {
  auto c = Connect();
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send("lab.deploy", ContainerLab("half-closed"), 1).ok());  // asynchronous
  ASSERT_TRUE(c->Send("host.info", "{}", 2).ok());
  ASSERT_EQ(::shutdown(c->fd(), SHUT_WR), 0);
  auto deploy = c->ReadLine();
  ASSERT_TRUE(deploy.ok()) << "the asynchronous answer was dropped";
  EXPECT_NE(deploy->find(R"("id":1,"result")"), std::string::npos) << *deploy;
  auto info = c->ReadLine();
  ASSERT_TRUE(info.ok());
  EXPECT_NE(info->find(R"("id":2,"result")"), std::string::npos) << *info;
  EXPECT_FALSE(c->ReadLine().ok()) << "closed once everything was answered";
  EXPECT_NE(Call("lab.destroy", R"({"lab":"half-closed"})").find("\"destroyed\":1"),
            std::string::npos);
}

// Pipelined answers to a client with a small receive buffer leave in coalesced, often short,
// sends: every line must still arrive whole and in order.
TEST_F(ProtocolTest, PipelinedAnswersToASlowReaderArriveWholeAndInOrder) {
  auto c = Connect();
  ASSERT_TRUE(c.ok());
  int rcvbuf = 4096;
  ::setsockopt(c->fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  std::string one = Call("catalog.list", "{}");
  ASSERT_GT(one.size(), 100u);
  const int n = static_cast<int>(std::min<size_t>(400, (4u << 20) / one.size()));
  std::string batch;
  for (int i = 1; i <= n; ++i) {
    batch +=
        R"({"jsonrpc":"2.0","id":)" + std::to_string(i) + R"(,"method":"catalog.list"})" + "\n";
  }
  ASSERT_TRUE(SendRaw(c->fd(), batch));
  for (int i = 1; i <= n; ++i) {
    auto line = c->ReadLine();
    ASSERT_TRUE(line.ok()) << i;
    simdjson::dom::element doc;
    ASSERT_EQ(parser_.parse(*line).get(doc), simdjson::SUCCESS) << i;
    ASSERT_EQ(doc["id"].get_int64().value_unsafe(), i);
    EXPECT_EQ(line->size() - line->find("\"result\""), one.size() - one.find("\"result\""));
  }
}

TEST_F(ProtocolTest, AClientThatNeverReadsIsDisconnectedNotBuffered) {
  auto c = Connect();
  ASSERT_TRUE(c.ok());
  auto subscribed = c->Call("events.subscribe", "{}");
  ASSERT_TRUE(subscribed.ok());
  int rcvbuf = 4096;  // keep the kernel's share small: the daemon's queue must do the bounding
  ::setsockopt(c->fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  std::string one = Call("catalog.list", "{}");
  ASSERT_GT(one.size(), 100u);
  // Three times the 8 MiB output bound in answers, never read.
  const size_t requests = 3 * (8u << 20) / one.size() + 1;
  std::string batch;
  for (int i = 0; i < 100; ++i) {
    batch += R"({"jsonrpc":"2.0","id":1,"method":"catalog.list"})"
             "\n";
  }
  size_t sent = 0;
  while (sent < requests && SendRaw(c->fd(), batch)) sent += 100;
  // The daemon cut it off: what arrives ends long before every answer did.
  size_t lines = 0;
  for (;;) {
    auto line = c->ReadLine();
    if (!line.ok()) break;
    ++lines;
  }
  EXPECT_LT(lines, requests) << "every answer was buffered: the output queue is unbounded";
  EXPECT_NE(daemon_->Log().find("output queue full"), std::string::npos);
  EXPECT_NE(Call("host.info", "{}").find("\"healthy\":true"), std::string::npos);
}

TEST_F(ProtocolTest, SocketModeGroupAndPeerCredentialsInTheLog) {
  struct stat st {};
  ASSERT_EQ(::stat(kSocket.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  if (group* g = ::getgrnam("labvirt"); g != nullptr) {
    EXPECT_EQ(st.st_gid, g->gr_gid) << "group labvirt exists, so the socket belongs to it";
  }
  EXPECT_NE(Call("host.info", "{}").find("\"result\""), std::string::npos);
  const std::string me = "pid=" + std::to_string(::getpid()) +
                         " uid=" + std::to_string(::getuid()) +
                         " gid=" + std::to_string(::getgid());
  EXPECT_NE(daemon_->Log().find(me), std::string::npos) << "peer credentials logged at connect";
  // The default socket path is the documented one.
  std::string help;
  FILE* p = ::popen(LABVIRTD_PATH " --help", "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) help.append(buf, n);
  ::pclose(p);
  EXPECT_NE(help.find("default /run/labvirt/labvirtd.sock"), std::string::npos) << help;
}

// A daemon squeezed to 64 descriptors: clients beyond that wait in the listen backlog and are
// served once earlier ones leave, instead of the daemon no longer accepting anyone.
TEST_F(ProtocolTest, AcceptSurvivesRunningOutOfDescriptors) {
  const std::string socket = kDir + "/small.sock";
  testing::DaemonProcess small(
      {.args = DaemonArgs(socket), .log_path = kDir + "/small.log", .max_fds = 64});
  ASSERT_TRUE(testing::WaitHealthy(socket)) << small.Log();
  std::vector<ctl::Client> clients;
  for (int i = 0; i < 100; ++i) {
    auto c = Connect(socket);
    ASSERT_TRUE(c.ok()) << i;
    ASSERT_TRUE(c->Send("host.info", "{}", i).ok());
    clients.push_back(std::move(c).value());
  }
  bool out_of_fds = false;
  for (int attempt = 0; attempt < 200 && !out_of_fds; ++attempt) {
    out_of_fds = small.Log().find("accept failed; retrying") != std::string::npos;
    if (!out_of_fds) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(out_of_fds) << "64 descriptors cannot hold 100 clients";
  // Connections are accepted in order: the first ones are answered, the rest wait. (A slow
  // answer only moves a client to the waiting group, which must be answered later anyway.)
  size_t first = 0;
  ASSERT_TRUE(clients[0].ReadLine().ok()) << "the first client is served";
  for (first = 1; first < clients.size(); ++first) {
    testing::SetReadTimeout(clients[first].fd(), 1s);
    if (!clients[first].ReadLine().ok()) break;
  }
  EXPECT_LT(first, clients.size());
  // The answered ones leave; every waiting client is then accepted and answered.
  std::vector<ctl::Client> waiting;
  for (size_t i = first; i < clients.size(); ++i) waiting.push_back(std::move(clients[i]));
  clients.clear();
  for (auto& c : waiting) {
    testing::SetReadTimeout(c.fd(), 20s);
    auto line = c.ReadLine();
    ASSERT_TRUE(line.ok()) << "a waiting client was never accepted";
    EXPECT_NE(line->find("\"result\""), std::string::npos) << *line;
  }
  EXPECT_NE(small.Log().find("accepting again"), std::string::npos);
  EXPECT_EQ(small.Stop(), 0);
}

}  // namespace
}  // namespace labvirt
