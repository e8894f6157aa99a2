// veth pairs through rtnetlink against the real kernel: the guest end is created inside another
// network namespace (a forked child's, as a container's init) with its name, MAC and UP; the
// host end is UP; DeleteLink takes both; errors name what is wrong. Checked with `ip`, not with
// labvirt's own netlink code.
#include "providers/netlink/veth.h"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/prereq.h"
#include "tests/support/shell.h"

namespace labvirt::providers {
namespace {

using testing::Sh;

#define ASSERT_OK(expr)                      \
  do {                                       \
    const Status st_ = (expr);               \
    ASSERT_TRUE(st_.ok()) << st_.ToString(); \
  } while (0)

const std::string kId = std::to_string(::getpid() % 100000);

// A child process alone in a new network namespace, like a container's init; killed and reaped
// on destruction (its namespace, and the guest ends in it, die with it).
class NetnsChild {
 public:
  NetnsChild() {
    int ready[2];
    if (::pipe(ready) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      const char ok = ::unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
      (void)!::write(ready[1], &ok, 1);
      for (;;) ::pause();
    }
    ::close(ready[1]);
    char ok = 'n';
    ok_ = pid_ > 0 && ::read(ready[0], &ok, 1) == 1 && ok == 'y';
    ::close(ready[0]);
  }
  ~NetnsChild() { Kill(); }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  bool ok() const { return ok_; }
  int pid() const { return pid_; }
  // `ip` inside the namespace.
  std::string Ip(const std::string& args, int* rc = nullptr) const {
    return Sh("nsenter -t " + std::to_string(pid_) + " -n ip " + args + " 2>&1", rc);
  }

 private:
  int pid_ = -1;
  bool ok_ = false;
};

class VethTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LABVIRT_REQUIRE(::geteuid() == 0, "root (veth pairs and namespaces)");
    LABVIRT_REQUIRE(child_.ok(), "unshare(CLONE_NEWNET)");
  }
  void TearDown() override {
    for (const char* s : {"a", "b", "c"}) (void)DeleteLink(Host(s));
  }
  static std::string Host(const std::string& s) { return "lvtv" + kId + s; }
  VethSpec Spec(const std::string& s, const std::string& guest) const {
    VethSpec spec;
    spec.host_name = Host(s);
    spec.guest_name = guest;
    spec.guest_mac = "52:54:00:7e:00:0" + std::to_string(s[0] - 'a' + 1);
    spec.netns_pid = child_.pid();
    return spec;
  }

  NetnsChild child_;
};

TEST_F(VethTest, CreatesTheGuestEndInTheNamespaceUpWithItsNameAndMac) {
  ASSERT_OK(CreateVeth(Spec("a", "eth1")));
  const std::string guest = child_.Ip("-o link show eth1");
  EXPECT_NE(guest.find("52:54:00:7e:00:01"), std::string::npos) << guest;
  // Up (brought up from inside the namespace: IFF_UP in the peer's ifinfomsg fails on 6.18), and
  // with carrier since the host end is up.
  EXPECT_NE(guest.find("<BROADCAST,MULTICAST,UP,LOWER_UP>"), std::string::npos) << guest;
  const std::string host = Sh("ip -o link show " + Host("a") + " 2>&1");
  EXPECT_NE(host.find(",UP,LOWER_UP>"), std::string::npos) << host;
  EXPECT_NE(host.find("@if"), std::string::npos) << "peer in another namespace: " << host;
  EXPECT_EQ(Sh("ip -o link show eth1 2>/dev/null | grep -c 52:54:00:7e:00:01"), "0")
      << "the guest end is not in the host namespace";

  auto links = ListLinks("lvtv" + kId);
  ASSERT_TRUE(links.ok()) << links.status().ToString();
  EXPECT_EQ(*links, std::vector<std::string>{Host("a")});

  ASSERT_TRUE(DeleteLink(Host("a")).ok());
  int rc = 0;
  child_.Ip("link show eth1", &rc);
  EXPECT_NE(rc, 0) << "the peer goes with the host end";
  Sh("ip link show " + Host("a") + " >/dev/null 2>&1", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_TRUE(DeleteLink(Host("a")).ok()) << "deleting what is gone succeeds";
  links = ListLinks("lvtv" + kId);
  ASSERT_TRUE(links.ok());
  EXPECT_TRUE(links->empty());
}

TEST_F(VethTest, MtuAndKernelChosenMac) {
  VethSpec spec = Spec("a", "eth2");
  spec.guest_mac = "";
  spec.mtu = 1400;
  ASSERT_OK(CreateVeth(spec));
  EXPECT_NE(child_.Ip("-o link show eth2").find("mtu 1400"), std::string::npos);
  EXPECT_NE(Sh("ip -o link show " + Host("a")).find("mtu 1400"), std::string::npos);
}

TEST_F(VethTest, ErrorsNameWhatIsWrong) {
  ASSERT_OK(CreateVeth(Spec("a", "eth1")));
  Status s = CreateVeth(Spec("a", "eth9"));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  EXPECT_NE(s.message().find(Host("a")), std::string::npos) << s.ToString();
  s = CreateVeth(Spec("b", "eth1"));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << "guest name taken: " << s.ToString();
  int rc = 0;
  Sh("ip link show " + Host("b") + " >/dev/null 2>&1", &rc);
  EXPECT_NE(rc, 0) << "one message: nothing left behind";

  VethSpec spec = Spec("c", "eth1");
  spec.host_name = "sixteen-chars-xx";
  s = CreateVeth(spec);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();

  const int pid = child_.pid();
  spec = Spec("c", "eth3");
  child_.Kill();
  spec.netns_pid = pid;
  s = CreateVeth(spec);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("pid " + std::to_string(pid)), std::string::npos) << s.ToString();
}

// What a host end does when the container dies: its namespace goes, the guest end is destroyed
// with it, and a veth's peer always goes with it, so the host end disappears on its own.
TEST_F(VethTest, HostEndGoesWhenTheNamespaceDies) {
  ASSERT_OK(CreateVeth(Spec("a", "eth1")));
  child_.Kill();
  int rc = 0;
  for (int i = 0; i < 50; ++i) {
    Sh("ip link show " + Host("a") + " >/dev/null 2>&1", &rc);
    if (rc != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // netns cleanup is a workqueue
  }
  EXPECT_NE(rc, 0) << "host end left behind after its namespace died";
}

}  // namespace
}  // namespace labvirt::providers
