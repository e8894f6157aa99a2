// The control protocol of the real labvirtd binary with clients that misbehave: leaving in the
// middle of a request, destroying a lab whose deploy is in flight, half-closing, reading slowly or
// never; the socket's mode and group, peer credentials in the log, and accept surviving fd
// exhaustion. Same daemon and suite as protocol_test.cc (protocol_test_base.h).
#include "tests/integration/protocol_test_base.h"

namespace labvirt {
namespace {

using namespace protocol_test;

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

// `printf '…\n' | socat - UNIX-CONNECT:…` shuts down its sending side right after the request.
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
