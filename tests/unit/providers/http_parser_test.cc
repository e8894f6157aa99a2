// HttpResponseParser on whole inputs, at every split point and byte by byte, and on bad input.
#include "providers/docker/http_parser.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace labvirt::providers::docker {
namespace {

struct Parsed {
  Status status;
  bool done = false;
  bool upgraded = false;
  HttpResponse response;
  std::string streamed;  // what the body callback saw
  std::string leftover;
};

// Feeds `input` in pieces cut at `cuts` (ascending offsets), then EOF when `eof`.
Parsed Parse(std::string_view input, const std::vector<size_t>& cuts, bool eof,
             HttpParserLimits limits = {}) {
  Parsed p;
  HttpResponseParser parser(true, limits);
  parser.SetBodyCallback([&p](std::string_view b) { p.streamed.append(b); });
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t to : ends) {
    p.status = parser.Feed(input.substr(from, to - from));
    from = to;
    if (!p.status.ok()) break;
  }
  if (p.status.ok() && eof) p.status = parser.FeedEof();
  p.done = parser.done();
  p.upgraded = parser.upgraded();
  p.response = parser.response();
  p.leftover = parser.leftover();
  return p;
}

// Parses whole, split once at every offset and byte by byte; all must agree. Returns the result.
Parsed ParseEverySplit(std::string_view input, bool eof = false) {
  Parsed whole = Parse(input, {}, eof);
  std::vector<size_t> bytewise;
  for (size_t i = 1; i < input.size(); ++i) {
    Parsed split = Parse(input, {i}, eof);
    EXPECT_EQ(split.status.ToString(), whole.status.ToString()) << "split at " << i;
    EXPECT_EQ(split.response.body, whole.response.body) << "split at " << i;
    EXPECT_EQ(split.streamed, whole.streamed) << "split at " << i;
    EXPECT_EQ(split.leftover, whole.leftover) << "split at " << i;
    EXPECT_EQ(split.done, whole.done) << "split at " << i;
    bytewise.push_back(i);
  }
  Parsed bytes = Parse(input, bytewise, eof);
  EXPECT_EQ(bytes.status.ToString(), whole.status.ToString());
  EXPECT_EQ(bytes.response.body, whole.response.body);
  EXPECT_EQ(bytes.response.headers, whole.response.headers);
  EXPECT_EQ(bytes.leftover, whole.leftover);
  return whole;
}

TEST(HttpParserTest, ContentLength) {
  Parsed p = ParseEverySplit(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n"
      "Api-Version:  1.41 \r\n\r\n{\"ok\": true}\n");
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_TRUE(p.done);
  EXPECT_EQ(p.response.status, 200);
  EXPECT_EQ(p.response.body, "{\"ok\": true}\n");
  EXPECT_EQ(p.streamed, p.response.body);
  EXPECT_EQ(p.response.headers.at("content-type"), "application/json");
  EXPECT_EQ(p.response.headers.at("api-version"), "1.41");
}

