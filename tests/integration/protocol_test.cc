// The control protocol of the real labvirtd binary over its real socket: a thousand clients at
// once and one too many, the standard error shapes, lab.deploy's parameter names, and a client
// flooding garbage while others are served. Clients leaving, half-closing or never reading, the
// socket's mode and group, and accept surviving fd exhaustion are protocol_clients_test.cc.
//
// The daemon talks to libvirt's test driver through the host's libvirtd (test+unix:///default:
// remote, so it has the keepalive labvirtd requires; test:///default in-process has not), so it
// neither sees nor adopts the host's labs and VMs, and nothing else changes its labs while a test
// compares them. No VM is started: events come from labs whose only node has a container image
// (refused per node without defining a domain), so deploy emits node.state and lab.deployed and
// destroy lab.destroyed, in milliseconds.
#include "tests/integration/protocol_test_base.h"

namespace labvirt {
namespace {

using namespace protocol_test;

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

}  // namespace
}  // namespace labvirt
