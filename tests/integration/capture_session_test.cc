// Capture sessions on real packet sockets: a veth pair stands in for a NIC's tap (frames the host
// sends into one end are what "the node" receives; frames from the peer are what it sends), a
// socket pair stands in for the client. The pcapng stream is parsed back and checked frame by
// frame: directions, the filter, limits, a slow reader cut off beside a fast one, a client hang-up
// and a vanished interface (no packet socket left behind).
#include "engine/capture/capture_session.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>

#include "gtest/gtest.h"
#include "tests/support/pcapng_reader.h"
#include "tests/support/prereq.h"
#include "tests/support/shell.h"
#include "tests/support/socket_pair.h"

namespace labvirt::engine {
namespace {

using namespace std::chrono_literals;
using testing::ParsePcapng;
using testing::PcapngBlock;
using testing::Sh;

const std::string kId = std::to_string(::getpid() % 100000);

// Packet sockets bound to interface `ifindex`, as /proc/net/packet lists them.
int PacketSocketsOn(unsigned ifindex) {
  std::ifstream f("/proc/net/packet");
  std::string line;
  std::getline(f, line);  // header: sk RefCnt Type Proto Iface R Rmem User Inode
  int n = 0;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string sk, ref, type, proto;
    unsigned iface = 0;
    in >> sk >> ref >> type >> proto >> iface;
    n += iface == ifindex;
  }
  return n;
}

// An Ethernet broadcast frame of `size` bytes with `ethertype` and a marker byte.
std::string Frame(uint16_t ethertype, size_t size, char marker) {
  std::string f(size, marker);
  f.replace(0, 6, std::string(6, '\xFF'));
  f.replace(6, 6, std::string("\x02\x00\x00\x00\x00\x01", 6));
  f[12] = static_cast<char>(ethertype >> 8);
  f[13] = static_cast<char>(ethertype & 0xFF);
  return f;
}

class CaptureSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LABVIRT_REQUIRE(::geteuid() == 0 && testing::HaveCommand("ip"), "root and ip");
    a_ = "lvca" + kId;
    b_ = "lvcb" + kId;
    int rc = 0;
    Sh("ip link add " + a_ + " type veth peer name " + b_ + " && ip link set " + a_ +
           " up && ip link set " + b_ + " up",
       &rc);
    ASSERT_EQ(rc, 0) << "veth pair";
    ifindex_ = ::if_nametoindex(a_.c_str());
    ASSERT_NE(ifindex_, 0u);
    reactor_ = std::move(reactor::Reactor::Create().value());
  }
  void TearDown() override {
    sessions_.clear();
    reactor_.reset();
    Sh("ip link del " + a_ + " 2>/dev/null");
  }

  // Starts a session on a_ whose client end the test keeps; returns its index.
  size_t Start(CaptureSpec spec, CaptureOptions options = {}, int client_buffer = 0) {
    spec.ifname = a_;
    if (spec.name.empty()) spec.name = "lab/r1:eth1";
    auto pair = testing::MakeSocketPair({.buffer_bytes = client_buffer});
    EXPECT_TRUE(pair.ok());
    auto s = std::make_unique<Session>();
    Session* raw = s.get();
    s->session = std::make_unique<CaptureSession>(*reactor_, spec, options,
                                                  [raw](const std::string& reason) {
                                                    raw->ended = true;
                                                    raw->reason = reason;
                                                  });
    s->client = std::move(pair->ours);
    s->session->Start(std::move(pair->theirs));
    sessions_.push_back(std::move(s));
    return sessions_.size() - 1;
  }

  // Sends `frames` out of interface `ifname` through a packet socket of the test's own.
  void SendOn(const std::string& ifname, const std::vector<std::string>& frames) {
    UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(fd.valid());
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
    to.sll_halen = 6;
    for (const auto& f : frames) {
      ASSERT_EQ(
          ::sendto(fd.get(), f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
          static_cast<ssize_t>(f.size()));
    }
  }

  bool RunUntil(const std::function<bool()>& pred, std::chrono::milliseconds limit = 20s) {
    auto tick = reactor_->Every(5ms, [] {});
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      reactor_->RunOnce(true);
      for (auto& s : sessions_) testing::DrainAvailable(s->client.get(), &s->bytes);
    }
    return pred();
  }

  // Runs until session `i` ended and its client saw EOF; returns its blocks.
  std::vector<PcapngBlock> Finished(size_t i) {
    Session& s = *sessions_[i];
    EXPECT_TRUE(RunUntil([&] { return s.ended; })) << "session " << i << " never ended";
    testing::DrainAvailable(s.client.get(), &s.bytes);
    size_t rest = 1;
    auto blocks = ParsePcapng(s.bytes, &rest);
    EXPECT_TRUE(blocks.has_value()) << "malformed pcapng";
    EXPECT_EQ(rest, 0u) << "a block was cut";
    return blocks.value_or(std::vector<PcapngBlock>{});
  }

  struct Session {
    std::unique_ptr<CaptureSession> session;
    UniqueFd client;
    std::string bytes;
    bool ended = false;
    std::string reason;
  };
  std::string a_, b_;
  unsigned ifindex_ = 0;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::vector<std::unique_ptr<Session>> sessions_;
};

