// Isolation on the data plane: veth endpoints in network namespaces, attached as labvirt ports to
// a userspace (netdev) bridge of the host's real ovs-vswitchd, reach each other only while linked.
#include <unistd.h>

#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/host_daemons.h"
#include "tests/support/ovs_harness.h"
#include "tests/support/prereq.h"

namespace labvirt::ovs {
namespace {

using namespace std::chrono_literals;
using labvirt::testing::HostDaemonsGuard;
using labvirt::testing::RestartOvsVswitchd;
using labvirt::testing::WaitForDatapathPort;
using testing::Await;
using testing::RunUntil;
using testing::Sh;
using testing::Stack;

class OvsDataplaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int rc = 0;
    LABVIRT_REQUIRE(
        testing::HostOvsRunning() && testing::HaveCommand("ip") && testing::HaveCommand("ping"),
        "ovs-vswitchd and ovsdb-server running, ip and ping");
    id_ = std::to_string(::getpid() % 100000);
    bridge_ = "lvdp" + id_;
    for (int i = 0; i < 3; ++i) {
      std::string ns = Ns(i);
      Sh("ip netns add " + ns, &rc);
      ASSERT_EQ(rc, 0) << "ip netns add";
      // Host end "lvN<id>" becomes the labvirt port; the other end lives in the namespace.
      Sh("ip link add " + Port(i) + " type veth peer name in" + Port(i), &rc);
      ASSERT_EQ(rc, 0);
      Sh("ip link set in" + Port(i) + " netns " + ns + " && ip link set " + Port(i) + " up", &rc);
      ASSERT_EQ(rc, 0);
      Sh("ip -n " + ns + " addr add 10.199." + std::to_string(getpid() % 200) + "." +
             std::to_string(i + 1) + "/24 dev in" + Port(i) + " && ip -n " + ns + " link set in" +
             Port(i) + " up && ip -n " + ns + " link set lo up",
         &rc);
      ASSERT_EQ(rc, 0);
    }
    reactor_ = std::move(reactor::Reactor::Create().value());
    OvsSwitchOptions o;
    o.bridge = bridge_;
    o.netdev = true;
    stack_ = std::make_unique<Stack>(*reactor_, std::string("unix:") + testing::kHostOvsDb, o);
    ASSERT_TRUE(RunUntil(*reactor_, [&] { return stack_->replica->synced(); }));
  }
  void TearDown() override {
    stack_.reset();
    reactor_.reset();
    Sh("ovs-vsctl --if-exists del-br " + bridge_ + " 2>/dev/null");
    for (int i = 0; i < 3; ++i) {
      Sh("ip link del " + Port(i) + " 2>/dev/null; ip netns del " + Ns(i) + " 2>/dev/null");
    }
  }
  std::string Ns(int i) const { return "lvns" + std::to_string(i) + "-" + id_; }
  std::string Port(int i) const { return "lv" + std::to_string(i) + "p" + id_; }
  std::string Ip(int i) const {
    return "10.199." + std::to_string(getpid() % 200) + "." + std::to_string(i + 1);
  }
  // One ping from namespace a to b, up to `tries` times.
  bool Reaches(int a, int b, int tries) {
    for (int t = 0; t < tries; ++t) {
      int rc = 0;
      Sh("ip netns exec " + Ns(a) + " ping -c1 -W1 " + Ip(b) + " >/dev/null 2>&1", &rc);
      if (rc == 0) return true;
    }
    return false;
  }
  Status Run(const std::function<void(OvsSwitch::Callback)>& op) { return Await(*reactor_, op); }
  OvsSwitch& sw() { return *stack_->sw; }

  std::string id_, bridge_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<Stack> stack_;
};

TEST_F(OvsDataplaneTest, NicsReachEachOtherOnlyWhileLinked) {
  ASSERT_TRUE(Run([&](auto cb) { sw().EnsureBridge(cb); }).ok());
  std::vector<NicPort> nics;
  for (int i = 0; i < 3; ++i) nics.push_back({Port(i), "dp" + id_, "n" + std::to_string(i), 0, ""});
  ASSERT_TRUE(Run([&](auto cb) { sw().AddPorts(nics, cb); }).ok());
  // vswitchd applies the configuration asynchronously; give it a moment for the negative checks.
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(Reaches(0, 1, 1)) << "unlinked NICs must be isolated";

  ASSERT_TRUE(Run([&](auto cb) { sw().CreateLink({"dp" + id_, "L", Port(0), Port(1)}, cb); }).ok());
  EXPECT_TRUE(Reaches(0, 1, 8)) << "linked NICs must reach each other";
  EXPECT_FALSE(Reaches(0, 2, 1)) << "a third NIC must not see the link";

  ASSERT_TRUE(Run([&](auto cb) { sw().SetLinkCarrier("dp" + id_, "L", false, cb); }).ok());
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(Reaches(0, 1, 1)) << "carrier down must cut the data plane";

  ASSERT_TRUE(Run([&](auto cb) { sw().SetLinkCarrier("dp" + id_, "L", true, cb); }).ok());
  EXPECT_TRUE(Reaches(1, 0, 8)) << "carrier up must restore the link";

  ASSERT_TRUE(Run([&](auto cb) { sw().DeleteLink("dp" + id_, "L", cb); }).ok());
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(Reaches(0, 1, 1)) << "a deleted link must isolate both ends";

  ASSERT_TRUE(Run([&](auto cb) { sw().RemovePorts({Port(0), Port(1), Port(2)}, cb); }).ok());
  EXPECT_EQ(Sh("ovs-vsctl list-ports " + bridge_), "");
}

// labvirt's impairments are root qdiscs on the taps (engine/netem). ovs-vswitchd deletes a root
// qdisc it finds on a device when it opens it — at the port's first reconfiguration and again
// after it restarts — unless the port's QoS is "linux-noop", which labvirt gives every NIC port.
// A qdisc set before the port is added (the race a restarted node's tap can lose), and one kept
// across ovs-vswitchd's restart.
TEST_F(OvsDataplaneTest, OvsVswitchdLeavesTheQdiscOnLabvirtsPortsAlone) {
  const std::string dev = Port(0);
  auto has_tbf = [&] { return Sh("tc qdisc show dev " + dev).find("tbf") != std::string::npos; };
  int rc = -1;
  Sh("tc qdisc replace dev " + dev + " root tbf rate 1mbit burst 3000 latency 100ms", &rc);
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(Run([&](auto cb) { sw().EnsureBridge(cb); }).ok());
  ASSERT_TRUE(Run([&](auto cb) { sw().AddPorts({{dev, "dp" + id_, "n0", 0, ""}}, cb); }).ok());
  EXPECT_EQ(Sh("ovs-vsctl get qos $(ovs-vsctl get port " + dev + " qos) type"), "linux-noop");
  EXPECT_TRUE(WaitForDatapathPort(dev));
  EXPECT_TRUE(has_tbf()) << "set before the port was added: " << Sh("tc qdisc show dev " + dev);

  HostDaemonsGuard guard;
  ASSERT_TRUE(RestartOvsVswitchd()) << "it did not exit, or tools/setup-host could not start it";
  EXPECT_TRUE(WaitForDatapathPort(dev));
  EXPECT_TRUE(has_tbf()) << "after ovs-vswitchd restarted: " << Sh("tc qdisc show dev " + dev);
}

}  // namespace
}  // namespace labvirt::ovs
