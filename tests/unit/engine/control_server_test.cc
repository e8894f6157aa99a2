#include "engine/control/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>

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

// A blocking client on a thread; the test thread runs the reactor.
std::string Exchange(const std::string& path, const std::string& send, size_t want_lines) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "connect failed";
  ::send(fd, send.data(), send.size(), MSG_NOSIGNAL);
  std::string got;
  char buf[4096];
  while (static_cast<size_t>(std::count(got.begin(), got.end(), '\n')) < want_lines) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return got;
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
  std::string got;
  std::thread client([&] { got = Exchange(path, req, 3); });
  for (int i = 0; i < 2000 && got.empty(); ++i) reactor_->RunOnce(false), usleep(500);
  client.join();
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
  std::string first_read, all;
  std::atomic<bool> done{false};
  std::thread client([&] {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
      ::shutdown(fd, SHUT_WR);  // `printf ... | socat`: the answers are still owed
      char buf[4096];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
        if (first_read.empty()) first_read.assign(buf, static_cast<size_t>(n));
        all.append(buf, static_cast<size_t>(n));
      }
    }
    ::close(fd);
    done = true;
  });
  for (int i = 0; i < 4000 && !done; ++i) reactor_->RunOnce(false), usleep(500);
  client.join();
  std::string want;
  for (int id = 1; id <= 3; ++id) {
    want += R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"result":{"a":0}})" + "\n";
  }
  EXPECT_EQ(all, want);  // every answer, in order, then the server closed the connection
  // The three answers were ready together, so they left in one send (one read gets them all).
  EXPECT_EQ(first_read, want);
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