// A spec with `filter` and the given limits (designated initializers would warn on the rest).
CaptureSpec Spec(std::string filter, uint64_t max_packets = 0, uint32_t snaplen = kMaxSnaplen,
                 uint64_t max_bytes = 0, std::chrono::milliseconds duration = 0ms) {
  CaptureSpec spec;
  spec.filter = std::move(filter);
  spec.max_packets = max_packets;
  spec.snaplen = snaplen;
  spec.max_bytes = max_bytes;
  spec.duration = duration;
  return spec;
}

std::vector<PcapngBlock> Packets(const std::vector<PcapngBlock>& blocks) {
  std::vector<PcapngBlock> out;
  for (const auto& b : blocks)
    if (b.type == 6) out.push_back(b);
  return out;
}

TEST_F(CaptureSessionTest, BothDirectionsFilteredUpToTheCount) {
  const int before = PacketSocketsOn(ifindex_);
  size_t i = Start(Spec("ether proto 0x88b5", 4));
  EXPECT_EQ(PacketSocketsOn(ifindex_), before + 1);
  SendOn(a_, {Frame(0x88b5, 60, 'i'), Frame(0x88b6, 60, 'x'), Frame(0x88b5, 61, 'i')});
  SendOn(b_, {Frame(0x88b5, 62, 'o'), Frame(0x88b6, 60, 'x'), Frame(0x88b5, 63, 'o')});
  SendOn(b_, {Frame(0x88b5, 64, 'z')});  // beyond the count
  auto blocks = Finished(i);
  ASSERT_GE(blocks.size(), 3u);
  EXPECT_EQ(blocks[0].type, 0x0A0D0D0Au);
  EXPECT_EQ(blocks[1].type, 1u);
  EXPECT_EQ(blocks[1].options[2], "lab/r1:eth1");
  EXPECT_EQ(blocks[1].options[9], "\x09");
  auto packets = Packets(blocks);
  ASSERT_EQ(packets.size(), 4u);
  int inbound = 0, outbound = 0;
  for (const auto& p : packets) {
    EXPECT_EQ(p.data.substr(12, 2), "\x88\xb5") << "the filter let another ethertype through";
    EXPECT_NE(p.data.back(), 'z');
    // Sent into a_ by the host: the node receives it (inbound); from the peer: the node sent it.
    if (p.data.back() == 'i') inbound += (p.Flags() & 3) == 1;
    if (p.data.back() == 'o') outbound += (p.Flags() & 3) == 2;
    EXPECT_EQ((p.Flags() >> 2) & 7, 3u) << "broadcast";
    EXPECT_GT(p.timestamp, 1'600'000'000'000'000'000ull) << "nanoseconds since the epoch";
  }
  EXPECT_EQ(inbound, 2);
  EXPECT_EQ(outbound, 2);
  EXPECT_EQ(blocks.back().type, 5u);
  EXPECT_EQ(blocks.back().options[1], "capture ended: packet limit reached");
  EXPECT_EQ(blocks.back().Counter(8), 4u) << "isb_usrdeliv";
  EXPECT_EQ(sessions_[i]->reason, "packet limit reached");
  EXPECT_TRUE(RunUntil([&] { return PacketSocketsOn(ifindex_) == before; }, 5s))
      << "the packet socket is closed";
}

