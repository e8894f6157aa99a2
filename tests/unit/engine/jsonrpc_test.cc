#include "engine/control/jsonrpc.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

// What a framer makes of `chunks`: each line as it is, and "<too long>" for an oversized one.
std::vector<std::string> Frames(LineFramer& framer, const std::vector<std::string>& chunks) {
  std::vector<std::string> out;
  for (const std::string& chunk : chunks) {
    std::string_view data = chunk;
    while (auto f = framer.Next(data)) {
      out.push_back(f->kind == LineFramer::Frame::Kind::kTooLong ? "<too long>"
                                                                 : std::string(f->line));
    }
    EXPECT_TRUE(data.empty());
  }
  return out;
}

TEST(LineFramerTest, SameLinesWhereverTheStreamIsSplit) {
  const std::string stream = "{\"a\":1}\n\r\n\nsecond\r\nthird line\nrest";
  const std::vector<std::string> want = {"{\"a\":1}", "second", "third line"};
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    LineFramer framer(100);
    EXPECT_EQ(Frames(framer, {stream.substr(0, cut), stream.substr(cut)}), want) << cut;
    EXPECT_EQ(framer.TakePartial(), "rest") << cut;
    EXPECT_EQ(framer.TakePartial(), "");
  }
}

TEST(LineFramerTest, OneByteAtATime) {
  const std::string stream = "ab\ncd\n";
  LineFramer framer(100);
  std::vector<std::string> chunks;
  for (char c : stream) chunks.push_back(std::string(1, c));
  EXPECT_EQ(Frames(framer, chunks), (std::vector<std::string>{"ab", "cd"}));
}

TEST(LineFramerTest, OversizedLineIsReportedOnceAndSkipped) {
  LineFramer framer(4);
  EXPECT_EQ(Frames(framer, {"abcd\nabcde\nok\n"}),
            (std::vector<std::string>{"abcd", "<too long>", "ok"}));
  // Reported as soon as the limit is passed, before its newline; the rest of it is dropped.
  EXPECT_EQ(Frames(framer, {"abc", "de"}), (std::vector<std::string>{"<too long>"}));
  EXPECT_EQ(Frames(framer, {"fgh", "ijk\nnext\n"}), (std::vector<std::string>{"next"}));
  EXPECT_EQ(framer.TakePartial(), "");
}

TEST(LineFramerTest, EmbeddedNulIsPartOfTheLine) {
  LineFramer framer(100);
  const std::string chunk("a\0b\n", 4);
  EXPECT_EQ(Frames(framer, {chunk}), (std::vector<std::string>{std::string("a\0b", 3)}));
}

TEST(LineFramerTest, PartialThenTakenKeepsTheBytes) {
  LineFramer framer(100);
  EXPECT_EQ(Frames(framer, {"{\"id\":1}\nraw console", " bytes"}),
            (std::vector<std::string>{"{\"id\":1}"}));
  EXPECT_EQ(framer.TakePartial(), "raw console bytes");
}

Request MustDecode(RequestDecoder& d, std::string_view line) {
  auto r = d.Decode(line);
  if (auto* bad = std::get_if<EnvelopeError>(&r)) {
    ADD_FAILURE() << line << ": " << bad->error.message << " " << bad->error.data_json;
    return Request{};
  }
  return std::get<Request>(r);
}

TEST(RequestDecoderTest, Envelopes) {
  RequestDecoder d;
  Request r = MustDecode(d, R"({"jsonrpc":"2.0","id":7,"method":"node.get","params":{"a":1}})");
  EXPECT_TRUE(r.has_id);
  EXPECT_EQ(r.id_json, "7");
  EXPECT_EQ(r.method, "node.get");
  EXPECT_TRUE(r.params.is_object());

  r = MustDecode(d, R"({"jsonrpc":"2.0","id":"x y","method":"m","params":[]})");
  EXPECT_EQ(r.id_json, "\"x y\"");
  EXPECT_TRUE(r.params.is_array());

  r = MustDecode(d, R"({"jsonrpc":"2.0","id":null,"method":"m"})");
  EXPECT_TRUE(r.has_id);
  EXPECT_EQ(r.id_json, "null");
  EXPECT_TRUE(r.params.is_null()) << "absent params read as null";

  r = MustDecode(d, R"(  {"method":"m","jsonrpc":"2.0"}  )");
  EXPECT_FALSE(r.has_id) << "a notification";
  EXPECT_EQ(r.id_json, "null");

  r = MustDecode(d, R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"m"})");
  EXPECT_EQ(r.id_json, "18446744073709551615");
}

