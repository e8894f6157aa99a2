// DockerClient against a scripted server on a Unix socket, driven by a manual clock.
#include "providers/docker/docker_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/socket_pair.h"

namespace labvirt::providers::docker {
namespace {

using namespace std::chrono_literals;

class DockerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/docker_client_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/docker.sock";
    listen_fd_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    ASSERT_EQ(::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listen_fd_.get(), 8), 0);
    reactor::ReactorOptions ro;
    ro.clock = &clock_;
    reactor_ = std::move(reactor::Reactor::Create(ro).value());
    client_ = std::make_unique<DockerClient>(*reactor_, DockerClientOptions{path_, 2000ms});
  }
  void TearDown() override {
    client_.reset();
    reactor_.reset();
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  // Runs the loop, accepts the client's connection and returns the request it sent.
  std::string Accept() {
    reactor_->RunUntilIdle();
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    EXPECT_GE(fd, 0);
    server_.Reset(fd);
    reactor_->RunUntilIdle();
    std::string request;
    testing::DrainAvailable(server_.get(), &request);
    return request;
  }
  void Reply(std::string_view s) {
    ASSERT_EQ(::write(server_.get(), s.data(), s.size()), static_cast<ssize_t>(s.size()));
    reactor_->RunUntilIdle();
  }
  // A reply with a Content-Length body.
  static std::string WithBody(std::string_view status_line, std::string_view body) {
    return std::string(status_line) +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + std::string(body);
  }
  void Close() {
    server_.Reset();
    reactor_->RunUntilIdle();
  }
  std::function<void(Result<HttpResponse>)> Into(std::optional<Result<HttpResponse>>* out) {
    return [out](Result<HttpResponse> r) {
      EXPECT_FALSE(out->has_value()) << "callback ran twice";
      out->emplace(std::move(r));
    };
  }

  reactor::ManualClock clock_;
  std::string dir_;
  std::string path_;
  UniqueFd listen_fd_;
  UniqueFd server_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<DockerClient> client_;
};

TEST_F(DockerClientTest, SendsTheRequestAndReadsAContentLengthReply) {
  std::optional<Result<HttpResponse>> got;
  client_->Request("POST", "/containers/create?name=r1", "{\"Image\":\"x\"}", Into(&got));
  std::string request = Accept();
  EXPECT_EQ(request,
            "POST /v1.41/containers/create?name=r1 HTTP/1.1\r\nHost: docker\r\n"
            "User-Agent: labvirt\r\nConnection: close\r\nContent-Type: application/json\r\n"
            "Content-Length: 13\r\n\r\n{\"Image\":\"x\"}");
  Reply("HTTP/1.1 201 Created\r\nContent-Length: 9\r\n\r\n{\"Id\":1}\n");
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->ok()) << got->status().ToString();
  EXPECT_EQ((*got)->status, 201);
  EXPECT_EQ((*got)->body, "{\"Id\":1}\n");
  EXPECT_EQ(client_->pending(), 0u);
}

TEST_F(DockerClientTest, ChunkedReplyInSplitWrites) {
  std::optional<Result<HttpResponse>> got;
  client_->Request("GET", "/containers/json?all=1", "", Into(&got));
  EXPECT_EQ(Accept().find("GET /v1.41/containers/json?all=1 HTTP/1.1\r\n"), 0u);
  Reply("HTTP/1.1 200 OK\r\nTransfer-En");
  Reply("coding: chunked\r\n\r\n3\r\n[{}");
  EXPECT_FALSE(got.has_value());
  Reply("\r\n1\r\n]\r\n0\r\n\r\n");
  ASSERT_TRUE(got.has_value() && got->ok());
  EXPECT_EQ((*got)->body, "[{}]");
}

TEST_F(DockerClientTest, ErrorStatusIsAResponse) {
  std::optional<Result<HttpResponse>> got;
  client_->Request("GET", "/containers/nope/json", "", Into(&got));
  Accept();
  Reply(WithBody("HTTP/1.1 404 Not Found", "{\"message\":\"No such container: nope\"}\n"));
  ASSERT_TRUE(got.has_value() && got->ok());
  EXPECT_EQ((*got)->status, 404);
  EXPECT_EQ(DockerErrorMessage(**got), "No such container: nope");
  EXPECT_EQ(DockerStatus(**got, "inspect").code(), StatusCode::kNotFound);
  EXPECT_EQ(DockerErrorMessage(HttpResponse{500, {}, "oops"}), "HTTP 500");
}

TEST_F(DockerClientTest, ConnectionClosedMidReply) {
  std::optional<Result<HttpResponse>> got;
  client_->Request("GET", "/version", "", Into(&got));
  Accept();
  Reply("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"Ver");
  Close();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status().code(), StatusCode::kUnavailable);
  EXPECT_NE(got->status().message().find("dockerd at " + path_ + ": connection closed"),
            std::string::npos)
      << got->status().ToString();
}

TEST_F(DockerClientTest, NoReplyTimesOut) {
  std::optional<Result<HttpResponse>> got;
  client_->Request("GET", "/version", "", Into(&got));
  Accept();
  clock_.Advance(1999ms);
  reactor_->RunUntilIdle();
  EXPECT_FALSE(got.has_value());
  clock_.Advance(1ms);
  reactor_->RunUntilIdle();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status().code(), StatusCode::kDeadlineExceeded) << got->status().ToString();
  EXPECT_EQ(client_->pending(), 0u);
}

