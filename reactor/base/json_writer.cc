#include "reactor/base/json_writer.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "reactor/base/log.h"

namespace labvirt {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  }
  if (len == 2 && c < 0xC2) return 0;                       // overlong
  if (len == 3 && c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
  if (len == 3 && c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogates
  if (len == 4 && (c > 0xF4 || (c == 0xF0 && b(i + 1) < 0x90) || (c == 0xF4 && b(i + 1) >= 0x90))) {
    return 0;
  }
  return len;
}

// kPlain[c]: byte c is copied as it is (printable ASCII other than the quote and the backslash).
constexpr auto kPlain = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x80; ++c) plain[c] = c != '"' && c != '\\';
  return plain;
}();

// The end of the run of plain bytes starting at v[i]: 16 bytes per step where SSE2 is there (every
// x86-64), since every string of every reply passes here.
size_t PlainRun(std::string_view v, size_t i) {
#ifdef __SSE2__
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  while (i + 16 <= v.size()) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v.data() + i));
    // Signed: bytes >= 0x80 are negative, so one compare catches them and the controls.
    const __m128i special =
        _mm_or_si128(_mm_cmplt_epi8(x, space),
                     _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(special));
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(mask));
    i += 16;
  }
#endif
  while (i < v.size() && kPlain[static_cast<unsigned char>(v[i])]) ++i;
  return i;
}

// Writes `v` quoted and escaped through `put(const char*, size_t)`.
template <typename Put>
void QuoteInto(std::string_view v, Put put) {
  put("\"", 1);
  for (size_t i = 0; i < v.size();) {
    const size_t run = PlainRun(v, i);  // most strings are one plain run
    if (run > i) {
      put(v.data() + i, run - i);
      i = run;
      continue;
    }
    const auto c = static_cast<unsigned char>(v[i]);
    if (c >= 0x80) {
      const size_t len = Utf8SequenceLength(v, i);
      if (len == 0) {
        put("\xEF\xBF\xBD", 3);  // U+FFFD for an invalid byte
        ++i;
      } else {
        put(v.data() + i, len);
        i += len;
      }
      continue;
    }
    char esc[8] = {'\\', 0};
    switch (c) {
      case '"':
      case '\\':
        esc[1] = static_cast<char>(c);
        break;
      case '\n':
        esc[1] = 'n';
        break;
      case '\r':
        esc[1] = 'r';
        break;
      case '\t':
        esc[1] = 't';
        break;
      case '\b':
        esc[1] = 'b';
        break;
      case '\f':
        esc[1] = 'f';
        break;
      default:  // the other control characters
        std::snprintf(esc, sizeof esc, "\\u%04x", c);
        put(esc, 6);
        ++i;
        continue;
    }
    put(esc, 2);
    ++i;
  }
  put("\"", 1);
}

}  // namespace

void JsonWriter::AppendQuoted(std::string& out, std::string_view v) {
  QuoteInto(v, [&out](const char* p, size_t n) { out.append(p, n); });
}

void JsonWriter::Quote(std::string_view v) {
  QuoteInto(v, [this](const char* p, size_t n) { Put(std::string_view(p, n)); });
}

void JsonWriter::Grow(size_t n) {
  // Doubling from room for a typical reply (a node object is about 1.3 KB).
  buf_.resize(std::max({buf_.size() * 2, len_ + n, size_t{2048}}));
}

const std::string& JsonWriter::str() const {
  buf_.resize(len_);
  return buf_;
}

std::string JsonWriter::Take() {
  buf_.resize(len_);
  len_ = 0;
  return std::move(buf_);
}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (depth_ > 0) {
    const uint64_t bit = uint64_t{1} << (depth_ - 1);
    if (has_value_ & bit) Put(',');
    has_value_ |= bit;
  }
}

void JsonWriter::Open(char bracket) {
  BeforeValue();
  LABVIRT_CHECK(depth_ < kMaxDepth);
  Put(bracket);
  ++depth_;
  has_value_ &= ~(uint64_t{1} << (depth_ - 1));
}

void JsonWriter::Close(char bracket) {
  Put(bracket);
  --depth_;
}

JsonWriter& JsonWriter::BeginObject() {
  Open('{');
  return *this;
}

JsonWriter& JsonWriter::EndObject() {
  Close('}');
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  Open('[');
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  Close(']');
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
  BeforeValue();
  Quote(key);
  Put(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view value) {
  BeforeValue();
  Quote(value);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t value) {
  BeforeValue();
  char buf[24];
  Put(std::string_view(buf, std::to_chars(buf, buf + sizeof buf, value).ptr - buf));
  return *this;
}

JsonWriter& JsonWriter::Uint(uint64_t value) {
  BeforeValue();
  char buf[24];
  Put(std::string_view(buf, std::to_chars(buf, buf + sizeof buf, value).ptr - buf));
  return *this;
}

JsonWriter& JsonWriter::Double(double value) {
  BeforeValue();
  if (!std::isfinite(value)) {
    Put("null");  // JSON has no NaN or infinity
    return *this;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  Put(buf);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool value) {
  BeforeValue();
  Put(value ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::Null() {
  BeforeValue();
  Put("null");
  return *this;
}

JsonWriter& JsonWriter::Raw(std::string_view json) {
  BeforeValue();
  Put(json);
  return *this;
}

}  // namespace labvirt
