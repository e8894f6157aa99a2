#include "reactor/base/json_splitter.h"

#include <simdjson.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace labvirt {
namespace {

// Three messages with every tricky part: braces and brackets inside strings, escaped quotes and
// backslashes, multi-byte UTF-8 (2, 3 and 4 bytes), whitespace between values, nesting.
const std::string kStream =
    "{\"id\":1,\"result\":[{\"a\":\"}]{[\\\"\\\\\"}],\"error\":null}"
    " \r\n\t"
    "{\"method\":\"update3\",\"params\":[\"m\",\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",{}]}"
    "[1,[2,[3]],\"x\\u00e9\"]";
const std::vector<std::string> kExpected = {
    "{\"id\":1,\"result\":[{\"a\":\"}]{[\\\"\\\\\"}],\"error\":null}",
    "{\"method\":\"update3\",\"params\":[\"m\",\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",{}]}",
    "[1,[2,[3]],\"x\\u00e9\"]"};

TEST(JsonSplitterTest, WholeStreamAtOnce) {
  JsonSplitter s(1 << 20);
  std::vector<std::string> out;
  ASSERT_TRUE(s.Feed(kStream, &out).ok());
  EXPECT_EQ(out, kExpected);
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(JsonSplitterTest, SplitAtEveryByteOffset) {
  for (size_t cut = 0; cut <= kStream.size(); ++cut) {
    JsonSplitter s(1 << 20);
    std::vector<std::string> out;
    ASSERT_TRUE(s.Feed(std::string_view(kStream).substr(0, cut), &out).ok()) << cut;
    ASSERT_TRUE(s.Feed(std::string_view(kStream).substr(cut), &out).ok()) << cut;
    EXPECT_EQ(out, kExpected) << "cut at " << cut;
  }
}

TEST(JsonSplitterTest, SplitAtEveryPairOfOffsets) {
  for (size_t a = 0; a <= kStream.size(); ++a) {
    for (size_t b = a; b <= kStream.size(); b += 3) {
      JsonSplitter s(1 << 20);
      std::vector<std::string> out;
      std::string_view v(kStream);
      ASSERT_TRUE(s.Feed(v.substr(0, a), &out).ok());
      ASSERT_TRUE(s.Feed(v.substr(a, b - a), &out).ok());
      ASSERT_TRUE(s.Feed(v.substr(b), &out).ok());
      ASSERT_EQ(out, kExpected) << a << "," << b;
    }
  }
}

TEST(JsonSplitterTest, OneByteAtATimeAndEveryValueParses) {
  JsonSplitter s(1 << 20);
  std::vector<std::string> out;
  for (char c : kStream) ASSERT_TRUE(s.Feed(std::string_view(&c, 1), &out).ok());
  ASSERT_EQ(out, kExpected);
  simdjson::dom::parser parser;
  for (const std::string& m : out) {
    simdjson::dom::element el;
    EXPECT_EQ(parser.parse(m).get(el), simdjson::SUCCESS) << m;
  }
}

TEST(JsonSplitterTest, IncompleteTailIsHeld) {
  JsonSplitter s(1 << 20);
  std::vector<std::string> out;
  ASSERT_TRUE(s.Feed("{\"a\":\"\xe2\x82", &out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(s.buffered(), 8u);
  ASSERT_TRUE(s.Feed("\xac\"}", &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], "{\"a\":\"\xe2\x82\xac\"}");
}

TEST(JsonSplitterTest, ScalarAtTopLevelIsAFramingError) {
  for (const char* bad : {"42", "\"s\"", "null", "}", "]", "x{}"}) {
    JsonSplitter s(1 << 20);
    std::vector<std::string> out;
    Status st = s.Feed(bad, &out);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("framing"), std::string::npos);
  }
}

TEST(JsonSplitterTest, ValuesBeforeAnErrorAreKeptAndTheErrorSticks) {
  JsonSplitter s(1 << 20);
  std::vector<std::string> out;
  EXPECT_FALSE(s.Feed("{}[] ?{}", &out).ok());
  EXPECT_EQ(out, (std::vector<std::string>{"{}", "[]"}));
  EXPECT_FALSE(s.Feed("{}", &out).ok());
  EXPECT_EQ(out.size(), 2u);
  s.Reset();
  EXPECT_TRUE(s.Feed("{}", &out).ok());
  EXPECT_EQ(out.size(), 3u);
}

TEST(JsonSplitterTest, OversizedValueIsRejectedAcrossFeeds) {
  JsonSplitter s(16);
  std::vector<std::string> out;
  ASSERT_TRUE(s.Feed("{\"k\":\"0123", &out).ok());
  Status st = s.Feed("456789abcdef\"}", &out);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(out.empty());
}

TEST(JsonSplitterTest, OversizedValueInOneFeed) {
  JsonSplitter s(8);
  std::vector<std::string> out;
  EXPECT_EQ(s.Feed("{\"k\":[1,2,3,4,5]}", &out).code(), StatusCode::kResourceExhausted);
}

TEST(JsonSplitterTest, ValueOfExactlyTheLimitPasses) {
  JsonSplitter s(8);
  std::vector<std::string> out;
  EXPECT_TRUE(s.Feed("{\"a\":12}{\"b\":34}", &out).ok());
  EXPECT_EQ(out.size(), 2u);
}

TEST(JsonSplitterTest, NestingLimit) {
  JsonSplitter s(1 << 20, 4);
  std::vector<std::string> out;
  EXPECT_TRUE(s.Feed("[[[[]]]]", &out).ok());
  EXPECT_EQ(s.Feed("[[[[[]]]]]", &out).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace labvirt