struct BadRequest {
  std::string line;
  int code;
  std::string field;
  std::string id_json;  // the id the error is answered with
};

TEST(RequestDecoderTest, BadInputNamesTheField) {
  const std::vector<BadRequest> cases = {
      {"", kParseError, "request", "null"},
      {R"({"jsonrpc":"2.0","id":1,"method":"m")", kParseError, "request", "null"},  // truncated
      {R"({"jsonrpc":"2.0","id":1,"method":"m"}})", kParseError, "request", "null"},
      {"not json", kParseError, "request", "null"},
      {"[1,2]", kInvalidRequest, "request", "null"},
      {"42", kInvalidRequest, "request", "null"},
      {R"({"jsonrpc":"2.0","id":1.5,"method":"m"})", kInvalidRequest, "id", "null"},
      {R"({"jsonrpc":"2.0","id":true,"method":"m"})", kInvalidRequest, "id", "null"},
      {R"({"jsonrpc":"2.0","id":{},"method":"m"})", kInvalidRequest, "id", "null"},
      {R"({"jsonrpc":"2.0","id":[1],"method":"m"})", kInvalidRequest, "id", "null"},
      {R"({"id":3,"method":"m"})", kInvalidRequest, "jsonrpc", "3"},
      {R"({"jsonrpc":"1.0","id":3,"method":"m"})", kInvalidRequest, "jsonrpc", "3"},
      {R"({"jsonrpc":2.0,"id":3,"method":"m"})", kInvalidRequest, "jsonrpc", "3"},
      {R"({"jsonrpc":"2.0","id":"a","params":{}})", kInvalidRequest, "method", "\"a\""},
      {R"({"jsonrpc":"2.0","id":"a","method":5})", kInvalidRequest, "method", "\"a\""},
      {R"({"jsonrpc":"2.0","id":"a","method":null})", kInvalidRequest, "method", "\"a\""},
      {R"({"jsonrpc":"2.0","id":4,"method":"m","params":"x"})", kInvalidParams, "params", "4"},
      {R"({"jsonrpc":"2.0","id":4,"method":"m","params":1})", kInvalidParams, "params", "4"},
      {R"({"jsonrpc":"2.0","id":4,"method":"m","params":null})", kInvalidParams, "params", "4"},
      {R"({"jsonrpc":"2.0","method":"m","params":true})", kInvalidParams, "params", "null"},
  };
  RequestDecoder d;
  for (const auto& c : cases) {
    auto r = d.Decode(c.line);
    ASSERT_TRUE(std::holds_alternative<EnvelopeError>(r)) << c.line;
    const EnvelopeError& bad = std::get<EnvelopeError>(r);
    EXPECT_EQ(bad.error.code, c.code) << c.line;
    EXPECT_EQ(bad.id_json, c.id_json) << c.line;
    EXPECT_NE(bad.error.data_json.find("\"field\":\"" + c.field + "\""), std::string::npos)
        << c.line << " -> " << bad.error.data_json;
  }
}

TEST(RequestDecoderTest, EmbeddedNulIsAParseError) {
  RequestDecoder d;
  const std::string line =
      std::string(R"({"jsonrpc":"2.0","id":1,)") + '\0' + std::string(R"("method":"m"})");
  ASSERT_EQ(line.size(), 38u);
  auto r = d.Decode(line);
  ASSERT_TRUE(std::holds_alternative<EnvelopeError>(r));
  EXPECT_EQ(std::get<EnvelopeError>(r).error.code, kParseError);
}

TEST(RequestDecoderTest, ReusedForLongThenShortLines) {
  RequestDecoder d;
  std::string big = R"({"jsonrpc":"2.0","id":1,"method":"m","params":{"pad":")" +
                    std::string(100000, 'x') + "\"}}";
  EXPECT_EQ(MustDecode(d, big).params["pad"].get_string().value().size(), 100000u);
  Request r = MustDecode(d, R"({"jsonrpc":"2.0","id":2,"method":"short"})");
  EXPECT_EQ(r.method, "short");
  EXPECT_EQ(r.id_json, "2");
}