TEST_F(DockerClientTest, NoSocketIsUnavailableNamingThePath) {
  DockerClient other(*reactor_, DockerClientOptions{dir_ + "/missing.sock", 2000ms});
  std::optional<Result<HttpResponse>> got;
  other.Request("GET", "/version", "", Into(&got));
  EXPECT_FALSE(got.has_value()) << "must not run inside Request";
  reactor_->RunUntilIdle();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(got->status().message().find("dockerd at " + dir_ + "/missing.sock: "), 0u)
      << got->status().ToString();
}

TEST_F(DockerClientTest, AttachHandsOverTheSocketWithLeftoverBytes) {
  std::optional<Result<HijackedStream>> got;
  client_->Attach("c1", [&got](Result<HijackedStream> r) { got.emplace(std::move(r)); });
  std::string request = Accept();
  EXPECT_EQ(request.find("POST /v1.41/containers/c1/attach?stream=1&stdin=1&stdout=1&stderr=1 "
                         "HTTP/1.1\r\n"),
            0u);
  EXPECT_NE(request.find("Connection: Upgrade\r\nUpgrade: tcp\r\n"), std::string::npos);
  Reply(
      "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
      "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello\r\n");
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->ok()) << got->status().ToString();
  EXPECT_EQ((*got)->pending, "hello\r\n");
  ASSERT_EQ(::write((*got)->fd.get(), "ping\n", 5), 5);
  std::string echoed;
  testing::DrainAvailable(server_.get(), &echoed);
  EXPECT_EQ(echoed, "ping\n");
  Reply("more");
  std::string rest;
  testing::DrainAvailable((*got)->fd.get(), &rest);
  EXPECT_EQ(rest, "more");
}

TEST_F(DockerClientTest, AttachRefusedCarriesDockersMessage) {
  std::optional<Result<HijackedStream>> got;
  client_->Attach("gone", [&got](Result<HijackedStream> r) { got.emplace(std::move(r)); });
  Accept();
  Reply(WithBody("HTTP/1.1 404 Not Found", "{\"message\":\"No such container: gone\"}\n"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status().code(), StatusCode::kNotFound);
  EXPECT_NE(got->status().message().find("No such container: gone"), std::string::npos);
}

TEST_F(DockerClientTest, EventsSplitOnCompleteObjects) {
  std::vector<std::string> events;
  std::optional<Status> ended;
  client_->WatchEvents(R"({"label":["a=b"]})",
                       [&events](std::string_view e) { events.emplace_back(e); },
                       [&ended](Status s) { ended = s; });
  EXPECT_EQ(Accept().find("GET /v1.41/events?filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D "), 0u);
  Reply("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string two = "{\"Action\":\"start\"}\n{\"Action\":\"die\",\"x\":\"}{\\\"\"}\n";
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", two.size());
  Reply(size + two + "\r\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], "{\"Action\":\"start\"}");
  EXPECT_EQ(events[1], "{\"Action\":\"die\",\"x\":\"}{\\\"\"}");
  Reply("8\r\n{\"Action\r\n");
  EXPECT_EQ(events.size(), 2u);
  Reply("9\r\n\":\"stop\"}\r\n");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2], "{\"Action\":\"stop\"}");
  clock_.Advance(1h);  // no timeout on a watch
  reactor_->RunUntilIdle();
  EXPECT_FALSE(ended.has_value());
  Close();
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->code(), StatusCode::kUnavailable) << ended->ToString();
}

TEST_F(DockerClientTest, CancelledWatchNeverEnds) {
  int seen = 0;
  bool ended = false;
  uint64_t id = 0;
  id = client_->WatchEvents(
      "", [&](std::string_view) { ++seen, client_->CancelEvents(id); },
      [&ended](const Status&) { ended = true; });
  EXPECT_EQ(Accept().find("GET /v1.41/events HTTP/1.1"), 0u);
  Reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{}{}\r\n");
  EXPECT_EQ(seen, 1);  // the second event of the chunk is not delivered after the cancel
  Close();
  EXPECT_FALSE(ended);
  EXPECT_EQ(client_->pending(), 0u);
}

TEST_F(DockerClientTest, DestroyingTheClientCancelsEverything) {
  bool ran = false;
  client_->Request("GET", "/version", "", [&ran](Result<HttpResponse>) { ran = true; });
  client_->WatchEvents(
      "", [&ran](std::string_view) { ran = true; }, [&ran](const Status&) { ran = true; });
  reactor_->RunUntilIdle();
  client_.reset();
  clock_.Advance(1h);
  reactor_->RunUntilIdle();
  EXPECT_FALSE(ran);
}

TEST(DockerTextTest, UrlEncode) {
  EXPECT_EQ(UrlEncode("aZ09-_.~"), "aZ09-_.~");
  EXPECT_EQ(UrlEncode("{\"a\": [1]}/é"), "%7B%22a%22%3A%20%5B1%5D%7D%2F%C3%A9");
}

}  // namespace
}  // namespace labvirt::providers::docker
