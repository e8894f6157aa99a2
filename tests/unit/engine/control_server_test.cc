#include "engine/control/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor_ = std::move(reactor::Reactor::Create()).value();
    server_ = std::make_unique<ControlServer>(
        *reactor_, ControlServerOptions{.max_line_bytes = 256, .max_clients = 4});
    server_->AddMethod("echo", {"a", "b"}, [](simdjson::dom::element params) -> RpcResult {
      return simdjson::minify(params);
    });
    server_->AddMethod("fail", {}, [](simdjson::dom::element) -> RpcResult {
      return FieldError(kInvalidParams, "invalid params", "lab", "no lab named 'x'");
    });
  }
  std::string Handle(std::string_view line) { return server_->HandleLine(line); }
  // Runs loop passes, without sleeping, until `done` holds; false if it still does not after
  // `max_passes`. The client is in this thread, so each pass moves the exchange on.
  template <typename Pred>
  bool Pump(Pred done, int max_passes = 200000) {
    for (int i = 0; i < max_passes; ++i) {
      if (done()) return true;
      reactor_->RunOnce(/*block=*/false);
    }
    return done();
  }

  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<ControlServer> server_;
};

TEST_F(ControlServerTest, ResultEchoesIdOfAnyType) {
  EXPECT_EQ(Handle(R"({"jsonrpc":"2.0","id":7,"method":"echo","params":{"a":1}})"),
            R"({"jsonrpc":"2.0","id":7,"result":{"a":1}})");
  EXPECT_EQ(Handle(R"({"jsonrpc":"2.0","id":"x\"y","method":"echo","params":{"b":[1]}})"),
            R"({"jsonrpc":"2.0","id":"x\"y","result":{"b":[1]}})");
  EXPECT_EQ(Handle(R"({"jsonrpc":"2.0","id":2,"method":"echo","params":[]})"),
            R"({"jsonrpc":"2.0","id":2,"result":[]})");
  EXPECT_EQ(Handle(R"({"jsonrpc":"2.0","id":1,"method":"echo"})"),
            R"({"jsonrpc":"2.0","id":1,"result":null})");
}

TEST_F(ControlServerTest, NotificationGetsNoAnswer) {
  EXPECT_EQ(Handle(R"({"jsonrpc":"2.0","method":"echo"})"), "");
}

TEST_F(ControlServerTest, StandardErrorsNameTheField) {
  struct Case {
    std::string line;
    int code;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"{not json", kParseError, "request"},
      {"[1,2]", kInvalidRequest, "request"},
      {R"({"id":1,"method":"echo"})", kInvalidRequest, "jsonrpc"},
      {R"({"jsonrpc":"1.0","id":1,"method":"echo"})", kInvalidRequest, "jsonrpc"},
      {R"({"jsonrpc":"2.0","id":1,"method":5})", kInvalidRequest, "method"},
      {R"({"jsonrpc":"2.0","id":{"o":1},"method":"echo"})", kInvalidRequest, "id"},
      {R"({"jsonrpc":"2.0","id":1,"method":"echo","params":3})", kInvalidParams, "params"},
      {R"({"jsonrpc":"2.0","id":1,"method":"nope"})", kMethodNotFound, "method"},
      {R"({"jsonrpc":"2.0","id":1,"method":"fail"})", kInvalidParams, "lab"},
      // A parameter the method does not take is refused by name, not ignored.
      {R"({"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":1,"wiat":true}})", kInvalidParams,
       "wiat"},
      {R"({"jsonrpc":"2.0","id":1,"method":"fail","params":{"x":1}})", kInvalidParams, "x"},
      {R"({"jsonrpc":"2.0","id":1,"method":"echo","params":[1]})", kInvalidParams, "params"},
      {"\"\xff\xfe\"", kParseError, "request"},
  };
  simdjson::dom::parser parser;
  for (const auto& c : cases) {
    std::string resp = Handle(c.line);
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(resp).get(doc), simdjson::SUCCESS) << resp;
    int64_t code = 0;
    ASSERT_EQ(doc["error"]["code"].get(code), simdjson::SUCCESS) << resp;
    EXPECT_EQ(code, c.code) << c.line;
    std::string_view field;
    ASSERT_EQ(doc["error"]["data"]["field"].get(field), simdjson::SUCCESS) << resp;
    EXPECT_EQ(field, c.field) << c.line;
  }
}

// A client of `path` in the test thread: non-blocking, so the test reads between loop passes.
UniqueFd Connect(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return {};
  return fd;
}

