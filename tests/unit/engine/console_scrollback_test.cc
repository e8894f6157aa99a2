#include "engine/console/console_scrollback.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

TEST(ConsoleScrollbackTest, KeepsTheNewestBytesInOrder) {
  ConsoleScrollback s(8);
  s.Append("abc");
  EXPECT_EQ(s.Contents(), "abc");
  s.Append("defgh");
  EXPECT_EQ(s.Contents(), "abcdefgh");
  s.Append("ij");
  EXPECT_EQ(s.Contents(), "cdefghij");
  s.Append("0123456789xyz");
  EXPECT_EQ(s.Contents(), "56789xyz");
  EXPECT_EQ(s.total_bytes(), 23u);
}

TEST(ConsoleScrollbackTest, EveryChunkingGivesTheSameTail) {
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>('a' + i % 26));
  for (size_t chunk = 1; chunk <= 40; ++chunk) {
    ConsoleScrollback s(37);
    for (size_t i = 0; i < data.size(); i += chunk) s.Append(data.substr(i, chunk));
    ASSERT_EQ(s.Contents(), data.substr(data.size() - 37)) << chunk;
  }
}

TEST(ConsoleScrollbackTest, ZeroCapacityKeepsNothing) {
  ConsoleScrollback s(0);
  s.Append("abc");
  EXPECT_EQ(s.Contents(), "");
  EXPECT_EQ(s.size(), 0u);
}

// The ring grows with what it holds (issue 20): its contents are the same as a full-size ring's
// at every step, whatever the chunking, across every growth and the final wrap.
TEST(ConsoleScrollbackTest, AGrowingRingKeepsTheNewestBytesAtEveryStep) {
  constexpr size_t kCap = 10000;
  std::string data;
  for (int i = 0; i < 40000; ++i) data.push_back(static_cast<char>('a' + (i * 7) % 26));
  for (size_t chunk : {1, 7, 100, 4095, 4096, 4097, 8191, 9999, 10000, 12000}) {
    ConsoleScrollback s(kCap);
    for (size_t i = 0; i < data.size(); i += chunk) {
      s.Append(std::string_view(data).substr(i, chunk));
      size_t end = std::min(data.size(), i + chunk);
      size_t keep = std::min(end, kCap);
      ASSERT_EQ(s.Contents(), data.substr(end - keep, keep)) << "chunk " << chunk << " at " << i;
      ASSERT_LE(s.allocated(), kCap);
    }
  }
}

TEST(ConsoleScrollbackTest, AQuietConsoleHoldsMemoryForWhatItPrinted) {
  ConsoleScrollback s(256 * 1024);
  EXPECT_EQ(s.allocated(), 0u) << "nothing printed, nothing held";
  s.Append(std::string(2000, 'x'));
  EXPECT_EQ(s.allocated(), 4096u);
  s.Append(std::string(5000, 'y'));
  EXPECT_EQ(s.allocated(), 8192u);
  EXPECT_EQ(s.Contents(), std::string(2000, 'x') + std::string(5000, 'y'));
  s.Append(std::string(300 * 1024, 'z'));
  EXPECT_EQ(s.allocated(), 256u * 1024) << "never more than its capacity";
  EXPECT_EQ(s.Contents(), std::string(256 * 1024, 'z'));
}

}  // namespace
}  // namespace labvirt::engine
