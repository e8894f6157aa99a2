// HttpResponseParser: an incremental HTTP/1.1 response parser for the Docker client. Pure, no I/O.
//
// Why our own: Debian 12 has no C package of llhttp (only node-llhttp, JavaScript sources), and
// its libhttp-parser-dev (2.9.4) is nodejs/http-parser, archived upstream and unmaintained since
// llhttp replaced it. Docker's replies need a small subset: a status line, headers, a body by
// Content-Length, chunked or until close, and `101` for attach's hijacked stream.
//
// Feed() takes bytes split anywhere (one at a time works). Header names are stored lower-case;
// a repeated header's values are joined with ", ". 1xx replies other than 101 are skipped. After
// `101 Switching Protocols` the parser stops: the bytes after the header block are leftover() for
// the caller. Responses to HEAD are not supported (labvirt never sends HEAD).
//
// Errors are sticky and name what was wrong ("HTTP: chunk size 'zz' is not hex"):
// kInvalidArgument for malformed input, kResourceExhausted past a limit.
#ifndef LABVIRT_PROVIDERS_DOCKER_HTTP_PARSER_H_
#define LABVIRT_PROVIDERS_DOCKER_HTTP_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "reactor/base/status.h"

namespace labvirt::providers::docker {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
};

struct HttpParserLimits {
  size_t max_header_bytes = 64 * 1024;  // the whole header block, status line included
  size_t max_line_bytes = 8 * 1024;     // one header, status or chunk-size line
  size_t max_body_bytes = 64u << 20;    // the accumulated body (not the streamed one)
};

class HttpResponseParser {
 public:
  // Body bytes as they arrive; the view is valid only during the call. The callback must not
  // destroy the parser or call Feed().
  using BodyCallback = std::function<void(std::string_view bytes)>;

  // With `accumulate`, body bytes are also collected into response().body (up to the limit).
  explicit HttpResponseParser(bool accumulate = true, HttpParserLimits limits = {});

  void SetBodyCallback(BodyCallback cb) { on_body_ = std::move(cb); }

  // Parses `bytes`. Bytes after a complete response are ignored; after a 101 they are appended
  // to leftover().
  Status Feed(std::string_view bytes);
  // The peer closed the connection: completes a body delimited by close, else an error naming
  // where the stream ended.
  Status FeedEof();

  // The response is complete (not after a 101: see upgraded()).
  bool done() const { return state_ == State::kDone; }
  // A 101 arrived; the connection now carries another protocol.
  bool upgraded() const { return state_ == State::kUpgraded; }
  // The status line and headers arrived (so response().status and headers are final).
  bool headers_complete() const;
  const HttpResponse& response() const { return response_; }
  HttpResponse TakeResponse() { return std::move(response_); }
  const std::string& leftover() const { return leftover_; }
  std::string TakeLeftover() { return std::move(leftover_); }

 private:
  enum class State {
    kStatusLine,
    kHeaders,
    kBodyLength,
    kBodyUntilClose,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kDone,
    kUpgraded,
    kError,
  };

  // Consumes bytes up to a '\n' into line_; true when a whole line (without CR LF) is in line_.
  Result<bool> TakeLine(std::string_view& bytes);
  Status OnLine();
  Status OnStatusLine();
  Status OnHeaderLine();
  Status OnHeadersEnd();
  Status OnChunkSizeLine();
  Status DeliverBody(std::string_view bytes);
  Status Fail(Status status);

  const bool accumulate_;
  const HttpParserLimits limits_;
  State state_ = State::kStatusLine;
  HttpResponse response_;
  std::string line_;
  size_t header_bytes_ = 0;
  uint64_t remaining_ = 0;  // of the Content-Length body or the current chunk
  std::string leftover_;
  Status error_;
  BodyCallback on_body_;
};

}  // namespace labvirt::providers::docker

#endif  // LABVIRT_PROVIDERS_DOCKER_HTTP_PARSER_H_
