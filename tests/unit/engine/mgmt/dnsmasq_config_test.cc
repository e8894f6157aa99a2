// dnsmasq's configuration and hosts files as rendered, and the checks that refuse every input
// that could not be rendered safely (a value that adds a line, a hostname dnsmasq reads as a
// lease time, addresses outside the segment, duplicates).
#include "engine/mgmt/dnsmasq_config.h"

#include "gtest/gtest.h"

namespace labvirt::engine::mgmt {
namespace {

DhcpSegment Segment() {
  DhcpSegment s;
  s.name = "core";
  s.interface = "lvmg7";
  s.ipv4 = *ParsePrefix("10.250.3.0/24");
  s.gateway_ipv4 = "10.250.3.1";
  s.ipv6 = *ParsePrefix("fd6c:7600:0:3::/64");
  s.gateway_ipv6 = "fd6c:7600:0:3::1";
  s.dir = "/var/lib/labvirt/mgmt/core";
  return s;
}

DhcpLease Lease(const char* host, const char* mac, const char* v4, const char* v6 = "") {
  return DhcpLease{.mac = mac, .ipv4 = v4, .ipv6 = v6, .hostname = host};
}

TEST(DnsmasqConfigTest, RendersDualStackWithoutDefaultRoute) {
  EXPECT_EQ(DnsmasqConfig(Segment()),
            "# dnsmasq for the management network of lab 'core', written by labvirtd.\n"
            "port=0\n"
            "no-resolv\n"
            "no-hosts\n"
            "interface=lvmg7\n"
            "except-interface=lo\n"
            "bind-interfaces\n"
            "user=root\n"
            "dhcp-range=10.250.3.0,static,255.255.255.0,1h\n"
            "dhcp-option=option:router\n"
            "dhcp-range=fd6c:7600:0:3::,static,64,1h\n"
            "enable-ra\n"
            "ra-param=lvmg7,0,0\n"
            "dhcp-hostsfile=/var/lib/labvirt/mgmt/core/dnsmasq.hosts\n"
            "dhcp-leasefile=/var/lib/labvirt/mgmt/core/dnsmasq.leases\n"
            "pid-file=/var/lib/labvirt/mgmt/core/dnsmasq.pid\n"
            "dhcp-authoritative\n"
            "log-dhcp\n"
            "log-facility=/var/lib/labvirt/mgmt/core/dnsmasq.log\n");
}

TEST(DnsmasqConfigTest, DefaultRouteAndIpv4Only) {
  DhcpSegment s = Segment();
  s.default_route = true;
  std::string c = DnsmasqConfig(s);
  EXPECT_NE(c.find("dhcp-option=option:router,10.250.3.1\n"), std::string::npos);
  EXPECT_EQ(c.find("ra-param"), std::string::npos);  // RAs then carry a router lifetime
  s.ipv6.reset();
  s.gateway_ipv6.clear();
  s.ipv4 = *ParsePrefix("172.20.0.0/22");
  s.gateway_ipv4 = "172.20.3.254";
  ASSERT_TRUE(ValidateSegment(s).ok());
  c = DnsmasqConfig(s);
  EXPECT_NE(c.find("dhcp-range=172.20.0.0,static,255.255.252.0,1h\n"), std::string::npos);
  EXPECT_EQ(c.find("enable-ra"), std::string::npos);
  EXPECT_EQ(c.find("fd6c"), std::string::npos);
}

TEST(DnsmasqConfigTest, PathsLiveInDir) {
  DhcpSegment s = Segment();
  EXPECT_EQ(ConfPath(s), "/var/lib/labvirt/mgmt/core/dnsmasq.conf");
  EXPECT_EQ(HostsPath(s), "/var/lib/labvirt/mgmt/core/dnsmasq.hosts");
  EXPECT_EQ(LeasePath(s), "/var/lib/labvirt/mgmt/core/dnsmasq.leases");
  EXPECT_EQ(PidPath(s), "/var/lib/labvirt/mgmt/core/dnsmasq.pid");
  EXPECT_EQ(LogPath(s), "/var/lib/labvirt/mgmt/core/dnsmasq.log");
}

TEST(DnsmasqConfigTest, ValidateSegmentRefusesEachBadField) {
  EXPECT_TRUE(ValidateSegment(Segment()).ok());
  struct Case {
    const char* field;
    void (*edit)(DhcpSegment&);
  };
  for (const Case& c : std::initializer_list<Case>{
           {"name", [](DhcpSegment& s) { s.name = ""; }},
           {"name", [](DhcpSegment& s) { s.name = "a b"; }},
           {"name", [](DhcpSegment& s) { s.name = "core\ninterface=eth0"; }},
           {"name", [](DhcpSegment& s) { s.name = "lab/x"; }},
           {"name", [](DhcpSegment& s) { s.name = std::string(65, 'a'); }},
           {"interface", [](DhcpSegment& s) { s.interface = ""; }},
           {"interface", [](DhcpSegment& s) { s.interface = "lo"; }},
           {"interface", [](DhcpSegment& s) { s.interface = "a234567890123456"; }},
           {"interface", [](DhcpSegment& s) { s.interface = "eth0\nport=53"; }},
           {"interface", [](DhcpSegment& s) { s.interface = "eth0,eth1"; }},
           {"ipv4", [](DhcpSegment& s) { s.ipv4 = IpPrefix{}; }},
           {"ipv4", [](DhcpSegment& s) { s.ipv4 = *ParsePrefix("fd00::/64"); }},
           {"ipv4", [](DhcpSegment& s) { s.ipv4 = *ParsePrefix("10.0.0.0/31"); }},
           {"ipv4", [](DhcpSegment& s) { s.ipv4 = *ParsePrefix("10.0.0.0/7"); }},
           {"gateway_ipv4", [](DhcpSegment& s) { s.gateway_ipv4 = ""; }},
           {"gateway_ipv4", [](DhcpSegment& s) { s.gateway_ipv4 = "10.250.4.1"; }},
           {"gateway_ipv4", [](DhcpSegment& s) { s.gateway_ipv4 = "10.250.3.0"; }},
           {"gateway_ipv4", [](DhcpSegment& s) { s.gateway_ipv4 = "10.250.3.255"; }},
           {"gateway_ipv4", [](DhcpSegment& s) { s.gateway_ipv4 = "fd6c:7600:0:3::1"; }},
           {"ipv6", [](DhcpSegment& s) { s.ipv6 = *ParsePrefix("fd6c:7600:0:3::/80"); }},
           {"ipv6", [](DhcpSegment& s) { s.ipv6 = *ParsePrefix("10.0.0.0/24"); }},
           {"gateway_ipv6", [](DhcpSegment& s) { s.gateway_ipv6 = "fd6c:7600:0:4::1"; }},
           {"gateway_ipv6", [](DhcpSegment& s) { s.gateway_ipv6 = "fd6c:7600:0:3::"; }},
           {"gateway_ipv6", [](DhcpSegment& s) { s.gateway_ipv6 = ""; }},
           {"gateway_ipv6", [](DhcpSegment& s) { s.ipv6.reset(); }},
           {"dir", [](DhcpSegment& s) { s.dir = ""; }},
           {"dir", [](DhcpSegment& s) { s.dir = "relative/dir"; }},
           {"dir", [](DhcpSegment& s) { s.dir = "/"; }},
           {"dir", [](DhcpSegment& s) { s.dir = "/tmp/a b"; }},
           {"dir", [](DhcpSegment& s) { s.dir = "/tmp/x\nport=53"; }},
           {"dir", [](DhcpSegment& s) { s.dir = "/tmp/x#y"; }},
           {"dir", [](DhcpSegment& s) { s.dir = "/tmp/x,y"; }},
           {"dir", [](DhcpSegment& s) { s.dir = "/" + std::string(250, 'd'); }},
       }) {
    DhcpSegment s = Segment();
    c.edit(s);
    Status st = ValidateSegment(s);
    ASSERT_FALSE(st.ok()) << c.field;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.field;
    EXPECT_EQ(st.field(), c.field) << st.message();
  }
  DhcpSegment s = Segment();
  s.gateway_ipv4 = "10.250.3.0";
  EXPECT_EQ(ValidateSegment(s).message(),
            "segment 'core': gateway_ipv4: 10.250.3.0 is the network address of 10.250.3.0/24");
}

TEST(DnsmasqConfigTest, HostsFileLines) {
  EXPECT_EQ(DnsmasqHosts({Lease("r1", "52:54:00:AA:bb:01", "10.250.3.10", "fd6c:7600:0:3::a"),
                          Lease("r2", "52:54:00:aa:bb:02", "10.250.3.11")}),
            "52:54:00:aa:bb:01,id:*,[fd6c:7600:0:3::a],10.250.3.10,r1\n"
            "52:54:00:aa:bb:02,id:*,10.250.3.11,r2\n");
  EXPECT_EQ(DnsmasqHosts({}), "");
}

TEST(DnsmasqConfigTest, ValidateLeaseRefusesEachBadField) {
  EXPECT_TRUE(ValidateLease(Lease("r1", "52:54:00:aa:bb:01", "10.0.0.5", "fd00::5")).ok());
  EXPECT_TRUE(ValidateLease(Lease("R-1x", "52:54:00:AA:BB:01", "10.0.0.5")).ok());
  EXPECT_TRUE(
      ValidateLease(Lease(std::string(63, 'a').c_str(), "02:00:00:00:00:01", "10.0.0.5")).ok());
  struct Case {
    DhcpLease lease;
    const char* field;
  };
  for (const Case& c : std::initializer_list<Case>{
           {Lease("r1", "", "10.0.0.5"), "mac"},
           {Lease("r1", "52:54:00:aa:bb", "10.0.0.5"), "mac"},
           {Lease("r1", "52:54:00:aa:bb:01:02", "10.0.0.5"), "mac"},
           {Lease("r1", "52-54-00-aa-bb-01", "10.0.0.5"), "mac"},
           {Lease("r1", "525400aabb01", "10.0.0.5"), "mac"},
           {Lease("r1", "52:54:00:aa:bb:0g", "10.0.0.5"), "mac"},
           {Lease("r1", "52:54:00:aa:bb:01\n", "10.0.0.5"), "mac"},
           {Lease("r1", "01:00:5e:00:00:01", "10.0.0.5"), "mac"},  // multicast
           {Lease("r1", "ff:ff:ff:ff:ff:ff", "10.0.0.5"), "mac"},
           {Lease("r1", "00:00:00:00:00:00", "10.0.0.5"), "mac"},
           {Lease("r1", "52:54:00:aa:bb:01", ""), "ipv4"},
           {Lease("r1", "52:54:00:aa:bb:01", "10.0.0"), "ipv4"},
           {Lease("r1", "52:54:00:aa:bb:01", "fd00::5"), "ipv4"},
           {Lease("r1", "52:54:00:aa:bb:01", "10.0.0.5,ignore"), "ipv4"},
           {Lease("r1", "52:54:00:aa:bb:01", "10.0.0.5", "10.0.0.6"), "ipv6"},
           {Lease("r1", "52:54:00:aa:bb:01", "10.0.0.5", "fd00::5]"), "ipv6"},
           {Lease("", "52:54:00:aa:bb:01", "10.0.0.5"), "hostname"},
           {Lease("r_1", "52:54:00:aa:bb:01", "10.0.0.5"), "hostname"},
           {Lease("r1.lab", "52:54:00:aa:bb:01", "10.0.0.5"), "hostname"},
           {Lease("r1,ignore", "52:54:00:aa:bb:01", "10.0.0.5"), "hostname"},
           {Lease("r1\n", "52:54:00:aa:bb:01", "10.0.0.5"), "hostname"},
           {Lease("-r1", "52:54:00:aa:bb:01", "10.0.0.5"), "hostname"},
           {Lease("r1-", "52:54:00:aa:bb:01", "10.0.0.5"), "hostname"},
           {Lease(std::string(64, 'a').c_str(), "52:54:00:aa:bb:01", "10.0.0.5"), "hostname"},
           // Words a dhcp-host line reads as a lease time or keyword.
           {Lease("45m", "52:54:00:aa:bb:01", "10.0.0.5"), "hostname"},
           {Lease("3600", "52:54:00:aa:bb:01", "10.0.0.5"), "hostname"},
           {Lease("2D", "52:54:00:aa:bb:01", "10.0.0.5"), "hostname"},
           {Lease("infinite", "52:54:00:aa:bb:01", "10.0.0.5"), "hostname"},
           {Lease("IGNORE", "52:54:00:aa:bb:01", "10.0.0.5"), "hostname"},
       }) {
    Status st = ValidateLease(c.lease);
    ASSERT_FALSE(st.ok()) << c.lease.hostname << " " << c.lease.mac;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(st.field(), c.field) << st.message();
  }
  // Names that only look like keywords are fine.
  EXPECT_TRUE(ValidateLease(Lease("45mm", "52:54:00:aa:bb:01", "10.0.0.5")).ok());
  EXPECT_TRUE(ValidateLease(Lease("r2d", "52:54:00:aa:bb:01", "10.0.0.5")).ok());
}

TEST(DnsmasqConfigTest, ValidateLeasesAgainstSegment) {
  DhcpSegment s = Segment();
  std::vector<DhcpLease> good = {
      Lease("r1", "52:54:00:aa:bb:01", "10.250.3.10", "fd6c:7600:0:3::a"),
      Lease("r2", "52:54:00:aa:bb:02", "10.250.3.11")};
  EXPECT_TRUE(ValidateLeases(good, s).ok());
  EXPECT_TRUE(ValidateLeases({}, s).ok());
  struct Case {
    std::vector<DhcpLease> leases;
    const char* says;
  };
  for (const Case& c : std::initializer_list<Case>{
           {{Lease("r1", "52:54:00:aa:bb:01", "10.250.4.10")}, "not inside 10.250.3.0/24"},
           {{Lease("r1", "52:54:00:aa:bb:01", "10.250.3.0")}, "network address"},
           {{Lease("r1", "52:54:00:aa:bb:01", "10.250.3.255")}, "broadcast address"},
           {{Lease("r1", "52:54:00:aa:bb:01", "10.250.3.1")}, "gateway's address"},
           {{Lease("r1", "52:54:00:aa:bb:01", "10.250.3.9", "fd6c:7600:0:4::a")}, "not inside"},
           {{Lease("r1", "52:54:00:aa:bb:01", "10.250.3.9", "fd6c:7600:0:3:0::1")},
            "gateway's address"},
           {{good[0], Lease("r2", "52:54:00:AA:BB:01", "10.250.3.12")},
            "MAC 52:54:00:AA:BB:01 is used twice"},
           {{good[0], Lease("r2", "52:54:00:aa:bb:03", "10.250.3.10")},
            "10.250.3.10 is used twice"},
           {{good[0], Lease("r2", "52:54:00:aa:bb:03", "10.250.3.12", "fd6c:7600:0:3:0:0:0:a")},
            "used twice"},
           {{good[0], Lease("R1", "52:54:00:aa:bb:03", "10.250.3.12")}, "hostname is used twice"},
           {{Lease("r1", "zz", "10.250.3.9")}, "MAC 'zz'"},
       }) {
    Status st = ValidateLeases(c.leases, s);
    ASSERT_FALSE(st.ok()) << c.says;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find(c.says), std::string::npos) << st.message();
  }
  s.ipv6.reset();
  s.gateway_ipv6.clear();
  Status st = ValidateLeases(good, s);
  EXPECT_NE(st.message().find("segment has no IPv6"), std::string::npos) << st.message();
  // A bad segment is refused before the leases are looked at.
  s.interface = "";
  EXPECT_EQ(ValidateLeases(good, s).field(), "interface");
}

TEST(DnsmasqConfigTest, FailureMessageFromItsOutput) {
  // As dnsmasq 2.90 wrote them to stderr and its log file (interleaved in one file).
  EXPECT_EQ(DnsmasqFailure("dnsmasq: unknown interface lvmg9\n"), "unknown interface lvmg9");
  EXPECT_EQ(
      DnsmasqFailure("Dec  4 04:09:38 dnsmasq[3527]: started, version 2.90 DNS disabled\n"
                     "dnsmasq: failed to bind DHCP server socket: Address already in use\n"
                     "Dec  4 04:09:38 dnsmasq[3527]: failed to bind DHCP server socket: Address "
                     "already in use\n"
                     "Dec  4 04:09:38 dnsmasq[3527]: FAILED to start up\n\n"),
      "failed to bind DHCP server socket: Address already in use");
  EXPECT_EQ(DnsmasqFailure("something else\nlast words"), "last words");
  EXPECT_EQ(DnsmasqFailure(""), "");
  EXPECT_EQ(DnsmasqFailure("\n\n"), "");
}

}  // namespace
}  // namespace labvirt::engine::mgmt
