// The pcapng writer, read back two ways: by the test's own reader (every field, from the
// specification) and by libpcap (an independent reader: Wireshark and tcpdump use it).
#include "engine/capture/pcapng_writer.h"

#include <pcap/pcap.h>
#include <stdio.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/support/pcapng_reader.h"

namespace labvirt::engine::pcapng {
namespace {

using testing::ParsePcapng;

std::string Frame(size_t n, unsigned char first) {
  std::string f(n, '\x42');
  for (size_t i = 0; i < 6 && i < n; ++i) f[i] = static_cast<char>(first);  // destination MAC
  return f;
}

std::string Stream() {
  std::string out;
  AppendSectionHeader(out, "labvirt test");
  AppendInterfaceDescription(out, {"lab/r1:eth1", "tap lvx1", "ether proto 0x88b5", 128});
  std::string a = Frame(61, 0xFF), b = Frame(64, 0x02);
  AppendEnhancedPacket(out, 0, 1'700'000'000'123'456'789ull, a, 61, Direction::kInbound,
                       ReceptionOf(a));
  AppendEnhancedPacket(out, 0, 1'700'000'001'000'000'007ull, b, 1500, Direction::kOutbound,
                       ReceptionOf(b));
  AppendInterfaceStatistics(out, 0, {1, 2'000'000'000ull, 7, 3, 2, "capture ended: test"});
  return out;
}

TEST(PcapngWriterTest, BlocksCarryEveryField) {
  std::string s = Stream();
  ASSERT_EQ(s.size() % 4, 0u);
  size_t rest = 1;
  auto blocks = ParsePcapng(s, &rest);
  ASSERT_TRUE(blocks.has_value());
  EXPECT_EQ(rest, 0u);
  ASSERT_EQ(blocks->size(), 5u);
  const auto& shb = (*blocks)[0];
  EXPECT_EQ(shb.type, kSectionHeader);
  EXPECT_EQ(testing::ReadAt<uint32_t>(shb.body, 0), kByteOrderMagic);
  EXPECT_EQ(testing::ReadAt<int64_t>(shb.body, 8), -1);
  EXPECT_EQ(shb.options.at(4), "labvirt test");

  const auto& idb = (*blocks)[1];
  EXPECT_EQ(idb.type, kInterfaceDescription);
  EXPECT_EQ(testing::ReadAt<uint16_t>(idb.body, 0), kLinkTypeEthernet);
  EXPECT_EQ(testing::ReadAt<uint32_t>(idb.body, 4), 128u);
  EXPECT_EQ(idb.options.at(2), "lab/r1:eth1");
  EXPECT_EQ(idb.options.at(3), "tap lvx1");
  EXPECT_EQ(idb.options.at(9), std::string(1, '\x09'));
  EXPECT_EQ(idb.options.at(11), std::string(1, '\0') + "ether proto 0x88b5");

  const auto& p1 = (*blocks)[2];
  EXPECT_EQ(p1.type, kEnhancedPacket);
  EXPECT_EQ(p1.timestamp, 1'700'000'000'123'456'789ull);
  EXPECT_EQ(p1.captured, 61u);  // odd length: padded, and the options still parse
  EXPECT_EQ(p1.data, Frame(61, 0xFF));
  EXPECT_EQ(p1.Flags(), 1u | (3u << 2)) << "inbound, broadcast";
  const auto& p2 = (*blocks)[3];
  EXPECT_EQ(p2.original, 1500u);
  EXPECT_EQ(p2.captured, 64u);
  EXPECT_EQ(p2.Flags(), 2u | (1u << 2)) << "outbound, unicast";

  const auto& isb = (*blocks)[4];
  EXPECT_EQ(isb.type, kInterfaceStatistics);
  EXPECT_EQ(isb.timestamp, 2'000'000'000ull);
  EXPECT_EQ(isb.options.at(1), "capture ended: test");
  EXPECT_EQ(isb.Counter(6), 7u);
  EXPECT_EQ(isb.Counter(7), 3u);
  EXPECT_EQ(isb.Counter(8), 2u);
}

TEST(PcapngWriterTest, LibpcapReadsItWithNanosecondTimestamps) {
  std::string s = Stream();
  FILE* f = fmemopen(s.data(), s.size(), "rb");
  ASSERT_NE(f, nullptr);
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, err);
  ASSERT_NE(p, nullptr) << err;
  EXPECT_EQ(pcap_datalink(p), DLT_EN10MB);
  EXPECT_EQ(pcap_snapshot(p), 128);
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  ASSERT_EQ(pcap_next_ex(p, &h, &data), 1) << pcap_geterr(p);
  EXPECT_EQ(h->ts.tv_sec, 1'700'000'000);
  EXPECT_EQ(h->ts.tv_usec, 123'456'789) << "nanoseconds, read as such";
  EXPECT_EQ(h->caplen, 61u);
  EXPECT_EQ(data[0], 0xFF);
  ASSERT_EQ(pcap_next_ex(p, &h, &data), 1) << pcap_geterr(p);
  EXPECT_EQ(h->len, 1500u);
  EXPECT_EQ(h->ts.tv_usec, 7);
  EXPECT_EQ(pcap_next_ex(p, &h, &data), PCAP_ERROR_BREAK) << "the ISB ends the stream cleanly";
  pcap_close(p);  // closes f
}

TEST(PcapngWriterTest, ReceptionFollowsTheDestinationMac) {
  EXPECT_EQ(ReceptionOf(Frame(14, 0xFF)), Reception::kBroadcast);
  std::string mcast = Frame(14, 0x01);
  EXPECT_EQ(ReceptionOf(mcast), Reception::kMulticast);
  EXPECT_EQ(ReceptionOf(Frame(14, 0x52)), Reception::kUnicast);
  EXPECT_EQ(ReceptionOf(std::string(5, '\xFF')), Reception::kUnspecified);
}

}  // namespace
}  // namespace labvirt::engine::pcapng
