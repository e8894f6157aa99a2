// OvsdbClient and OvsReplica against a scripted server on a Unix socket, driven by a manual clock.
#include "ovs/ovsdb_client.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "ovs/ovs_replica.h"

namespace labvirt::ovs {
namespace {

using namespace std::chrono_literals;

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ovsdb_client_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/db.sock";
    listen_fd_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    ASSERT_EQ(::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listen_fd_.get(), 8), 0);
    reactor::ReactorOptions ro;
    ro.clock = &clock_;
    reactor_ = std::move(reactor::Reactor::Create(ro).value());
    OvsdbClientOptions o;
    o.remote = "unix:" + path_;
    o.request_timeout = 2s;
    o.probe_interval = 5s;
    o.backoff_initial = 100ms;
    o.max_message_bytes = 4096;
    client_ = std::make_unique<OvsdbClient>(*reactor_, o);
  }
  void TearDown() override {
    client_.reset();
    reactor_.reset();
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  // Runs the loop and accepts the client's connection.
  void AcceptClient() {
    reactor_->RunUntilIdle();
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    ASSERT_GE(fd, 0);
    server_.Reset(fd);
    reactor_->RunUntilIdle();
  }
  std::string ServerRead() {
    reactor_->RunUntilIdle();
    std::string out;
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(server_.get(), buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  void ServerWrite(std::string_view s) {
    ASSERT_EQ(::write(server_.get(), s.data(), s.size()), static_cast<ssize_t>(s.size()));
    reactor_->RunUntilIdle();
  }
  bool ServerSeesEof() {
    reactor_->RunUntilIdle();
    char c;
    return ::read(server_.get(), &c, 1) == 0;
  }

  reactor::ManualClock clock_;
  std::string dir_, path_;
  UniqueFd listen_fd_, server_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<OvsdbClient> client_;
};

TEST_F(ClientTest, CallGetsItsResultEvenWhenTheReplyArrivesInPieces) {
  client_->Start();
  AcceptClient();
  ASSERT_TRUE(client_->connected());
  std::string got;
  client_->Call("list_dbs", "[]", [&](Result<simdjson::dom::element> r) {
    ASSERT_TRUE(r.ok());
    got = simdjson::minify(*r);
  });
  EXPECT_EQ(ServerRead(), R"({"id":1,"method":"list_dbs","params":[]})");
  std::string reply = R"({"id":1,"result":["Open_vSwitch","\u00e9t\u00e9"],"error":null})";
  for (char c : reply) ServerWrite(std::string_view(&c, 1));
  EXPECT_EQ(got, R"(["Open_vSwitch","été"])");
  EXPECT_EQ(client_->pending_requests(), 0u);
}

TEST_F(ClientTest, AnswersServerEchoAndIgnoresUnknownIds) {
  client_->Start();
  AcceptClient();
  ServerWrite(R"({"id":"e1","method":"echo","params":["x",1]}{"id":99,"result":[],"error":null})");
  EXPECT_EQ(ServerRead(), R"({"id":"e1","result":["x",1],"error":null})");
  EXPECT_TRUE(client_->connected());
}

TEST_F(ClientTest, ProbesAnIdleServerAndDropsASilentOne) {
  client_->Start();
  AcceptClient();
  clock_.Advance(5s);
  reactor_->RunUntilIdle();
  EXPECT_EQ(ServerRead(), R"({"id":"echo","method":"echo","params":[]})");
  ServerWrite(R"({"id":"echo","result":[],"error":null})");
  EXPECT_TRUE(client_->connected());
  clock_.Advance(5s);
  reactor_->RunUntilIdle();
  EXPECT_NE(ServerRead().find("echo"), std::string::npos);
  clock_.Advance(5s);
  reactor_->RunUntilIdle();
  EXPECT_FALSE(client_->connected());
  EXPECT_TRUE(ServerSeesEof());
}

TEST_F(ClientTest, TimeoutFailsTheRequestAndResetsTheConnection) {
  client_->Start();
  AcceptClient();
  Status status;
  client_->Call("transact", R"(["Open_vSwitch"])",
                [&](Result<simdjson::dom::element> r) { status = r.status(); });
  ServerRead();
  clock_.Advance(2s);
  reactor_->RunUntilIdle();
  EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(ServerSeesEof());
  // The late answer on the old connection is never delivered anywhere.
  clock_.Advance(100ms);
  AcceptClient();
  EXPECT_TRUE(client_->connected());
  EXPECT_EQ(client_->connects(), 2u);
}

TEST_F(ClientTest, ServerGoneFailsPendingAndReconnectsWithBackoff) {
  client_->Start();
  AcceptClient();
  int fails = 0;
  std::vector<bool> states;
  client_->SetStateHandler([&](bool up) { states.push_back(up); });
  for (int i = 0; i < 3; ++i) {
    client_->Call("x", "[]", [&](Result<simdjson::dom::element> r) {
      EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
      ++fails;
    });
  }
  ServerRead();
  server_.Reset();
  reactor_->RunUntilIdle();
  EXPECT_EQ(fails, 3);
  EXPECT_FALSE(client_->connected());
  // Not connected: a call fails, but later, not inside Call().
  bool called = false;
  client_->Call("x", "[]", [&](Result<simdjson::dom::element> r) {
    called = true;
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  });
  EXPECT_FALSE(called);
  reactor_->RunUntilIdle();
  EXPECT_TRUE(called);
  clock_.Advance(99ms);
  reactor_->RunUntilIdle();
  EXPECT_FALSE(client_->connected());
  clock_.Advance(1ms);
  AcceptClient();
  EXPECT_TRUE(client_->connected());
  EXPECT_EQ(states, (std::vector<bool>{false, true}));
}

TEST_F(ClientTest, BackoffGrowsWhileTheServerIsAbsent) {
  listen_fd_.Reset();
  ::unlink(path_.c_str());
  client_->Start();
  reactor_->RunUntilIdle();
  EXPECT_FALSE(client_->connected());
  // Attempts at 0, +100ms, +200ms, +400ms: advancing 300ms after the first covers two retries.
  clock_.Advance(300ms);
  reactor_->RunUntilIdle();
  clock_.Advance(300ms);
  reactor_->RunUntilIdle();
  EXPECT_FALSE(client_->connected());
}

TEST_F(ClientTest, MalformedJsonResetsTheConnection) {
  client_->Start();
  AcceptClient();
  Status status;
  client_->Call("x", "[]", [&](Result<simdjson::dom::element> r) { status = r.status(); });
  ServerRead();
  ServerWrite(R"({"id":1,"result":[1,,2]})");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(ServerSeesEof());
}

TEST_F(ClientTest, InvalidUtf8ResetsTheConnection) {
  client_->Start();
  AcceptClient();
  ServerWrite("{\"id\":1,\"result\":\"\xff\xfe\"}");
  EXPECT_FALSE(client_->connected());
}

TEST_F(ClientTest, OversizedMessageResetsTheConnection) {
  client_->Start();
  AcceptClient();
  std::string big = R"({"id":1,"result":")" + std::string(5000, 'a') + "\"}";
  ServerWrite(big);
  EXPECT_FALSE(client_->connected());
}

TEST_F(ClientTest, RpcErrorAndMissingResultAreReported) {
  client_->Start();
  AcceptClient();
  Status a, b;
  client_->Call("x", "[]", [&](Result<simdjson::dom::element> r) { a = r.status(); });
  client_->Call("y", "[]", [&](Result<simdjson::dom::element> r) { b = r.status(); });
  ServerWrite(R"({"id":1,"result":null,"error":{"error":"unknown database","details":"Q"}})"
              R"({"id":2,"error":null})");
  EXPECT_EQ(a.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(a.message().find("unknown database: Q"), std::string::npos);
  EXPECT_EQ(b.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(client_->connected());
}

TEST_F(ClientTest, TransactReportsPerOperationErrors) {
  client_->Start();
  AcceptClient();
  Transaction txn;
  txn.Delete("Port", "u1", "delete Port p1");
  txn.Delete("Port", "u2", "delete Port p2");
  Status s;
  client_->Transact(txn, [&](Result<TransactReply> r) {
    ASSERT_TRUE(r.ok());
    s = r->ToStatus(txn.labels());
  });
  EXPECT_NE(ServerRead().find(R"("method":"transact")"), std::string::npos);
  ServerWrite(R"({"id":1,"result":[{"count":1},{"error":"aborted","details":"d"}],"error":null})");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("delete Port p2"), std::string::npos);
}

TEST_F(ClientTest, ReplicaMonitorsFallsBackAndAppliesUpdates) {
  OvsReplica replica(*reactor_, *client_);
  int synced = 0;
  replica.SetSyncedHandler([&] { ++synced; });
  client_->Start();
  AcceptClient();
  std::string req = ServerRead();
  EXPECT_NE(req.find(R"("method":"monitor_cond_since")"), std::string::npos) << req;
  ServerWrite(R"({"id":1,"result":null,"error":{"error":"unknown method"}})");
  req = ServerRead();
  EXPECT_NE(req.find(R"("method":"monitor_cond")"), std::string::npos) << req;
  EXPECT_EQ(replica.protocol(), OvsReplica::Protocol::kMonitorCond);
  ServerWrite(R"({"id":2,"result":{"Port":{"u1":{"initial":{"name":"p1","tag":5,)"
              R"("external_ids":["map",[["owner","labvirt"]]]}}},)"
              R"("Open_vSwitch":{"r1":{"initial":{"bridges":["set",[]]}}}},"error":null})");
  EXPECT_TRUE(replica.synced());
  EXPECT_EQ(synced, 1);
  EXPECT_EQ(replica.FindByName("Port", "p1"), "u1");
  EXPECT_EQ(replica.RootUuid(), "r1");
  ServerWrite(R"({"id":null,"method":"update2","params":["labvirt",{"Port":{)"
              R"("u1":{"modify":{"tag":7,"external_ids":["map",[["lab","L"]]]}},)"
              R"("u2":{"insert":{"name":"p2"}}}}]})");
  const ReplicaRow& row = replica.table("Port").at("u1");
  EXPECT_EQ(row.Get("tag").AsInteger(), 7);
  EXPECT_EQ(row.Get("external_ids").MapGet("lab"), "L");
  EXPECT_EQ(replica.FindByName("Port", "p2"), "u2");
  ServerWrite(
      R"({"id":null,"method":"update2","params":["labvirt",{"Port":{"u2":{"delete":null}}}]})");
  EXPECT_EQ(replica.FindByName("Port", "p2"), "");
  // A modify of a row the replica never saw is an out-of-step stream: resync.
  ServerWrite(
      R"({"id":null,"method":"update2","params":["labvirt",{"Port":{"zz":{"modify":{}}}}]})");
  EXPECT_FALSE(client_->connected());
  EXPECT_FALSE(replica.synced());
  clock_.Advance(100ms);
  AcceptClient();
  EXPECT_NE(ServerRead().find(R"("method":"monitor_cond")"), std::string::npos);
}

TEST_F(ClientTest, ReplicaMonitorCondSinceReplacesStateWhenNotFound) {
  OvsReplica replica(*reactor_, *client_);
  client_->Start();
  AcceptClient();
  ServerRead();
  ServerWrite(
      R"({"id":1,"result":[false,"t1",{"Port":{"u1":{"initial":{"name":"p1"}}}}],"error":null})");
  EXPECT_EQ(replica.FindByName("Port", "p1"), "u1");
  ServerWrite(
      R"({"id":null,"method":"update3","params":["labvirt","t2",{"Port":{"u1":{"modify":{"tag":3}}}}]})");
  EXPECT_EQ(replica.table("Port").at("u1").Get("tag").AsInteger(), 3);
  server_.Reset();
  reactor_->RunUntilIdle();
  clock_.Advance(100ms);
  AcceptClient();
  std::string req = ServerRead();
  EXPECT_NE(req.find(R"("t2"])"), std::string::npos) << req;  // resumes from the last txn id
  ServerWrite(
      R"({"id":2,"result":[false,"t9",{"Port":{"u5":{"initial":{"name":"p5"}}}}],"error":null})");
  EXPECT_EQ(replica.FindByName("Port", "p1"), "");
  EXPECT_EQ(replica.FindByName("Port", "p5"), "u5");
  // found=true: only the changes since t9 come, the rest is kept.
  server_.Reset();
  reactor_->RunUntilIdle();
  clock_.Advance(100ms);
  AcceptClient();
  ServerRead();
  ServerWrite(
      R"({"id":3,"result":[true,"t10",{"Port":{"u6":{"insert":{"name":"p6"}}}}],"error":null})");
  EXPECT_EQ(replica.FindByName("Port", "p5"), "u5");
  EXPECT_EQ(replica.FindByName("Port", "p6"), "u6");
}

TEST_F(ClientTest, ReplicaRejectsMalformedMonitorReply) {
  OvsReplica replica(*reactor_, *client_);
  client_->Start();
  AcceptClient();
  ServerRead();
  ServerWrite(R"({"id":1,"result":[false,"t1"],"error":null})");
  EXPECT_FALSE(replica.synced());
  EXPECT_FALSE(client_->connected());
}

TEST_F(ClientTest, BadRemoteKeepsRetryingWithoutCrashing) {
  OvsdbClientOptions o;
  o.remote = "ssl:1.2.3.4:6640";
  OvsdbClient c(*reactor_, o);
  c.Start();
  reactor_->RunUntilIdle();
  EXPECT_FALSE(c.connected());
  OvsdbClientOptions t;
  t.remote = "tcp:not-an-ip:1";
  OvsdbClient d(*reactor_, t);
  d.Start();
  reactor_->RunUntilIdle();
  EXPECT_FALSE(d.connected());
}

}  // namespace
}  // namespace labvirt::ovs