TEST_F(CaptureSessionTest, SnaplenKeepsTheOriginalLengthAndBytesLimitEnds) {
  size_t i = Start(Spec("ether proto 0x88b5", 0, 64, 100));
  SendOn(b_, {Frame(0x88b5, 300, 'a'), Frame(0x88b5, 300, 'b'), Frame(0x88b5, 300, 'c')});
  auto packets = Packets(Finished(i));
  ASSERT_EQ(packets.size(), 2u) << "64 + 64 bytes reach the 100-byte limit";
  EXPECT_EQ(packets[0].captured, 64u);
  EXPECT_EQ(packets[0].original, 300u);
  EXPECT_EQ(sessions_[i]->reason, "byte limit reached");
}

TEST_F(CaptureSessionTest, SlowReaderIsCutOffAndTheOtherCaptureGetsEverything) {
  CaptureOptions small;
  small.max_queue_bytes = 64 * 1024;
  small.close_grace = 3s;
  size_t slow = Start(Spec("ether proto 0x88b5"), small, 16 * 1024);
  size_t fast = Start(Spec("ether proto 0x88b5", 2000));
  Session& s = *sessions_[slow];
  UniqueFd slow_client = std::move(s.client);  // RunUntil must not read it: it is the slow one
  auto pair = testing::MakeSocketPair();
  s.client = std::move(pair->ours);  // an idle stand-in for the drain in RunUntil
  for (int burst = 0; burst < 20; ++burst) {
    std::vector<std::string> frames(100, Frame(0x88b5, 1000, 'f'));
    SendOn(b_, frames);
    RunUntil([] { return false; }, 20ms);
  }
  ASSERT_TRUE(RunUntil([&] { return !sessions_[slow]->session->capturing(); }))
      << "the slow reader was never cut off";
  auto fast_blocks = Finished(fast);
  auto fast_packets = Packets(fast_blocks);
  ASSERT_FALSE(fast_blocks.empty());
  const PcapngBlock& isb = fast_blocks.back();
  EXPECT_EQ(isb.type, 5u);
  // Every frame that passed the filter was delivered or counted as a kernel drop.
  EXPECT_EQ(fast_packets.size() + isb.Counter(7), 2000u) << isb.options.at(1);
  EXPECT_GT(fast_packets.size(), 0u);
  // The slow client reads its backlog now: whole blocks, ending with the reason.
  std::string got;
  ASSERT_TRUE(RunUntil([&] {
    testing::DrainAvailable(slow_client.get(), &got);
    return sessions_[slow]->ended;
  }));
  testing::DrainAvailable(slow_client.get(), &got);
  size_t rest = 1;
  auto slow_blocks = ParsePcapng(got, &rest);
  ASSERT_TRUE(slow_blocks.has_value());
  EXPECT_EQ(rest, 0u);
  ASSERT_FALSE(slow_blocks->empty());
  EXPECT_EQ(slow_blocks->back().type, 5u);
  EXPECT_NE(slow_blocks->back().options[1].find("reader fell behind"), std::string::npos)
      << slow_blocks->back().options[1];
}

