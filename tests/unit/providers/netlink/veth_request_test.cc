// veth requests built byte by byte as rtnetlink wants them, walked back attribute by attribute;
// specs refused before any syscall; the shared attribute helpers.
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstring>
#include <map>

#include "gtest/gtest.h"
#include "providers/netlink/rtnetlink.h"
#include "providers/netlink/veth.h"
#include "tests/support/netlink_attrs.h"

namespace labvirt::providers {
namespace {

using testing::As;
using testing::Attrs;

VethSpec Spec() {
  VethSpec spec;
  spec.host_name = "lvt-n1-e1";
  spec.guest_name = "eth1";
  spec.guest_mac = "52:54:00:12:34:5f";
  spec.netns_pid = 4242;
  spec.mtu = 9000;
  return spec;
}

TEST(VethRequestTest, CreatesTheHostEndUpAndThePeerInTheNamespace) {
  const std::string msg = VethCreateRequest(Spec(), 17);
  auto h = As<nlmsghdr>(msg);
  EXPECT_EQ(h.nlmsg_len, msg.size());
  EXPECT_EQ(h.nlmsg_type, RTM_NEWLINK);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  EXPECT_EQ(h.nlmsg_seq, 17u);
  auto ifi = As<ifinfomsg>(std::string_view(msg).substr(NLMSG_HDRLEN));
  EXPECT_EQ(ifi.ifi_family, AF_UNSPEC);
  EXPECT_EQ(ifi.ifi_index, 0);
  EXPECT_EQ(ifi.ifi_flags, unsigned{IFF_UP});
  EXPECT_EQ(ifi.ifi_change, unsigned{IFF_UP});

  auto attrs = Attrs(std::string_view(msg).substr(NLMSG_SPACE(sizeof(ifinfomsg))));
  EXPECT_EQ(attrs[IFLA_IFNAME], std::string("lvt-n1-e1\0", 10));
  EXPECT_EQ(As<uint32_t>(attrs[IFLA_MTU]), 9000u);
  ASSERT_TRUE(attrs.count(IFLA_LINKINFO));
  auto info = Attrs(attrs[IFLA_LINKINFO]);
  EXPECT_EQ(info[IFLA_INFO_KIND], std::string("veth\0", 5));
  auto data = Attrs(info[IFLA_INFO_DATA]);
  ASSERT_TRUE(data.count(VETH_INFO_PEER));
  const std::string& peer = data[VETH_INFO_PEER];
  auto pifi = As<ifinfomsg>(peer);
  EXPECT_EQ(pifi.ifi_flags, 0u) << "IFF_UP here fails the request with ENOTCONN (veth_open)";
  EXPECT_EQ(pifi.ifi_change, 0u);
  auto pattrs = Attrs(std::string_view(peer).substr(sizeof(ifinfomsg)));
  EXPECT_EQ(pattrs[IFLA_IFNAME], std::string("eth1\0", 5));
  EXPECT_EQ(pattrs[IFLA_ADDRESS], std::string("\x52\x54\x00\x12\x34\x5f", 6));
  EXPECT_EQ(As<uint32_t>(pattrs[IFLA_MTU]), 9000u);
  EXPECT_EQ(As<uint32_t>(pattrs[IFLA_NET_NS_PID]), 4242u);
  EXPECT_EQ(pattrs.size(), 4u);
}

TEST(VethRequestTest, LeavesOutWhatTheKernelChooses) {
  VethSpec spec = Spec();
  spec.guest_mac = "";
  spec.mtu = 0;
  const std::string msg = VethCreateRequest(spec, 1);
  auto attrs = Attrs(std::string_view(msg).substr(NLMSG_SPACE(sizeof(ifinfomsg))));
  EXPECT_FALSE(attrs.count(IFLA_MTU));
  auto data = Attrs(Attrs(attrs[IFLA_LINKINFO])[IFLA_INFO_DATA]);
  auto pattrs = Attrs(std::string_view(data[VETH_INFO_PEER]).substr(sizeof(ifinfomsg)));
  EXPECT_FALSE(pattrs.count(IFLA_ADDRESS));
  EXPECT_FALSE(pattrs.count(IFLA_MTU));
  EXPECT_TRUE(pattrs.count(IFLA_NET_NS_PID));
}

TEST(VethRequestTest, NestLengthsCoverTheirContents) {
  const std::string msg = VethCreateRequest(Spec(), 1);
  // The last attribute (IFLA_LINKINFO) ends exactly at the end of the message.
  size_t at = NLMSG_SPACE(sizeof(ifinfomsg));
  size_t last_end = 0;
  while (at + sizeof(rtattr) <= msg.size()) {
    auto a = As<rtattr>(std::string_view(msg).substr(at));
    ASSERT_GE(a.rta_len, sizeof a);
    last_end = at + a.rta_len;
    at += RTA_ALIGN(a.rta_len);
  }
  EXPECT_EQ(RTA_ALIGN(last_end), msg.size());
}

TEST(VethRequestTest, UpChangesOnlyTheUpFlagOfAnExistingLink) {
  const std::string msg = LinkUpRequest("eth1", 3);
  auto h = As<nlmsghdr>(msg);
  EXPECT_EQ(h.nlmsg_len, msg.size());
  EXPECT_EQ(h.nlmsg_type, RTM_NEWLINK);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK) << "no NLM_F_CREATE: never makes a link";
  auto ifi = As<ifinfomsg>(std::string_view(msg).substr(NLMSG_HDRLEN));
  EXPECT_EQ(ifi.ifi_index, 0);
  EXPECT_EQ(ifi.ifi_flags, unsigned{IFF_UP});
  EXPECT_EQ(ifi.ifi_change, unsigned{IFF_UP});
  auto attrs = Attrs(std::string_view(msg).substr(NLMSG_SPACE(sizeof(ifinfomsg))));
  EXPECT_EQ(attrs[IFLA_IFNAME], std::string("eth1\0", 5));
  EXPECT_EQ(attrs.size(), 1u);
}

TEST(VethRequestTest, DeleteNamesTheLink) {
  const std::string msg = LinkDeleteRequest("lvt-x", 9);
  auto h = As<nlmsghdr>(msg);
  EXPECT_EQ(h.nlmsg_len, msg.size());
  EXPECT_EQ(h.nlmsg_type, RTM_DELLINK);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
  auto attrs = Attrs(std::string_view(msg).substr(NLMSG_SPACE(sizeof(ifinfomsg))));
  EXPECT_EQ(attrs[IFLA_IFNAME], std::string("lvt-x\0", 6));
}

TEST(VethRequestTest, RefusesBadSpecsByField) {
  VethSpec spec = Spec();
  spec.host_name = "sixteen-chars-xx";
  Status s = ValidateVethSpec(spec);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.field(), "host_name");
  EXPECT_EQ(CreateVeth(spec).code(), StatusCode::kInvalidArgument);
  spec = Spec();
  spec.guest_name = "";
  EXPECT_EQ(ValidateVethSpec(spec).field(), "guest_name");
  spec = Spec();
  spec.guest_name = "a/b";
  EXPECT_EQ(ValidateVethSpec(spec).field(), "guest_name");
  spec = Spec();
  spec.guest_mac = "52:54:00:12:34";
  EXPECT_EQ(ValidateVethSpec(spec).field(), "guest_mac");
  spec = Spec();
  spec.netns_pid = 0;
  EXPECT_EQ(ValidateVethSpec(spec).field(), "netns_pid");
  EXPECT_TRUE(ValidateVethSpec(Spec()).ok());
  spec = Spec();
  spec.host_name = "fifteen-chars-x";
  EXPECT_TRUE(ValidateVethSpec(spec).ok());
}

TEST(VethRequestTest, ParsesMacs) {
  auto mac = ParseMac("52:54:00:AB:cd:0f");
  ASSERT_TRUE(mac);
  EXPECT_EQ((*mac)[3], 0xab);
  EXPECT_EQ((*mac)[5], 0x0f);
  EXPECT_FALSE(ParseMac("52:54:00:ab:cd:0f:"));
  EXPECT_FALSE(ParseMac("52-54-00-ab-cd-0f"));
  EXPECT_FALSE(ParseMac("zz:54:00:ab:cd:0f"));
}

TEST(RtNetlinkTest, NestAndStringHelpers) {
  std::string out;
  const size_t nest = NlBeginNest(out, 7);
  NlPutString(out, 1, "ab");
  NlPutValue(out, 2, uint32_t{5});
  NlEndNest(out, nest);
  EXPECT_EQ(out.size(), 4u + 8u + 8u);
  auto outer = Attrs(out);
  ASSERT_TRUE(outer.count(7));
  auto inner = Attrs(outer[7]);
  EXPECT_EQ(inner[1], std::string("ab\0", 3));
  EXPECT_EQ(As<uint32_t>(inner[2]), 5u);
}

}  // namespace
}  // namespace labvirt::providers