TEST(HttpParserTest, NoBodyAndBareLf) {
  Parsed p = ParseEverySplit("HTTP/1.1 204 No Content\nServer: Docker\n\n");
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_TRUE(p.done);
  EXPECT_EQ(p.response.status, 204);
  EXPECT_EQ(p.response.headers.at("server"), "Docker");
  Parsed zero = ParseEverySplit("HTTP/1.0 304\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(zero.done);
  EXPECT_EQ(zero.response.status, 304);
}

TEST(HttpParserTest, ChunkedWithExtensionsAndTrailers) {
  Parsed p = ParseEverySplit(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
      "5;name=x\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n");
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_TRUE(p.done);
  EXPECT_EQ(p.response.body, "helloabcdefghijklmnopqrstuvwxyz");
  EXPECT_EQ(p.streamed, p.response.body);
}

TEST(HttpParserTest, BodyUntilClose) {
  std::string input = "HTTP/1.1 200 OK\r\n\r\nraw bytes";
  Parsed open = Parse(input, {}, false);
  EXPECT_FALSE(open.done);
  EXPECT_EQ(open.streamed, "raw bytes");
  Parsed p = ParseEverySplit(input, /*eof=*/true);
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_TRUE(p.done);
  EXPECT_EQ(p.response.body, "raw bytes");
}

TEST(HttpParserTest, UpgradeLeavesTheRestToTheCaller) {
  Parsed p = ParseEverySplit(
      "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
      "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello\r\nHTTP/1.1 junk");
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_TRUE(p.upgraded);
  EXPECT_FALSE(p.done);
  EXPECT_EQ(p.response.status, 101);
  EXPECT_EQ(p.leftover, "hello\r\nHTTP/1.1 junk");
  EXPECT_TRUE(p.streamed.empty());
}

TEST(HttpParserTest, SkipsInformationalReplies) {
  Parsed p = ParseEverySplit(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
      "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}");
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  EXPECT_EQ(p.response.status, 404);
  EXPECT_EQ(p.response.headers.count("link"), 0u);
  EXPECT_EQ(p.response.body, "{}");
}

TEST(HttpParserTest, RepeatedHeadersAreJoined) {
  Parsed p = ParseEverySplit("HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(p.response.headers.at("x-a"), "1, 2");
}

TEST(HttpParserTest, IgnoresBytesAfterTheResponse) {
  Parsed p = Parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxyz", {}, true);
  ASSERT_TRUE(p.status.ok());
  EXPECT_EQ(p.response.body, "x");
}

void ExpectError(std::string_view input, StatusCode code, std::string_view message,
                 bool eof = false, HttpParserLimits limits = {}) {
  Parsed p = Parse(input, {}, eof, limits);
  EXPECT_EQ(p.status.code(), code) << p.status.ToString();
  EXPECT_NE(p.status.message().find(message), std::string::npos) << p.status.ToString();
  std::vector<size_t> bytewise;
  for (size_t i = 1; i < input.size(); ++i) bytewise.push_back(i);
  Parsed bytes = Parse(input, bytewise, eof, limits);
  EXPECT_EQ(bytes.status.ToString(), p.status.ToString());
}

TEST(HttpParserTest, BadStatusLines) {
  ExpectError("HTTP/2 200 OK\r\n\r\n", StatusCode::kInvalidArgument,
              "HTTP: bad status line 'HTTP/2 200 OK'");
  ExpectError("HTTP/1.1 20 OK\r\n\r\n", StatusCode::kInvalidArgument, "bad status line");
  ExpectError("HTTP/1.1 2000\r\n\r\n", StatusCode::kInvalidArgument, "bad status line");
  ExpectError("SSH-2.0-OpenSSH\r\n", StatusCode::kInvalidArgument, "bad status line");
  ExpectError("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", StatusCode::kInvalidArgument,
              "HTTP: bad header line 'no colon'");
  ExpectError("HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n", StatusCode::kInvalidArgument,
              "bad header line");
}

TEST(HttpParserTest, BadChunkSizes) {
  std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  ExpectError(head + "zz\r\n", StatusCode::kInvalidArgument, "HTTP: chunk size 'zz' is not hex");
  ExpectError(head + "\r\n", StatusCode::kInvalidArgument, "chunk size '' is not hex");
  ExpectError(head + "-1\r\n", StatusCode::kInvalidArgument, "chunk size '-1' is not hex");
  ExpectError(head + "ffffffffffffffffff\r\n", StatusCode::kInvalidArgument, "is too large");
  ExpectError(head + "2\r\nabc\r\n", StatusCode::kInvalidArgument, "chunk data longer");
}

TEST(HttpParserTest, BadContentLengths) {
  ExpectError("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", StatusCode::kInvalidArgument,
              "HTTP: Content-Length '-1' is not a decimal number");
  ExpectError("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
              StatusCode::kInvalidArgument, "is not a decimal number");
  ExpectError("HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", StatusCode::kInvalidArgument,
              "is not a decimal number");
  ExpectError("HTTP/1.1 200 OK\r\nContent-Length: 67108865\r\n\r\n", StatusCode::kResourceExhausted,
              "exceeds the body limit");
}

TEST(HttpParserTest, Limits) {
  std::string long_header = "HTTP/1.1 200 OK\r\nX: " + std::string(8200, 'a') + "\r\n\r\n";
  ExpectError(long_header, StatusCode::kResourceExhausted, "HTTP: line longer than 8192 bytes");
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 100; ++i) many += "X-" + std::to_string(i) + ": " + std::string(700, 'b');
  ExpectError(many, StatusCode::kResourceExhausted, "line longer");
  many = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 100; ++i)
    many += "X-" + std::to_string(i) + ": " + std::string(700, 'b') + "\n";
  ExpectError(many, StatusCode::kResourceExhausted, "HTTP: header block longer than 65536 bytes");
  HttpParserLimits small;
  small.max_body_bytes = 4;
  ExpectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n",
              StatusCode::kResourceExhausted, "HTTP: body longer than 4 bytes", false, small);
}

TEST(HttpParserTest, EofInTheMiddle) {
  ExpectError("", StatusCode::kInvalidArgument, "connection closed before any response", true);
  ExpectError("HTTP/1.1 2", StatusCode::kInvalidArgument, "closed in the status line", true);
  ExpectError("HTTP/1.1 200 OK\r\nA: b", StatusCode::kInvalidArgument, "closed in the headers",
              true);
  ExpectError("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", StatusCode::kInvalidArgument,
              "closed with 7 bytes of the body missing", true);
  ExpectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
              StatusCode::kInvalidArgument, "closed in the chunked body", true);
}

TEST(HttpParserTest, ErrorsAreSticky) {
  HttpResponseParser parser;
  EXPECT_FALSE(parser.Feed("garbage\r\n").ok());
  EXPECT_FALSE(parser.Feed("HTTP/1.1 200 OK\r\n\r\n").ok());
  EXPECT_FALSE(parser.FeedEof().ok());
}

TEST(HttpParserTest, StreamsWithoutAccumulating) {
  HttpResponseParser parser(/*accumulate=*/false);
  std::string seen;
  parser.SetBodyCallback([&seen](std::string_view b) { seen.append(b); });
  ASSERT_TRUE(
      parser.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n").ok());
  EXPECT_TRUE(parser.headers_complete());
  EXPECT_EQ(seen, "abc");
  EXPECT_TRUE(parser.response().body.empty());
}

}  // namespace
}  // namespace labvirt::providers::docker
