#include "providers/docker/http_parser.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace labvirt::providers::docker {

namespace {

// Quoted in error messages; a hostile line must not flood the log.
std::string Excerpt(std::string_view text) {
  constexpr size_t kMax = 80;
  std::string out(text.substr(0, kMax));
  if (text.size() > kMax) out += "...";
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// RFC 9110 token characters, for header names.
bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

HttpResponseParser::HttpResponseParser(bool accumulate, HttpParserLimits limits)
    : accumulate_(accumulate), limits_(limits) {}

bool HttpResponseParser::headers_complete() const {
  return state_ != State::kStatusLine && state_ != State::kHeaders && state_ != State::kError;
}

Status HttpResponseParser::Fail(Status status) {
  state_ = State::kError;
  error_ = status;
  return status;
}

Status HttpResponseParser::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    switch (state_) {
      case State::kError:
        return error_;
      case State::kDone:
        return Status::Ok();
      case State::kUpgraded:
        leftover_.append(bytes);
        return Status::Ok();
      case State::kBodyUntilClose:
        return DeliverBody(std::exchange(bytes, {}));
      case State::kBodyLength:
      case State::kChunkData: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, bytes.size()));
        remaining_ -= n;
        LABVIRT_RETURN_IF_ERROR(DeliverBody(bytes.substr(0, n)));
        bytes.remove_prefix(n);
        if (remaining_ == 0) {
          state_ = state_ == State::kBodyLength ? State::kDone : State::kChunkDataEnd;
        }
        break;
      }
      default: {
        Result<bool> line = TakeLine(bytes);
        if (!line.ok()) return Fail(line.status());
        if (*line) {
          LABVIRT_RETURN_IF_ERROR(OnLine());
          line_.clear();
        }
        break;
      }
    }
  }
  return Status::Ok();
}

Status HttpResponseParser::FeedEof() {
  switch (state_) {
    case State::kError:
      return error_;
    case State::kBodyUntilClose:
      state_ = State::kDone;
      return Status::Ok();
    case State::kDone:
    case State::kUpgraded:
      return Status::Ok();
    case State::kStatusLine:
      return Fail(InvalidArgument(response_.status == 0 && line_.empty()
                                      ? "HTTP: connection closed before any response"
                                      : "HTTP: connection closed in the status line"));
    case State::kHeaders:
      return Fail(InvalidArgument("HTTP: connection closed in the headers"));
    case State::kBodyLength:
      return Fail(InvalidArgument("HTTP: connection closed with " + std::to_string(remaining_) +
                                  " bytes of the body missing"));
    default:
      return Fail(InvalidArgument("HTTP: connection closed in the chunked body"));
  }
}

Result<bool> HttpResponseParser::TakeLine(std::string_view& bytes) {
  size_t nl = bytes.find('\n');
  size_t take = nl == std::string_view::npos ? bytes.size() : nl + 1;
  // The newline itself is not counted: a line of exactly the limit is allowed.
  if (line_.size() + take - (nl == std::string_view::npos ? 0 : 1) > limits_.max_line_bytes) {
    return ResourceExhausted("HTTP: line longer than " + std::to_string(limits_.max_line_bytes) +
                             " bytes: '" + Excerpt(line_ + std::string(bytes.substr(0, 100))) +
                             "'");
  }
  if (state_ == State::kStatusLine || state_ == State::kHeaders) {
    header_bytes_ += take;
    if (header_bytes_ > limits_.max_header_bytes) {
      return ResourceExhausted("HTTP: header block longer than " +
                               std::to_string(limits_.max_header_bytes) + " bytes");
    }
  }
  line_.append(bytes.substr(0, take));
  bytes.remove_prefix(take);
  if (nl == std::string_view::npos) return false;
  line_.pop_back();
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  return true;
}

Status HttpResponseParser::OnLine() {
  switch (state_) {
    case State::kStatusLine:
      return OnStatusLine();
    case State::kHeaders:
      return line_.empty() ? OnHeadersEnd() : OnHeaderLine();
    case State::kChunkSize:
      return OnChunkSizeLine();
    case State::kChunkDataEnd:
      if (!line_.empty()) {
        return Fail(InvalidArgument("HTTP: chunk data longer than its size (got '" +
                                    Excerpt(line_) + "' where CRLF belongs)"));
      }
      state_ = State::kChunkSize;
      return Status::Ok();
    case State::kTrailers:
      if (line_.empty()) state_ = State::kDone;
      return Status::Ok();
    default:
      return Status::Ok();
  }
}

