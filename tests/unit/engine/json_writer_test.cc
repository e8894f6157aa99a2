#include "engine/json_writer.h"

#include <simdjson.h>

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

TEST(JsonWriterTest, NestedContainersAndCommas) {
  JsonWriter w;
  w.BeginObject().Key("a").Int(-1).Key("b").BeginArray().Bool(true).Null().Uint(7).EndArray();
  w.Key("c").BeginObject().EndObject().Key("d").Double(0.5).EndObject();
  EXPECT_EQ(w.str(), R"({"a":-1,"b":[true,null,7],"c":{},"d":0.5})");
}

TEST(JsonWriterTest, EscapesEveryControlCharacterAndQuotes) {
  std::string all;
  for (int c = 0; c < 0x20; ++c) all += static_cast<char>(c);
  all += "\"\\/";
  std::string out;
  JsonWriter::AppendQuoted(out, all);
  simdjson::dom::parser parser;
  simdjson::dom::element el;
  ASSERT_EQ(parser.parse(out).get(el), simdjson::SUCCESS) << out;
  EXPECT_EQ(std::string(el.get_string().value()), all);
}

TEST(JsonWriterTest, InvalidUtf8BecomesReplacementCharacter) {
  std::string out;
  JsonWriter::AppendQuoted(out, "ok\xff\xc3(\xe2\x82\xac\xed\xa0\x80");
  simdjson::dom::parser parser;
  simdjson::dom::element el;
  ASSERT_EQ(parser.parse(out).get(el), simdjson::SUCCESS) << out;
  // Valid "€" is kept; each invalid byte becomes U+FFFD.
  EXPECT_NE(out.find("\xe2\x82\xac"), std::string::npos);
  EXPECT_NE(out.find("\xef\xbf\xbd"), std::string::npos);
}

TEST(JsonWriterTest, NonFiniteDoublesAreNull) {
  JsonWriter w;
  w.BeginArray().Double(1.0 / 0.0).EndArray();
  EXPECT_EQ(w.str(), "[null]");
}

}  // namespace
}  // namespace labvirt::engine