TEST(JsonRpcTest, AnswersByteForByte) {
  EXPECT_EQ(ResultResponse("7", R"({"a":1})"), R"({"jsonrpc":"2.0","id":7,"result":{"a":1}})");
  EXPECT_EQ(ErrorResponse("\"x\"", RpcError{kMethodNotFound, "method not found", ""}),
            R"({"jsonrpc":"2.0","id":"x","error":{"code":-32601,"message":"method not found"}})");
  EXPECT_EQ(ErrorResponse("null", FieldError(kInvalidParams, "invalid params", "lab", "no \"x\"")),
            R"({"jsonrpc":"2.0","id":null,"error":{"code":-32602,"message":"invalid params",)"
            R"("data":{"field":"lab","reason":"no \"x\""}}})");
  EXPECT_EQ(Notification("event", R"({"type":"t"})"),
            R"({"jsonrpc":"2.0","method":"event","params":{"type":"t"}})");
  EXPECT_EQ(RequestLine(1000, "lab.get", R"({"lab":"a"})"),
            R"({"jsonrpc":"2.0","id":1000,"method":"lab.get","params":{"lab":"a"}})");
  EXPECT_EQ(RequestLine(1, "a\"b", "{}"), R"({"jsonrpc":"2.0","id":1,"method":"a\"b","params":{}})")
      << "the method is escaped";
}

TEST(JsonRpcTest, RequestLineDecodesBack) {
  RequestDecoder d;
  Request r = MustDecode(d, RequestLine(12, "node.start", R"({"lab":"l","node":"n"})"));
  EXPECT_EQ(r.id_json, "12");
  EXPECT_EQ(r.method, "node.start");
  EXPECT_EQ(r.params["node"].get_string().value(), "n");
}

TEST(ResponseDecoderTest, ResultsErrorsAndNotifications) {
  ResponseDecoder d;
  auto ok = d.Decode(R"({"jsonrpc":"2.0","id":5,"result":[1,2]})");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok);
  EXPECT_EQ(ok->id, 5);
  EXPECT_EQ(simdjson::minify(ok->result), "[1,2]");

  auto err = d.Decode(R"({"id":"s","result":1,"error":{"code":-1,"message":"m"}})");
  ASSERT_TRUE(err.ok());
  EXPECT_FALSE(err->ok) << "error wins over result";
  EXPECT_FALSE(err->id.has_value()) << "a string id is not labvirtctl's";
  EXPECT_EQ(ErrorWords(err->error), "m");

  auto note = d.Decode(R"({"jsonrpc":"2.0","method":"event","params":{}})");
  EXPECT_EQ(note.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(d.Decode(R"({"id":1,"res)").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(d.Decode("[1]").status().code(), StatusCode::kNotFound);

  EXPECT_TRUE(d.IsAnswerTo(R"({"jsonrpc":"2.0","id":1000,"result":{}})", 1000));
  EXPECT_FALSE(d.IsAnswerTo(R"({"jsonrpc":"2.0","id":1001,"result":{}})", 1000));
  EXPECT_FALSE(d.IsAnswerTo(R"({"method":"event","params":{"id":1000,"x":1}})", 1000));
  EXPECT_FALSE(d.IsAnswerTo("garbage", 1000));
}

TEST(ResponseDecoderTest, ErrorWords) {
  ResponseDecoder d;
  auto words = [&](std::string_view line) { return ErrorWords(d.Decode(line)->error); };
  EXPECT_EQ(words(R"({"id":1,"error":{"code":-32602,"message":"not found",)"
                  R"("data":{"field":"lab","reason":"no lab named 'x'"}}})"),
            "not found: no lab named 'x'");
  EXPECT_EQ(words(R"({"id":1,"error":{"code":-1,"message":"m","data":{}}})"), "m");
  EXPECT_EQ(words(R"({"id":1,"error":{"code":-1}})"), R"({"code":-1})");
}

}  // namespace
}  // namespace labvirt::engine
