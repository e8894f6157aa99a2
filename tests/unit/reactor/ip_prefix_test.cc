// IpPrefix: parsing (every malformed form refused with a message saying what is wrong),
// canonical text, overlap and address arithmetic at the edges of both families.
#include "reactor/base/ip_prefix.h"

#include <sys/socket.h>

#include "gtest/gtest.h"

namespace labvirt {
namespace {

IpPrefix P(const char* text) {
  Result<IpPrefix> p = ParsePrefix(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status().ToString();
  return p.ok() ? *p : IpPrefix{};
}

TEST(IpPrefixTest, ParsesAndFormatsBothFamilies) {
  IpPrefix v4 = P("10.250.3.0/24");
  EXPECT_EQ(v4.family, AF_INET);
  EXPECT_EQ(v4.length, 24);
  EXPECT_EQ(v4.bytes[0], 10);
  EXPECT_EQ(v4.bytes[2], 3);
  EXPECT_EQ(FormatPrefix(v4), "10.250.3.0/24");
  IpPrefix v6 = P("fd6c:7600:0:3::/64");
  EXPECT_EQ(v6.family, AF_INET6);
  EXPECT_EQ(v6.length, 64);
  EXPECT_EQ(FormatPrefix(v6), "fd6c:7600:0:3::/64");
  // Canonical text whatever the input spelling.
  EXPECT_EQ(FormatPrefix(P("FD6C:7600:0000:0003:0:0:0:0/64")), "fd6c:7600:0:3::/64");
  EXPECT_EQ(FormatPrefix(P("0.0.0.0/0")), "0.0.0.0/0");
  EXPECT_EQ(FormatPrefix(P("::/0")), "::/0");
  EXPECT_EQ(FormatPrefix(P("10.1.2.3/32")), "10.1.2.3/32");
  EXPECT_EQ(FormatPrefix(P("fd00::1/128")), "fd00::1/128");
}

TEST(IpPrefixTest, HostBitsSetSaysWhatWasMeant) {
  Result<IpPrefix> p = ParsePrefix("10.0.0.1/24");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(p.status().message(), "10.0.0.1/24 has host bits set; did you mean 10.0.0.0/24?");
  p = ParsePrefix("fd00::1/64");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "fd00::1/64 has host bits set; did you mean fd00::/64?");
  p = ParsePrefix("10.0.0.128/25");
  EXPECT_TRUE(p.ok());
  p = ParsePrefix("10.0.0.128/24");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("10.0.0.0/24"), std::string::npos);
}

TEST(IpPrefixTest, RefusesEveryMalformedForm) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"10.0.0.0", "has no prefix length"},
           {"", "has no prefix length"},
           {"/24", "not an IP address"},
           {"10.0.0/24", "not an IPv4 address"},
           {"10.0.0.256/24", "not an IPv4 address"},
           {"10.0.0.0.0/24", "not an IPv4 address"},
           {" 10.0.0.0/24", "not an IPv4 address"},
           {"010.0.0.0/24", "not an IPv4 address"},
           {"fd00:::/64", "not an IPv6 address"},
           {"fd00::g/64", "not an IPv6 address"},
           {"fe80::1%eth0/64", "not an IPv6 address"},
           {"10.0.0.0/", "is not a number"},
           {"10.0.0.0/+8", "is not a number"},
           {"10.0.0.0/-1", "is not a number"},
           {"10.0.0.0/ 8", "is not a number"},
           {"10.0.0.0/8 ", "is not a number"},
           {"10.0.0.0/8/8", "is not a number"},
           {"10.0.0.0/0x8", "is not a number"},
           {"10.0.0.0/0008", "is not a number"},
           {"10.0.0.0/33", "out of range 0..32"},
           {"fd00::/129", "out of range 0..128"},
           {"10.0.0.0/999", "out of range 0..32"},
       }) {
    Result<IpPrefix> p = ParsePrefix(c.text);
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(p.status().message().find(c.says), std::string::npos)
        << c.text << " -> " << p.status().message();
  }
  // An embedded NUL must not hide a tail.
  EXPECT_FALSE(ParsePrefix(std::string_view("10.0.0.0\0/8", 11)).ok());
  EXPECT_FALSE(ParsePrefix(std::string_view("10.0.0.0/8\0", 11)).ok());
}

TEST(IpPrefixTest, Overlaps) {
  EXPECT_TRUE(Overlaps(P("10.0.0.0/8"), P("10.1.0.0/16")));
  EXPECT_TRUE(Overlaps(P("10.1.0.0/16"), P("10.0.0.0/8")));
  EXPECT_TRUE(Overlaps(P("10.1.0.0/16"), P("10.1.0.0/16")));
  EXPECT_FALSE(Overlaps(P("10.1.0.0/16"), P("10.2.0.0/16")));
  EXPECT_FALSE(Overlaps(P("10.0.0.0/25"), P("10.0.0.128/25")));
  EXPECT_TRUE(Overlaps(P("0.0.0.0/0"), P("192.0.2.0/24")));
  EXPECT_TRUE(Overlaps(P("fd00::/8"), P("fd6c:7600:0:3::/64")));
  EXPECT_FALSE(Overlaps(P("fd6c:7600:0:3::/64"), P("fd6c:7600:0:4::/64")));
  // Never across families, even where the bytes agree.
  EXPECT_FALSE(Overlaps(P("0.0.0.0/0"), P("::/0")));
  EXPECT_FALSE(Overlaps(P("10.0.0.0/8"), P("a00::/8")));
  EXPECT_TRUE(Contains(P("10.0.0.0/8"), P("10.9.0.0/16")));
  EXPECT_FALSE(Contains(P("10.9.0.0/16"), P("10.0.0.0/8")));
}