void SendAll(int fd, const std::string& data) {
  // Requests fit the socket buffer: one non-blocking send takes them whole.
  ASSERT_EQ(::send(fd, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
}

// Appends what `fd` has to `out` without waiting; true once the peer has closed.
bool Drain(int fd, std::string* out) {
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return false;  // EAGAIN: nothing more yet
    out->append(buf, static_cast<size_t>(n));
  }
}

size_t Lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST_F(ControlServerTest, SocketPipeliningOversizedLinesAndPermissions) {
  std::string path = "/tmp/labvirt-cs-test-" + std::to_string(::getpid()) + ".sock";
  ASSERT_TRUE(server_->Listen(path).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  std::string big(1000, 'x');  // over the 256-byte limit of this server
  std::string req = R"({"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":1}})"
                    "\n" +
                    big + "\n" +
                    R"({"jsonrpc":"2.0","id":2,"method":"echo","params":{"a":2}})"
                    "\n";
  UniqueFd client = Connect(path);
  ASSERT_TRUE(client);
  SendAll(client.get(), req);
  std::string got;
  ASSERT_TRUE(Pump([&] {
    Drain(client.get(), &got);
    return Lines(got) >= 3;
  })) << got;
  std::vector<std::string> lines;
  for (size_t pos = 0; pos < got.size();) {
    size_t nl = got.find('\n', pos);
    lines.push_back(got.substr(pos, nl - pos));
    pos = nl + 1;
  }
  ASSERT_EQ(lines.size(), 3u) << got;
  EXPECT_EQ(lines[0], R"({"jsonrpc":"2.0","id":1,"result":{"a":1}})");
  EXPECT_NE(lines[1].find("request line too long"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[2], R"({"jsonrpc":"2.0","id":2,"result":{"a":2}})");  // in order, unaffected
}

TEST_F(ControlServerTest, PipelinedAnswersLeaveInOneSendAndHalfCloseIsAnswered) {
  std::string path = "/tmp/labvirt-cs-test3-" + std::to_string(::getpid()) + ".sock";
  ASSERT_TRUE(server_->Listen(path).ok());
  std::string req;
  for (int id = 1; id <= 3; ++id) {
    req +=
        R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":"echo","params":{"a":0}})";
    req += "\n";
  }
  UniqueFd client = Connect(path);
  ASSERT_TRUE(client);
  SendAll(client.get(), req);
  ::shutdown(client.get(), SHUT_WR);  // `printf ... | socat`: the answers are still owed
  // Read as soon as anything arrives: had the answers left in several sends, the first read
  // would hold only the first of them.
  std::string first_read, all;
  ASSERT_TRUE(Pump([&] { return Drain(client.get(), &first_read) || !first_read.empty(); }));
  all = first_read;
  ASSERT_TRUE(Pump([&] { return Drain(client.get(), &all); })) << "the server closes: " << all;
  std::string want;
  for (int id = 1; id <= 3; ++id) {
    want += R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"result":{"a":0}})" + "\n";
  }
  EXPECT_EQ(all, want);  // every answer, in order, then the server closed the connection
  EXPECT_EQ(first_read, want);
}

TEST_F(ControlServerTest, AClientWithTooManyRequestsAwaitingAnswersIsCutOffAlone) {
  ControlServer server(*reactor_, ControlServerOptions{.max_pending_requests = 3});
  std::vector<RpcReply> held;  // answers of "hold", given when the test says
  server.AddAsyncMethod("hold", {}, [&](simdjson::dom::element, RpcContext, RpcReply reply) {
    held.push_back(std::move(reply));
  });
  server.AddMethod("echo", {"a"}, [](simdjson::dom::element params) -> RpcResult {
    return simdjson::minify(params);
  });
  std::string path = "/tmp/labvirt-cs-test4-" + std::to_string(::getpid()) + ".sock";
  ASSERT_TRUE(server.Listen(path).ok());
  UniqueFd greedy = Connect(path), other = Connect(path);
  ASSERT_TRUE(greedy && other);
  std::string req;
  for (int id = 1; id <= 5; ++id)
    req += R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":"hold"})" + "\n";
  SendAll(greedy.get(), req);
  std::string got;
  ASSERT_TRUE(Pump([&] { return Drain(greedy.get(), &got); })) << "closed: " << got;
  EXPECT_EQ(Lines(got), 1u) << got;
  EXPECT_NE(got.find("too many requests"), std::string::npos) << got;
  EXPECT_NE(got.find("at most 3 requests awaiting answers"), std::string::npos) << got;
  EXPECT_EQ(held.size(), 3u) << "the fourth request was never run";
  for (auto& reply : held) reply(std::string("{}"));  // late answers for a gone client: dropped
  SendAll(other.get(), R"({"jsonrpc":"2.0","id":9,"method":"echo","params":{"a":1}})"
                       "\n");
  std::string fine;
  ASSERT_TRUE(Pump([&] {
    Drain(other.get(), &fine);
    return Lines(fine) >= 1;
  }));
  EXPECT_EQ(fine, R"({"jsonrpc":"2.0","id":9,"result":{"a":1}})"
                  "\n");
}

TEST_F(ControlServerTest, RefusesSecondServerOnSameSocket) {
  std::string path = "/tmp/labvirt-cs-test2-" + std::to_string(::getpid()) + ".sock";
  ASSERT_TRUE(server_->Listen(path).ok());
  ControlServer other(*reactor_, ControlServerOptions{});
  Status st = other.Listen(path);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("already listening"), std::string::npos);
}

}  // namespace
}  // namespace labvirt::engine
