#include "reactor/base/json_writer.h"

#include <simdjson.h>

#include "gtest/gtest.h"

namespace labvirt {
namespace {

TEST(JsonWriterTest, NestedContainersAndCommas) {
  JsonWriter w;
  w.BeginArray().String("Open_vSwitch").BeginObject().Key("op").String("insert");
  w.Key("row").BeginObject().Key("tag").Int(5).Key("b").Bool(false).EndObject().EndObject();
  w.BeginArray().EndArray().Null().Uint(7).EndArray();
  EXPECT_EQ(w.str(), R"(["Open_vSwitch",{"op":"insert","row":{"tag":5,"b":false}},[],null,7])");
}

TEST(JsonWriterTest, EveryControlCharacterQuoteAndBackslashRoundTrips) {
  std::string all;
  for (int c = 0; c < 0x20; ++c) all += static_cast<char>(c);
  all += "\"\\/\x7f";
  std::string out;
  JsonWriter::AppendQuoted(out, all);
  simdjson::dom::parser parser;
  simdjson::dom::element el;
  ASSERT_EQ(parser.parse(out).get(el), simdjson::SUCCESS) << out;
  EXPECT_EQ(std::string(el.get_string().value()), all);
}

TEST(JsonWriterTest, ValidUtf8IsKeptInvalidBecomesReplacement) {
  std::string out;
  JsonWriter::AppendQuoted(out, "\xc3\xa9\xf0\x9f\x98\x80|\xff|\xc0\xaf|\xed\xa0\x80|\xe2\x82");
  simdjson::dom::parser parser;
  simdjson::dom::element el;
  ASSERT_EQ(parser.parse(out).get(el), simdjson::SUCCESS) << out;
  std::string_view v = el.get_string().value();
  EXPECT_EQ(v.substr(0, 6), "\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(v.find('\xff'), std::string_view::npos);
  EXPECT_NE(v.find("\xef\xbf\xbd"), std::string_view::npos);
}

TEST(JsonWriterTest, NonFiniteDoubleIsNullAndIntegersAreExact) {
  JsonWriter w;
  w.BeginArray().Double(1.0 / 0.0).Int(INT64_MIN).Uint(UINT64_MAX).EndArray();
  EXPECT_EQ(w.str(), "[null,-9223372036854775808,18446744073709551615]");
}

// The writer grows its buffer itself; output read in the middle (str()) and after regrowing must
// be exactly what was written.
TEST(JsonWriterTest, LongOutputReadMidwayAndTakenIsExact) {
  JsonWriter w;
  std::string expected = "[";
  w.BeginArray();
  const std::string long_value(5000, 'x');
  for (int i = 0; i < 40; ++i) {
    w.String(long_value).Int(i);
    expected += (i ? "," : "") + ("\"" + long_value + "\"," + std::to_string(i));
    if (i == 20) {
      EXPECT_EQ(w.str(), expected);
    }
  }
  w.EndArray();
  expected += "]";
  EXPECT_EQ(w.str(), expected);
  EXPECT_EQ(w.Take(), expected);
}

// Special bytes at every position of a 16-byte block and past long plain runs (the vector scan
// and its scalar tail) are escaped exactly like anywhere else.
TEST(JsonWriterTest, SpecialBytesAtEveryOffsetOfLongStrings) {
  for (size_t at = 0; at < 40; ++at) {
    for (char special : {'"', '\\', '\n', '\x01', '\x7f'}) {
      std::string value(40, 'a');
      value[at] = special;
      JsonWriter w;
      w.String(value);
      simdjson::dom::parser parser;
      auto el = parser.parse(w.str());
      ASSERT_FALSE(el.error()) << w.str();
      EXPECT_EQ(std::string(el.get_string().value()), value) << "offset " << at;
    }
  }
}

}  // namespace
}  // namespace labvirt