TEST(IpPrefixTest, NthAddressAndIndexAreInverse) {
  IpPrefix v4 = P("10.250.3.0/24");
  EXPECT_EQ(*NthAddress(v4, 0), "10.250.3.0");
  EXPECT_EQ(*NthAddress(v4, 1), "10.250.3.1");
  EXPECT_EQ(*NthAddress(v4, 255), "10.250.3.255");
  Result<std::string> out = NthAddress(v4, 256);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("out of range"), std::string::npos);
  // Carries across bytes.
  IpPrefix wide = P("10.250.0.0/16");
  EXPECT_EQ(*NthAddress(wide, 256), "10.250.1.0");
  EXPECT_EQ(*NthAddress(wide, 65535), "10.250.255.255");
  EXPECT_EQ(*NthAddress(P("0.0.0.0/0"), 0xffffffffu), "255.255.255.255");
  EXPECT_FALSE(NthAddress(P("0.0.0.0/0"), uint64_t{1} << 32).ok());
  EXPECT_EQ(*NthAddress(P("10.0.0.5/32"), 0), "10.0.0.5");
  EXPECT_FALSE(NthAddress(P("10.0.0.5/32"), 1).ok());

  IpPrefix v6 = P("fd6c:7600:0:3::/64");
  EXPECT_EQ(*NthAddress(v6, 1), "fd6c:7600:0:3::1");
  EXPECT_EQ(*NthAddress(v6, 0x10000), "fd6c:7600:0:3::1:0");
  EXPECT_EQ(*NthAddress(v6, ~uint64_t{0}), "fd6c:7600:0:3:ffff:ffff:ffff:ffff");
  EXPECT_EQ(*NthAddress(P("fd00::/48"), ~uint64_t{0}), "fd00::ffff:ffff:ffff:ffff");

  for (uint64_t n : {0ull, 1ull, 200ull, 255ull}) {
    EXPECT_EQ(*AddressIndex(v4, *NthAddress(v4, n)), n);
  }
  for (uint64_t n : {0ull, 1ull, 0xfffffull, ~0ull}) {
    EXPECT_EQ(*AddressIndex(v6, *NthAddress(v6, n)), n);
  }
  EXPECT_EQ(*AddressIndex(v6, "FD6C:7600:0:3:0:0:0:A"), 10u);
}

TEST(IpPrefixTest, AddressIndexRefusesWhatIsNotInside) {
  IpPrefix v4 = P("10.250.3.0/24");
  for (const char* bad :
       {"10.250.4.1", "fd6c:7600:0:3::1", "10.250.3", "", "10.250.3.1/32", "10.250.3.1 "}) {
    Result<uint64_t> n = AddressIndex(v4, bad);
    ASSERT_FALSE(n.ok()) << bad;
    EXPECT_EQ(n.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(AddressIndex(v4, "10.250.4.1").status().message().find("not inside 10.250.3.0/24"),
            std::string::npos);
  // Past 64 bits of index inside a wide IPv6 prefix.
  Result<uint64_t> far = AddressIndex(P("fd00::/48"), "fd00:0:0:1::");
  ASSERT_FALSE(far.ok());
  EXPECT_NE(far.status().message().find("64-bit"), std::string::npos);
}

TEST(IpPrefixTest, ParseAddress) {
  EXPECT_EQ(ParseAddress("10.0.0.1")->length, 32);
  EXPECT_EQ(ParseAddress("fd00::1")->length, 128);
  EXPECT_FALSE(ParseAddress("10.0.0.1/32").ok());
  EXPECT_FALSE(ParseAddress("host.example").ok());
}

TEST(IpPrefixTest, AnInterfaceAddressKeepsItsHostBitsAndKnowsItsNetwork) {
  auto v4 = ParseInterfaceAddress("10.250.3.10/24");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(FormatPrefix(*v4), "10.250.3.10/24");
  EXPECT_EQ(FormatPrefix(NetworkOf(*v4)), "10.250.3.0/24");
  EXPECT_EQ(AddressBytes(v4->family), 4u);
  auto v6 = ParseInterfaceAddress("fd6c:7600:0:3::a/64");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(FormatPrefix(NetworkOf(*v6)), "fd6c:7600:0:3::/64");
  EXPECT_EQ(AddressBytes(v6->family), 16u);
  for (const char* bad : {"10.250.3.10", "10.250.3.10/33", "banana/24", "10.1.1.1/x", "/24", ""}) {
    EXPECT_FALSE(ParseInterfaceAddress(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace labvirt
