// Fuzz target: the Docker client's HTTP/1.1 response parser (status line, headers,
// Content-Length, chunked and until-close bodies, 101 upgrades) fed in the chunks the input's
// first bytes choose, then closed (FeedEof). The result must not depend on the split: whole and
// split feeds agree on the outcome, the response and the bytes left over after a 101; and the
// streamed body (the callback) is the accumulated body.
#include <cstdint>
#include <string>

#include "providers/docker/http_parser.h"
#include "reactor/base/log.h"
#include "tests/fuzz/fuzz_input.h"

namespace labvirt::providers::docker {
namespace {

struct Outcome {
  bool ok = false;
  bool done = false;
  bool upgraded = false;
  HttpResponse response;
  std::string streamed;
  std::string leftover;
};

// Small limits so the kResourceExhausted paths are reached by short inputs.
HttpParserLimits Limits() {
  HttpParserLimits limits;
  limits.max_header_bytes = 2048;
  limits.max_line_bytes = 512;
  limits.max_body_bytes = 4096;
  return limits;
}

Outcome Parse(const fuzz::SplitInput& input, bool whole) {
  Outcome out;
  HttpResponseParser parser(/*accumulate=*/true, Limits());
  parser.SetBodyCallback([&out](std::string_view bytes) { out.streamed.append(bytes); });
  Status status;
  auto feed = [&](std::string_view chunk) {
    if (status.ok()) status = parser.Feed(chunk);
  };
  if (whole) {
    feed(input.payload());
  } else {
    input.ForEachChunk(feed);
  }
  if (status.ok() && !parser.done() && !parser.upgraded()) status = parser.FeedEof();
  out.ok = status.ok();
  out.done = parser.done();
  out.upgraded = parser.upgraded();
  if (parser.headers_complete()) {
    (void)parser.response().headers.count("content-type");
  }
  out.response = parser.TakeResponse();
  out.leftover = parser.TakeLeftover();
  return out;
}

}  // namespace
}  // namespace labvirt::providers::docker

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace labvirt::providers::docker;
  labvirt::fuzz::SplitInput input(data, size);
  Outcome whole = Parse(input, true);
  Outcome split = Parse(input, false);
  LABVIRT_FUZZ_ASSERT(whole.ok == split.ok);
  LABVIRT_FUZZ_ASSERT(whole.done == split.done && whole.upgraded == split.upgraded);
  if (whole.ok) {
    LABVIRT_FUZZ_ASSERT(whole.response.status == split.response.status);
    LABVIRT_FUZZ_ASSERT(whole.response.headers == split.response.headers);
    LABVIRT_FUZZ_ASSERT(whole.response.body == split.response.body);
    LABVIRT_FUZZ_ASSERT(whole.leftover == split.leftover);
    LABVIRT_FUZZ_ASSERT(whole.streamed == whole.response.body);
  }
  return 0;
}