TEST_F(CaptureSessionTest, KernelDropsAreCountedInTheStatisticsBlock) {
  CaptureOptions tiny;
  tiny.rcvbuf_bytes = 4096;  // the kernel's floor: a few frames fit
  size_t i = Start(Spec("ether proto 0x88b5"), tiny);
  ASSERT_TRUE(RunUntil([&] { return !sessions_[i]->bytes.empty(); })) << "headers first";
  // 500 frames while the loop does not read: the socket's queue overflows.
  SendOn(b_, std::vector<std::string>(500, Frame(0x88b5, 1000, 'd')));
  SendOn(b_, {Frame(0x88b6, 1000, 'x')});  // filtered out: neither delivered nor dropped
  RunUntil([] { return false; }, 300ms);
  sessions_[i]->session->Stop("stopped by the test");
  auto blocks = Finished(i);
  ASSERT_FALSE(blocks.empty());
  const PcapngBlock& isb = blocks.back();
  ASSERT_EQ(isb.type, 5u);
  const uint64_t delivered = Packets(blocks).size();
  EXPECT_GT(isb.Counter(7), 0u) << "isb_osdrop: the kernel dropped frames";
  EXPECT_GT(delivered, 0u);
  EXPECT_EQ(delivered + isb.Counter(7), 500u) << "every frame delivered or counted as dropped";
  EXPECT_EQ(isb.Counter(8), delivered) << "isb_usrdeliv";
  EXPECT_EQ(sessions_[i]->session->kernel_drops(), isb.Counter(7));
}

TEST_F(CaptureSessionTest, ClientHangUpClosesThePacketSocket) {
  const int before = PacketSocketsOn(ifindex_);
  size_t i = Start(Spec(""));
  ASSERT_TRUE(RunUntil([&] { return !sessions_[i]->bytes.empty(); })) << "headers first";
  EXPECT_EQ(PacketSocketsOn(ifindex_), before + 1);
  sessions_[i]->client.Reset();
  ASSERT_TRUE(RunUntil([&] { return sessions_[i]->ended; }));
  EXPECT_EQ(sessions_[i]->reason, "client hung up");
  // The ring holds the file of a cancelled poll until the cancellation completes.
  EXPECT_TRUE(RunUntil([&] { return PacketSocketsOn(ifindex_) == before; }, 5s))
      << PacketSocketsOn(ifindex_) << " packet sockets left on the interface";
}

// A client that stops reading for good (its receive side shut) makes the next send fail with
// EPIPE while its read side stays open: the same hang-up, told the same way.
TEST_F(CaptureSessionTest, AClientGoneDuringASendIsAHangUpToo) {
  size_t i = Start(Spec("ether proto 0x88b5"));
  ASSERT_TRUE(RunUntil([&] { return !sessions_[i]->bytes.empty(); })) << "headers first";
  ASSERT_EQ(::shutdown(sessions_[i]->client.get(), SHUT_RD), 0);
  SendOn(b_, {Frame(0x88b5, 60, 'e')});
  ASSERT_TRUE(RunUntil([&] { return sessions_[i]->ended; }));
  EXPECT_EQ(sessions_[i]->reason, "client hung up");
}

TEST_F(CaptureSessionTest, VanishedInterfaceEndsTheCapture) {
  size_t i = Start(Spec("ether proto 0x88b5"));
  SendOn(b_, {Frame(0x88b5, 60, 'a')});
  ASSERT_TRUE(RunUntil([&] { return sessions_[i]->bytes.size() > 100; }));
  Sh("ip link del " + a_);
  auto blocks = Finished(i);
  EXPECT_EQ(Packets(blocks).size(), 1u);
  ASSERT_FALSE(blocks.empty());
  EXPECT_NE(blocks.back().options[1].find("went away"), std::string::npos)
      << blocks.back().options[1];
}

TEST_F(CaptureSessionTest, DurationAndBadFilterEndWithTheirReason) {
  size_t timed = Start(Spec("", 0, kMaxSnaplen, 0, 300ms));
  size_t bad = Start(Spec("ether proto (("));
  auto blocks = Finished(bad);
  ASSERT_EQ(blocks.size(), 3u) << "headers and the reason";
  EXPECT_NE(blocks[2].options[1].find("syntax error"), std::string::npos) << blocks[2].options[1];
  Finished(timed);
  EXPECT_EQ(sessions_[timed]->reason, "duration reached");
}

}  // namespace
}  // namespace labvirt::engine
