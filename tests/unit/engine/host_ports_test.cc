// Host ports taken by other labs' forwards or by sockets, from /proc/net text as the kernel
// prints it (samples from a little-endian host).
#include "engine/mgmt_nat/host_ports.h"

#include "gtest/gtest.h"

namespace labvirt::engine::mgmt {
namespace {

// 0.0.0.0:22 LISTEN, 127.0.0.1:631 LISTEN (loopback), 192.0.2.2:2202 LISTEN, an established
// connection from local port 2203, 10.0.0.5:8080 in TIME_WAIT.
constexpr char kTcp[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "13542 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "13999 1 0000000000000000 100 0 0 10 0\n"
    "   2: 020200C0:089A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "14000 1 0000000000000000 100 0 0 10 0\n"
    "   3: 020200C0:089B 010200C0:0016 01 00000000:00000000 02:0000A4E6 00000000     0        0 "
    "14001 2 0000000000000000 20 4 30 10 -1\n"
    "   4: 0500000A:1F90 0100000A:C350 06 00000000:00000000 03:00001770 00000000     0        0 "
    "0 3 0000000000000000\n";

// [::]:2204 LISTEN, [::1]:2205 LISTEN, [::ffff:127.0.0.1]:2206 LISTEN, [fd00::1]:2207 LISTEN.
constexpr char kTcp6[] =
    "  sl  local_address                         remote_address                        st "
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000000000000:089C 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n"
    "   1: 00000000000000000000000001000000:089D 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0\n"
    "   2: 0000000000000000FFFF00000100007F:089E 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0\n"
    "   3: 000000FD000000000000000001000000:089F 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 100 0 0 10 0\n";

// 0.0.0.0:68 unconnected, 127.0.0.53:53 (loopback), a connected socket on 40000.
constexpr char kUdp[] =
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode ref pointer drops\n"
    "  100: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 "
    "15000 2 0000000000000000 0\n"
    "  101: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 "
    "15001 2 0000000000000000 0\n"
    "  102: 020200C0:9C40 08080808:0035 01 00000000:00000000 00:00000000 00000000     0        0 "
    "15002 2 0000000000000000 0\n";

TEST(TakenPortsTest, ListeningTcpOnNonLoopbackAddresses) {
  EXPECT_EQ(TakenPorts(kTcp, false), (std::set<int>{22, 2202}));
  EXPECT_EQ(TakenPorts(kTcp6, false), (std::set<int>{2204, 2207}));
}

TEST(TakenPortsTest, UnconnectedUdpOnNonLoopbackAddresses) {
  EXPECT_EQ(TakenPorts(kUdp, true), (std::set<int>{68}));
  EXPECT_TRUE(TakenPorts(kTcp, true).empty()) << "TCP states are not UDP's";
}

TEST(TakenPortsTest, GarbageAndTruncatedLinesAreIgnoredAtEveryCut) {
  EXPECT_TRUE(TakenPorts("", false).empty());
  EXPECT_TRUE(TakenPorts("   0: zz:0016 00000000:0000 0A\n", false).empty());
  EXPECT_TRUE(TakenPorts("   0: 00000000:0000 00000000:0000 0A\n", false).empty()) << "port 0";
  EXPECT_TRUE(TakenPorts("   0: 000000:0016 00000000:0000 0A\n", false).empty());
  const std::string full = kTcp;
  for (size_t cut = 0; cut <= full.size(); ++cut) {
    const std::set<int> ports = TakenPorts(full.substr(0, cut), false);
    for (int p : ports) EXPECT_TRUE(p == 22 || p == 2202 || p == 0x89) << "cut " << cut;
  }
}

HostSockets Sockets() { return {.tcp = kTcp, .tcp6 = kTcp6, .udp = kUdp, .udp6 = ""}; }

PortForward Fwd(std::string protocol, int host_port, std::string node = "r1") {
  return {.protocol = std::move(protocol),
          .host_port = host_port,
          .node = std::move(node),
          .address = "10.250.3.10",
          .port = 22};
}

TEST(CheckHostPortsFreeTest, FreePortsPass) {
  EXPECT_TRUE(CheckHostPortsFree({Fwd("tcp", 2201), Fwd("udp", 22), Fwd("tcp", 631)},
                                 {Fwd("udp", 2201)}, Sockets())
                  .ok());
}

TEST(CheckHostPortsFreeTest, AListeningSocketTakesThePort) {
  const Status s = CheckHostPortsFree({Fwd("tcp", 2201), Fwd("tcp", 22)}, {}, Sockets());
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "host tcp port 22 (forward to node r1) is taken by a socket on the host");
  EXPECT_EQ(s.field(), "forwards[1].host_port");
  EXPECT_FALSE(CheckHostPortsFree({Fwd("tcp", 2204)}, {}, Sockets()).ok()) << "tcp6 [::]";
  EXPECT_FALSE(CheckHostPortsFree({Fwd("udp", 68)}, {}, Sockets()).ok());
}

TEST(CheckHostPortsFreeTest, AnotherLabsForwardTakesThePort) {
  const Status s =
      CheckHostPortsFree({Fwd("udp", 5000, "sw1")}, {Fwd("udp", 5000, "r9")}, Sockets());
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(),
            "host udp port 5000 (forward to node sw1) is forwarded by another lab, to its node r9");
  EXPECT_EQ(s.field(), "forwards[0].host_port");
}

TEST(CheckHostPortsFreeTest, ReadsThisHostsSockets) {
  auto sockets = ReadHostSockets();
  ASSERT_TRUE(sockets.ok()) << sockets.status().ToString();
  EXPECT_NE(sockets->tcp.find("local_address"), std::string::npos);
}

}  // namespace
}  // namespace labvirt::engine::mgmt
