#include "engine/console/console_scrollback.h"

#include <string>

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

}  // namespace
}  // namespace labvirt::engine