Status HttpResponseParser::OnStatusLine() {
  // "HTTP/1.1 200 OK": version, a space, three digits, then a space and a reason, or nothing.
  std::string_view l = line_;
  bool ok = l.size() >= 12 && l.substr(0, 7) == "HTTP/1." &&
            std::isdigit(static_cast<unsigned char>(l[7])) && l[8] == ' ' &&
            std::all_of(l.begin() + 9, l.begin() + 12,
                        [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
            (l.size() == 12 || l[12] == ' ') && l[9] != '0';
  if (!ok) return Fail(InvalidArgument("HTTP: bad status line '" + Excerpt(l) + "'"));
  response_.status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
  response_.headers.clear();
  state_ = State::kHeaders;
  return Status::Ok();
}

Status HttpResponseParser::OnHeaderLine() {
  std::string_view l = line_;
  size_t colon = l.find(':');
  std::string_view name = l.substr(0, colon);
  if (colon == std::string_view::npos || name.empty() ||
      !std::all_of(name.begin(), name.end(), IsTokenChar)) {
    return Fail(InvalidArgument("HTTP: bad header line '" + Excerpt(l) + "'"));
  }
  std::string value(Trim(l.substr(colon + 1)));
  auto [it, inserted] = response_.headers.emplace(Lower(name), value);
  if (!inserted) it->second += ", " + value;
  return Status::Ok();
}

Status HttpResponseParser::OnHeadersEnd() {
  const int status = response_.status;
  if (status == 101) {
    state_ = State::kUpgraded;
    return Status::Ok();
  }
  if (status < 200) {  // 100 Continue, 102, 103: informational, the real reply follows
    state_ = State::kStatusLine;
    response_.status = 0;
    response_.headers.clear();
    return Status::Ok();
  }
  const auto& h = response_.headers;
  if (status == 204 || status == 304) {
    state_ = State::kDone;
    return Status::Ok();
  }
  if (auto te = h.find("transfer-encoding"); te != h.end()) {
    // Only the final coding decides the framing; Docker sends just "chunked".
    std::string codings = Lower(te->second);
    std::string_view last = codings;
    if (size_t comma = last.rfind(','); comma != std::string_view::npos) {
      last = last.substr(comma + 1);
    }
    if (Trim(last) == "chunked") {
      state_ = State::kChunkSize;
      return Status::Ok();
    }
    state_ = State::kBodyUntilClose;
    return Status::Ok();
  }
  if (auto cl = h.find("content-length"); cl != h.end()) {
    const std::string& v = cl->second;
    if (v.empty() || v.size() > 18 || !std::all_of(v.begin(), v.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        })) {
      return Fail(InvalidArgument("HTTP: Content-Length '" + Excerpt(v) +
                                  "' is not a decimal number below 10^18"));
    }
    remaining_ = std::stoull(v);
    if (accumulate_ && remaining_ > limits_.max_body_bytes) {
      return Fail(ResourceExhausted("HTTP: Content-Length " + v + " exceeds the body limit of " +
                                    std::to_string(limits_.max_body_bytes) + " bytes"));
    }
    state_ = remaining_ == 0 ? State::kDone : State::kBodyLength;
    return Status::Ok();
  }
  state_ = State::kBodyUntilClose;
  return Status::Ok();
}

Status HttpResponseParser::OnChunkSizeLine() {
  // "1a3f;ext=1": extensions are ignored.
  std::string_view size = Trim(std::string_view(line_).substr(0, line_.find(';')));
  if (size.empty() || !std::all_of(size.begin(), size.end(), [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c));
      })) {
    return Fail(InvalidArgument("HTTP: chunk size '" + Excerpt(size) + "' is not hex"));
  }
  if (size.size() > 15) {
    return Fail(InvalidArgument("HTTP: chunk size '" + Excerpt(size) + "' is too large"));
  }
  remaining_ = std::stoull(std::string(size), nullptr, 16);
  state_ = remaining_ == 0 ? State::kTrailers : State::kChunkData;
  return Status::Ok();
}

Status HttpResponseParser::DeliverBody(std::string_view bytes) {
  if (bytes.empty()) return Status::Ok();
  if (accumulate_) {
    if (response_.body.size() + bytes.size() > limits_.max_body_bytes) {
      return Fail(ResourceExhausted("HTTP: body longer than " +
                                    std::to_string(limits_.max_body_bytes) + " bytes"));
    }
    response_.body.append(bytes);
  }
  if (on_body_) on_body_(bytes);
  return Status::Ok();
}

}  // namespace labvirt::providers::docker
