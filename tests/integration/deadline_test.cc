// The integration tests' deadline helpers (tests/support/deadline.h) against a scripted fake
// of labvirtd's socket: a failed node ends a wait at once with its reason, silence ends it at the
// deadline with the states seen, and an unanswered call fails within its budget. These are what
// keep lab_test from blocking for minutes when nodes fail; no VM, libvirt or daemon is needed.
#include "tests/support/deadline.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace labvirt::testing {
namespace {

using namespace std::chrono_literals;

// Listens on a socket of its own; each accepted client gets `script` once its first request line
// has arrived, and is then left open (never answered further) until the server is destroyed.
class FakeDaemon {
 public:
  explicit FakeDaemon(std::string script)
      : path_("/tmp/lvtest-deadline-" + std::to_string(::getpid()) + ".sock"),
        script_(std::move(script)) {
    ::unlink(path_.c_str());
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    ok_ = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
          ::listen(listen_fd_, 4) == 0;
    server_ = std::thread([this] {
      int c = ::accept(listen_fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      if (::read(c, buf, sizeof buf) > 0) {
        (void)!::write(c, script_.data(), script_.size());
      }
      client_fd_ = c;
    });
  }
  ~FakeDaemon() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    server_.join();
    if (client_fd_ >= 0) ::close(client_fd_);
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string script_;
  int listen_fd_ = -1;
  int client_fd_ = -1;
  bool ok_ = false;
  std::thread server_;
};

std::string StateEvent(const std::string& node, const std::string& state,
                       const std::string& reason = "") {
  return R"({"jsonrpc":"2.0","method":"event","params":{"type":"node.state","lab":"l","node":")" +
         node + R"(","data":{"state":")" + state + R"(","reason":")" + reason + "\"}}}\n";
}

double SecondsSince(DeadlineClock::time_point t) {
  return std::chrono::duration<double>(DeadlineClock::now() - t).count();
}

TEST(DeadlineTest, AFailedNodeEndsTheWaitAtOnceWithItsReason) {
  FakeDaemon fake(StateEvent("r1", "starting") + StateEvent("r2", "starting") +
                  StateEvent("r2", "failed", "start: failed to set MSR 0x10a"));
  ASSERT_TRUE(fake.ok());
  auto sub = ConnectBounded(fake.path());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(sub->Send("events.subscribe", "{}", 1).ok());
  std::map<std::string, std::vector<std::string>> seen;
  auto start = DeadlineClock::now();
  std::string why = WaitNodeStates(*sub, {"r1", "r2"}, "ready", start + 30s, &seen);
  EXPECT_LT(SecondsSince(start), 2.0) << "waited for the deadline instead of failing at once";
  EXPECT_EQ(why, "node r2 failed: start: failed to set MSR 0x10a");
  EXPECT_EQ(seen["r2"], (std::vector<std::string>{"starting", "failed"}));
}

TEST(DeadlineTest, SilenceEndsTheWaitAtTheDeadlineWithTheStatesSeen) {
  FakeDaemon fake(StateEvent("r1", "ready") + StateEvent("r2", "booting"));
  ASSERT_TRUE(fake.ok());
  auto sub = ConnectBounded(fake.path());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(sub->Send("events.subscribe", "{}", 1).ok());
  std::map<std::string, std::vector<std::string>> seen;
  auto start = DeadlineClock::now();
  std::string why = WaitNodeStates(*sub, {"r1", "r2"}, "ready", start + 1500ms, &seen);
  double took = SecondsSince(start);
  EXPECT_GE(took, 1.4);
  EXPECT_LT(took, 3.0);
  EXPECT_NE(why.find("deadline passed waiting for nodes to become ready"), std::string::npos)
      << why;
  EXPECT_NE(why.find("r2: booting"), std::string::npos) << why;
}

TEST(DeadlineTest, AnUnansweredCallFailsWithinItsBudget) {
  FakeDaemon fake("");  // reads the request, never answers
  ASSERT_TRUE(fake.ok());
  auto start = DeadlineClock::now();
  std::string answer = CallBounded(fake.path(), "lab.get", "{}", 1s);
  EXPECT_LT(SecondsSince(start), 3.0);
  EXPECT_EQ(answer.rfind("call failed: lab.get not answered within 1 s", 0), 0u) << answer;
}

TEST(DeadlineTest, FailedNodesNamesEachFailedNodeOfAnAnswer) {
  EXPECT_EQ(FailedNodes(R"({"id":1,"result":{"nodes":[{"name":"r1","state":"ready"},)"
                        R"({"name":"r2","state":"failed","reason":"boot failed: panic"}]}})"),
            "r2: boot failed: panic");
  EXPECT_EQ(FailedNodes(R"({"id":1,"result":{"name":"r1","state":"failed","reason":"x"}})"),
            "r1: x");
  EXPECT_EQ(FailedNodes(R"({"id":1,"result":{"nodes":[{"name":"r1","state":"ready"}]}})"), "");
  EXPECT_EQ(FailedNodes("call failed: timeout"), "");
}

}  // namespace
}  // namespace labvirt::testing
