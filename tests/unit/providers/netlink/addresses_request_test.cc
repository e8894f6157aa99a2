// Address requests built byte by byte as rtnetlink wants them and walked back; prefixes parsed
// and refused; the kernel's address messages parsed (including malformed ones).
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <map>

#include "gtest/gtest.h"
#include "providers/netlink/addresses.h"
#include "providers/netlink/rtnetlink.h"
#include "tests/support/netlink_attrs.h"

namespace labvirt::providers {
namespace {

using testing::As;
using testing::Attrs;

IpPrefix Prefix(const std::string& cidr) {
  auto p = ParseInterfaceAddress(cidr);
  EXPECT_TRUE(p.ok()) << cidr << ": " << p.status().ToString();
  return p.ok() ? *p : IpPrefix{};
}

TEST(AddressesTest, ParsesPrefixesAndRefusesOthers) {
  IpPrefix v4 = Prefix("10.250.3.1/24");
  EXPECT_EQ(v4.family, AF_INET);
  EXPECT_EQ(v4.length, 24);
  EXPECT_EQ(AddressBytes(v4.family), 4u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v4.bytes.data()), 4),
            std::string("\x0a\xfa\x03\x01", 4));
  EXPECT_EQ(FormatPrefix(v4), "10.250.3.1/24");
  IpPrefix v6 = Prefix("fd6c:7600:0:3::1/64");
  EXPECT_EQ(v6.family, AF_INET6);
  EXPECT_EQ(v6.length, 64);
  EXPECT_EQ(v6.bytes[0], 0xfd);
  EXPECT_EQ(v6.bytes[1], 0x6c);
  EXPECT_EQ(v6.bytes[15], 0x01);
  EXPECT_EQ(FormatPrefix(v6), "fd6c:7600:0:3::1/64");
  EXPECT_EQ(Prefix("::1/128").length, 128);
  for (const char* bad : {"10.0.0.1", "10.0.0.1/", "10.0.0.1/33", "fd00::1/129", "10.0.0/24",
                          "10.0.0.1/2a", "/24", "10.0.0.1/0024", "host/24", ""}) {
    auto p = ParseInterfaceAddress(bad);
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(AddressesTest, AddsAGlobalAddressWithLocalAndAddress) {
  const std::string msg = AddAddressRequest(7, Prefix("10.250.3.1/24"), 31);
  auto h = As<nlmsghdr>(msg);
  EXPECT_EQ(h.nlmsg_len, msg.size());
  EXPECT_EQ(h.nlmsg_type, RTM_NEWADDR);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
  EXPECT_EQ(h.nlmsg_seq, 31u);
  auto ifa = As<ifaddrmsg>(std::string_view(msg).substr(NLMSG_HDRLEN));
  EXPECT_EQ(ifa.ifa_family, AF_INET);
  EXPECT_EQ(ifa.ifa_prefixlen, 24);
  EXPECT_EQ(ifa.ifa_flags, 0);  // no DAD in IPv4
  EXPECT_EQ(ifa.ifa_scope, RT_SCOPE_UNIVERSE);
  EXPECT_EQ(ifa.ifa_index, 7u);
  const std::string_view body = std::string_view(msg).substr(NLMSG_SPACE(sizeof(ifaddrmsg)));
  auto attrs = Attrs(body);
  ASSERT_EQ(attrs.size(), 2u);
  EXPECT_EQ(attrs[IFA_LOCAL], std::string("\x0a\xfa\x03\x01", 4));
  EXPECT_EQ(attrs[IFA_ADDRESS], std::string("\x0a\xfa\x03\x01", 4));
  // Exactly: header, ifaddrmsg, two 8-byte attributes (IFA_LOCAL first, as `ip` sends them).
  EXPECT_EQ(msg.size(), NLMSG_SPACE(sizeof(ifaddrmsg)) + 16);
  EXPECT_EQ(As<rtattr>(body).rta_type, IFA_LOCAL);
  EXPECT_EQ(As<rtattr>(body).rta_len, 8);
}

TEST(AddressesTest, Ipv6AddressesSkipDuplicateAddressDetection) {
  const std::string msg = AddAddressRequest(9, Prefix("fd6c:7600:0:3::1/64"), 2);
  auto ifa = As<ifaddrmsg>(std::string_view(msg).substr(NLMSG_HDRLEN));
  EXPECT_EQ(ifa.ifa_family, AF_INET6);
  EXPECT_EQ(ifa.ifa_prefixlen, 64);
  EXPECT_EQ(ifa.ifa_flags, IFA_F_NODAD);
  EXPECT_EQ(ifa.ifa_index, 9u);
  auto attrs = Attrs(std::string_view(msg).substr(NLMSG_SPACE(sizeof(ifaddrmsg))));
  ASSERT_EQ(attrs[IFA_LOCAL].size(), 16u);
  EXPECT_EQ(attrs[IFA_LOCAL], attrs[IFA_ADDRESS]);
  EXPECT_EQ(attrs[IFA_LOCAL].substr(0, 4), std::string("\xfd\x6c\x76\x00", 4));
  EXPECT_EQ(msg.size(), NLMSG_SPACE(sizeof(ifaddrmsg)) + 2 * RTA_SPACE(16));
}

TEST(AddressesTest, DeletesAndDumps) {
  const std::string del = DeleteAddressRequest(7, Prefix("fd6c:7600:0:3::9/64"), 5);
  auto h = As<nlmsghdr>(del);
  EXPECT_EQ(h.nlmsg_type, RTM_DELADDR);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
  EXPECT_EQ(h.nlmsg_len, del.size());
  auto ifa = As<ifaddrmsg>(std::string_view(del).substr(NLMSG_HDRLEN));
  EXPECT_EQ(ifa.ifa_flags, 0);
  EXPECT_EQ(ifa.ifa_index, 7u);
  EXPECT_EQ(Attrs(std::string_view(del).substr(NLMSG_SPACE(sizeof(ifaddrmsg))))[IFA_LOCAL][15],
            '\x09');

  const std::string dump = DumpAddressesRequest(6);
  h = As<nlmsghdr>(dump);
  EXPECT_EQ(h.nlmsg_type, RTM_GETADDR);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(h.nlmsg_seq, 6u);
  EXPECT_EQ(dump.size(), NLMSG_SPACE(sizeof(ifaddrmsg)));
  EXPECT_EQ(As<ifaddrmsg>(std::string_view(dump).substr(NLMSG_HDRLEN)).ifa_family, AF_UNSPEC);
}

// A kernel answer: what AddAddressRequest builds has the same layout as RTM_NEWADDR in a dump.
TEST(AddressesTest, ParsesTheKernelsAddressMessages) {
  std::string msg = AddAddressRequest(12, Prefix("fd6c:7600:0:3::1/64"), 1);
  auto a = ParseAddressMessage(*reinterpret_cast<const nlmsghdr*>(msg.data()), msg.size());
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->ifindex, 12);
  EXPECT_EQ(a->scope, RT_SCOPE_UNIVERSE);
  EXPECT_EQ(a->prefix, Prefix("fd6c:7600:0:3::1/64"));

  // Point-to-point IPv4: IFA_ADDRESS is the peer; IFA_LOCAL is ours, whatever the order.
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = 32;
  ifa.ifa_index = 3;
  ifa.ifa_scope = RT_SCOPE_LINK;
  std::string p2p = NlBegin(RTM_NEWADDR, 0, 1, ifa);
  const char peer[4] = {10, 0, 0, 2}, local[4] = {10, 0, 0, 1};
  NlPutAttr(p2p, IFA_ADDRESS, peer, 4);
  NlPutAttr(p2p, IFA_LOCAL, local, 4);
  NlFinish(p2p);
  a = ParseAddressMessage(*reinterpret_cast<const nlmsghdr*>(p2p.data()), p2p.size());
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(FormatPrefix(a->prefix), "10.0.0.1/32");
  EXPECT_EQ(a->scope, RT_SCOPE_LINK);

  // Malformed: cut short, wrong type, wrong address size, no address at all.
  EXPECT_FALSE(ParseAddressMessage(*reinterpret_cast<const nlmsghdr*>(msg.data()), 20));
  std::string other = msg;
  reinterpret_cast<nlmsghdr*>(other.data())->nlmsg_type = RTM_NEWLINK;
  EXPECT_FALSE(ParseAddressMessage(*reinterpret_cast<const nlmsghdr*>(other.data()), other.size()));
  ifa.ifa_family = AF_INET6;
  std::string short_addr = NlBegin(RTM_NEWADDR, 0, 1, ifa);
  NlPutAttr(short_addr, IFA_ADDRESS, local, 4);
  NlFinish(short_addr);
  EXPECT_FALSE(ParseAddressMessage(*reinterpret_cast<const nlmsghdr*>(short_addr.data()),
                                   short_addr.size()));
  std::string bare = NlBegin(RTM_NEWADDR, 0, 1, ifa);
  NlFinish(bare);
  EXPECT_FALSE(ParseAddressMessage(*reinterpret_cast<const nlmsghdr*>(bare.data()), bare.size()));
}

// No kernel change: a missing link is waited for, then named; bad addresses fail before any I/O.
TEST(AddressesTest, MissingLinksAndBadAddressesGetClearErrors) {
  auto t0 = std::chrono::steady_clock::now();
  auto index = WaitForLink("lvnosuchlink0", std::chrono::milliseconds(30));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(30));
  EXPECT_EQ(index.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(index.status().message().find("lvnosuchlink0 did not appear within 30 ms"),
            std::string::npos)
      << index.status().ToString();
  EXPECT_EQ(WaitForLink("lo", std::chrono::milliseconds(0)).value(), 1);
  EXPECT_EQ(SetAddresses("lvnosuchlink0", {"10.0.0.1/24"}).code(), StatusCode::kNotFound);
  EXPECT_EQ(SetAddresses("lo", {"10.0.0.1/24", "nope"}).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace labvirt::providers
