// The control socket as the trust boundary, with the real labvirtd: its file is 0660 root:labvirt;
// a non-root member of group labvirt (uid nobody, labvirt as a supplementary group) is served; a
// non-member is refused by the kernel at connect(); and where the file's mode is widened by hand,
// labvirtd itself refuses the non-member with a reason and logs its pid, uid and gid.
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/daemon_process.h"
#include "tests/support/deadline.h"
#include "tests/support/prereq.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::string kPid = std::to_string(::getpid());
const std::string kStateDir = "/tmp/lvtest-trust-" + kPid + "-state";
const std::string kSocket = "/tmp/lvtest-trust-" + kPid + ".sock";
constexpr uid_t kNobody = 65534;

// What a child running as `nobody` with supplementary `groups` saw: connect()'s errno (0 when it
// connected) and, when it connected, the first line labvirtd sent back to a host.info request.
struct Seen {
  int connect_errno = -1;
  std::string reply;
};

Seen AsNobody(const std::vector<gid_t>& groups) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    // Only async-signal-safe calls from here: the parent may have threads.
    if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(kNobody) != 0 ||
        ::setuid(kNobody) != 0) {
      ::_exit(2);
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, kSocket.c_str(), kSocket.size() + 1);
    int err = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
    unsigned char code = static_cast<unsigned char>(err);
    (void)!::write(pipefd[1], &code, 1);
    if (err == 0) {
      const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"host.info\"}\n";
      // MSG_NOSIGNAL: a refused peer's socket may already be closed by labvirtd (refusal line
      // queued, then close); a plain write would die of SIGPIPE before reading that line.
      (void)!::send(fd, req, sizeof req - 1, MSG_NOSIGNAL);
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) {
        (void)!::write(pipefd[1], buf, static_cast<size_t>(n));
        if (std::memchr(buf, '\n', static_cast<size_t>(n)) != nullptr) break;
      }
    }
    ::_exit(0);
  }
  ::close(pipefd[1]);
  Seen seen;
  unsigned char code = 0;
  if (::read(pipefd[0], &code, 1) == 1) seen.connect_errno = code;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) seen.reply.append(buf, n);
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return seen;
}

class TrustTest : public ::testing::Test {
 protected:
  // True when one line of labvirtd's log holds both `a` and `b`.
  static bool LogHasLineWith(const std::string& a, const std::string& b) {
    std::string log = daemon_->Log();
    for (size_t at = log.find(a); at != std::string::npos; at = log.find(a, at + 1)) {
      size_t begin = log.rfind('\n', at), end = log.find('\n', at);
      std::string line = log.substr(begin == std::string::npos ? 0 : begin + 1,
                                    end == std::string::npos ? std::string::npos : end - begin);
      if (line.find(b) != std::string::npos) return true;
    }
    return false;
  }
  static void SetUpTestSuite() {
    fs::create_directories(kStateDir);
    daemon_ = std::make_unique<testing::DaemonProcess>(
        testing::DaemonProcess::Options{.args = {"--socket", kSocket, "--state-dir", kStateDir},
                                        .log_path = kStateDir + "/labvirtd.log"});
    healthy_ = testing::WaitHealthy(kSocket, 60s);
  }
  static void TearDownTestSuite() {
    daemon_.reset();
    std::error_code ec;
    fs::remove_all(kStateDir, ec);
  }
  void SetUp() override {
    LABVIRT_REQUIRE(::geteuid() == 0, "root (the test drops to nobody in children)");
    group* g = ::getgrnam("labvirt");
    LABVIRT_REQUIRE(g != nullptr, "group labvirt (tools/setup-host creates it)");
    labvirt_gid_ = g->gr_gid;
    LABVIRT_REQUIRE(healthy_, "labvirtd healthy");
  }
  static inline std::unique_ptr<testing::DaemonProcess> daemon_;
  static inline bool healthy_ = false;
  gid_t labvirt_gid_ = 0;
};

TEST_F(TrustTest, TheSocketIsReadableAndWritableByRootAndGroupLabvirtOnly) {
  struct stat st {};
  ASSERT_EQ(::stat(kSocket.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, labvirt_gid_);
}

TEST_F(TrustTest, ANonRootMemberOfLabvirtIsServed) {
  Seen seen = AsNobody({labvirt_gid_});
  EXPECT_EQ(seen.connect_errno, 0) << std::strerror(seen.connect_errno);
  EXPECT_NE(seen.reply.find("\"healthy\":true"), std::string::npos) << seen.reply;
  EXPECT_TRUE(LogHasLineWith("msg=\"client connected\"", "uid=65534")) << "its credentials logged";
}

TEST_F(TrustTest, AnyoneElseIsRefusedAtConnect) {
  Seen seen = AsNobody({});
  EXPECT_EQ(seen.connect_errno, EACCES) << std::strerror(seen.connect_errno);
  EXPECT_EQ(seen.reply, "");
}

TEST_F(TrustTest, WithTheModeWidenedLabvirtdStillRefusesANonMemberAndLogsIt) {
  ASSERT_EQ(::chmod(kSocket.c_str(), 0666), 0);
  Seen seen = AsNobody({});
  ASSERT_EQ(::chmod(kSocket.c_str(), 0660), 0);
  EXPECT_EQ(seen.connect_errno, 0) << "the kernel let it in: the daemon must refuse";
  EXPECT_NE(seen.reply.find("permission denied"), std::string::npos) << seen.reply;
  EXPECT_NE(seen.reply.find("neither root nor in group labvirt"), std::string::npos) << seen.reply;
  EXPECT_EQ(seen.reply.find("\"result\""), std::string::npos) << "and answered nothing else";
  std::string log = daemon_->Log();
  auto at = log.find("client refused: neither root nor in group labvirt");
  ASSERT_NE(at, std::string::npos) << log;
  std::string line = log.substr(at, log.find('\n', at) - at);
  EXPECT_NE(line.find("uid=65534"), std::string::npos) << line;
  EXPECT_NE(line.find("gid=65534"), std::string::npos) << line;
  EXPECT_NE(line.find("pid="), std::string::npos) << line;
  // And the daemon serves others as before.
  EXPECT_NE(testing::CallBounded(kSocket, "host.info", "{}").find("\"healthy\":true"),
            std::string::npos);
}

}  // namespace
}  // namespace labvirt
