#include "engine/console/vt100_stripper.h"

#include <algorithm>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

std::string Strip(std::string_view in) {
  Vt100Stripper s;
  std::string out;
  s.Feed(in, &out);
  return out;
}

// Feeds `in` split at every pair of offsets (two cuts, three pieces) and checks each result
// equals the unsplit one.
void ExpectSplitInvariant(std::string_view in) {
  const std::string whole = Strip(in);
  for (size_t i = 0; i <= in.size(); ++i) {
    for (size_t j = i; j <= in.size(); ++j) {
      Vt100Stripper s;
      std::string out;
      s.Feed(in.substr(0, i), &out);
      s.Feed(in.substr(i, j - i), &out);
      s.Feed(in.substr(j), &out);
      ASSERT_EQ(out, whole) << "cuts at " << i << "," << j;
    }
  }
}

TEST(Vt100StripperTest, PlainTextPassesThrough) {
  EXPECT_EQ(Strip("hello world\tx"), "hello world\tx");
  EXPECT_EQ(Strip("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 kept
}

TEST(Vt100StripperTest, CrLfBecomesLfAndLoneCrJoins) {
  EXPECT_EQ(Strip("a\r\nb\r\n"), "a\nb\n");
  EXPECT_EQ(Strip("Kernel\r panic"), "Kernel panic");
  EXPECT_EQ(Strip("\r\r\n"), "\n");
}

TEST(Vt100StripperTest, CsiSequencesRemoved) {
  EXPECT_EQ(Strip("\x1b[2J\x1b[?25l\x1b[HRouter>"), "Router>");
  EXPECT_EQ(Strip("[\x1b[0;32m  OK  \x1b[0m] Started"), "[  OK  ] Started");
  EXPECT_EQ(Strip("a\x1b[1;31;4mb\x1b[mc"), "abc");
  EXPECT_EQ(Strip("x\x1b[>0;1c y"), "x y");  // private-parameter CSI
}

TEST(Vt100StripperTest, OscAndStringSequencesRemoved) {
  EXPECT_EQ(Strip("a\x1b]0;title\x07"
                  "b"),
            "ab");
  EXPECT_EQ(Strip("a\x1b]2;title\x1b\\b"), "ab");
  EXPECT_EQ(Strip("a\x1bPq#0;2;0;0;0\x1b\\b"), "ab");  // DCS
  EXPECT_EQ(Strip("a\x1b_apc\x1b\\b"), "ab");
}

TEST(Vt100StripperTest, ShortEscapesRemoved) {
  EXPECT_EQ(Strip("a\x1b"
                  "7b\x1b"
                  "8c"),
            "abc");
  EXPECT_EQ(Strip("a\x1b(Bb\x1b)0c"), "abc");
  EXPECT_EQ(Strip("a\x1b=b\x1b>c"), "abc");
  EXPECT_EQ(Strip("a\x1b\x1b[1mb"), "ab");
}

TEST(Vt100StripperTest, ControlsDropped) {
  EXPECT_EQ(Strip(std::string("a\0b\x07"
                              "c\x08"
                              "d\x7f"
                              "e",
                              9)),
            "abcde");
}

TEST(Vt100StripperTest, EscapeInsidePromptDoesNotHideIt) {
  EXPECT_EQ(Strip("Rou\x1b[1mter\x1b[0m>"), "Router>");
  EXPECT_EQ(Strip("log\x1b]0;x\x07in: "), "login: ");
}

TEST(Vt100StripperTest, LineFeedEndsAnUnterminatedSequence) {
  EXPECT_EQ(Strip("a\x1b[12;34\nRouter>"), "a\nRouter>");
  EXPECT_EQ(Strip("a\x1b]0;never ends\nRouter>"), "a\nRouter>");
}

TEST(Vt100StripperTest, OverlongSequencesAreAbandoned) {
  std::string csi = "\x1b[" + std::string(200, '1') + "tail";
  std::string out = Strip(csi);
  EXPECT_LT(out.size(), 200u);
  EXPECT_NE(out.find("tail"), std::string::npos);
  std::string osc = "\x1b]" + std::string(10000, 'x') + "after";
  out = Strip(osc);
  EXPECT_NE(out.find("after"), std::string::npos);
  EXPECT_LT(out.size(), 10000u - Vt100Stripper::kMaxStringBytes + 100);
}

TEST(Vt100StripperTest, CsiAbortedByControlOrHighByte) {
  EXPECT_EQ(Strip("a\x1b[1\x01"
                  "b"),
            "ab");
  EXPECT_EQ(Strip("a\x1b[1\xff"
                  "b"),
            "ab");
}

TEST(Vt100StripperTest, MegabyteLineWithoutNewline) {
  std::string big(1 << 20, 'x');
  EXPECT_EQ(Strip(big), big);
}

TEST(Vt100StripperTest, SplitAtEveryOffset) {
  ExpectSplitInvariant(
      "\x1b[2J\x1b[?25l\x1b[H  GRUB\r\n\x1b]0;t\x07[\x1b[0;32m OK \x1b[0m]\r\nR\x1b(Bo>");
  ExpectSplitInvariant(
      "a\x1b]2;x\x1b\\b\x1b"
      "7c\x1b\x1b[1md\x1b[1\x01"
      "e\r\n");
}

TEST(Vt100StripperTest, BinaryGarbageIsSplitInvariantAndBounded) {
  std::mt19937 rng(42);
  std::string garbage(4096, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  const std::string whole = Strip(garbage);
  EXPECT_LE(whole.size(), garbage.size());
  for (size_t i = 0; i <= garbage.size(); i += 7) {
    Vt100Stripper s;
    std::string out;
    s.Feed(std::string_view(garbage).substr(0, i), &out);
    s.Feed(std::string_view(garbage).substr(i), &out);
    ASSERT_EQ(out, whole) << i;
  }
  // Text after garbage is seen again once a line ends.
  Vt100Stripper s;
  std::string out;
  s.Feed(garbage, &out);
  out.clear();
  s.Feed("\nRouter>", &out);
  EXPECT_EQ(out, "\nRouter>");
}

// The fast path scans 16 and 8 bytes at a time: every control byte at every position of a block,
// among high (UTF-8) bytes, must be found exactly as a byte-by-byte filter finds it.
TEST(Vt100StripperTest, FastPathFindsEveryControlAtEveryPosition) {
  for (int c = 0; c < 0x100; ++c) {
    if (c == 0x1b) continue;  // ESC starts a sequence: covered elsewhere
    for (size_t pos = 0; pos < 40; ++pos) {
      std::string in(48, 'a');
      for (size_t k = 0; k < in.size(); k += 5) in[k] = static_cast<char>(0xc3);
      in[pos] = static_cast<char>(c);
      std::string want;
      for (char ch : in) {
        auto u = static_cast<unsigned char>(ch);
        if ((u >= 0x20 && u != 0x7f) || u == '\n' || u == '\t') want.push_back(ch);
      }
      ASSERT_EQ(Strip(in), want) << "byte " << c << " at " << pos;
    }
  }
}

// Dense CR/LF/TAB and other controls (several in one 16-byte block), fed through the buffer
// variant in random pieces: the text equals a byte-by-byte filter, the dropped count adds up, and
// nothing is written past the input's size (the guard bytes stay intact).
TEST(Vt100StripperTest, BufferFeedKeepsWithinInputSizeAndMatchesByteFilter) {
  std::mt19937 rng(7);
  const char kAlphabet[] = "ab\r\n\t\x01\x7f\xc3 ";
  for (int round = 0; round < 2000; ++round) {
    std::string in;
    const size_t len = rng() % 100;
    for (size_t k = 0; k < len; ++k) in.push_back(kAlphabet[rng() % (sizeof kAlphabet - 1)]);
    std::string want;
    uint64_t want_dropped = 0;
    for (char ch : in) {
      auto u = static_cast<unsigned char>(ch);
      if ((u >= 0x20 && u != 0x7f) || u == '\n' || u == '\t') {
        want.push_back(ch);
      } else {
        ++want_dropped;
      }
    }
    Vt100Stripper s;
    std::string got;
    for (size_t i = 0; i < in.size();) {
      const size_t piece = std::min<size_t>(1 + rng() % 40, in.size() - i);
      std::string buf(piece + 16, '#');
      const size_t n = s.Feed(std::string_view(in).substr(i, piece), buf.data());
      ASSERT_LE(n, piece);
      ASSERT_EQ(buf.substr(piece), std::string(16, '#')) << "wrote past the input size";
      got.append(buf, 0, n);
      i += piece;
    }
    ASSERT_EQ(got, want) << "round " << round;
    EXPECT_EQ(s.dropped_bytes(), want_dropped);
  }
}

TEST(Vt100StripperTest, ResetForgetsPartialSequence) {
  Vt100Stripper s;
  std::string out;
  s.Feed("\x1b[12", &out);
  s.Reset();
  s.Feed("ab", &out);
  EXPECT_EQ(out, "ab");
  EXPECT_GT(s.dropped_bytes(), 0u);
}

}  // namespace
}  // namespace labvirt::engine
