#include "engine/console/vt100_stripper.h"

#include <algorithm>
#include <array>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace labvirt::engine {
namespace {

constexpr unsigned char kEsc = 0x1b;
constexpr unsigned char kBel = 0x07;

// True for bytes that end a run of plain text: C0 controls except TAB, and DEL. LF is special
// too because it is kept but must also end sequences; handling it in Step() keeps one path.
constexpr std::array<bool, 256> MakeSpecialTable() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = c != '\t';
  t[0x7f] = true;
  return t;
}
constexpr std::array<bool, 256> kSpecial = MakeSpecialTable();

constexpr uint64_t kOnes = ~uint64_t{0} / 255;  // 0x0101…01

// True when some byte of `w` is below 0x20 or equals 0x7f (SWAR: "Bit Twiddling Hacks",
// haszero/hasless). May flag TAB too; the caller sorts that out.
inline bool MaybeSpecial(uint64_t w) {
  uint64_t below = (w - kOnes * 0x20) & ~w & (kOnes * 0x80);
  uint64_t del = w ^ (kOnes * 0x7f);
  uint64_t is_del = (del - kOnes) & ~del & (kOnes * 0x80);
  return (below | is_del) != 0;
}

// Copies plain text from p[i, n) to dst, dropping CRs (counted in *dropped) and keeping LF and
// TAB, until the first other special byte (or n); returns that byte's index and advances `*dst`
// past the copied bytes. Each step stores a whole block before looking at it, so a run costs no
// call per run: the bytes past a special one are rewritten by what follows. Safe because the
// output never outgrows the input: dst + (n - i) stays inside the buffer the caller sized to the
// input.
inline size_t CopyText(const unsigned char* p, size_t i, size_t n, char** dst, uint64_t* dropped) {
  char* d = *dst;
  while (true) {
#ifdef __SSE2__
    const __m128i c1f = _mm_set1_epi8(0x1f);
    const __m128i c7f = _mm_set1_epi8(0x7f);
    while (i + 16 <= n) {
      __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d), x);
      // Unsigned x <= 0x1f  <=>  min(x, 0x1f) == x.
      __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, c1f), x);
      unsigned mask =
          static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(x, c7f))));
      // LF and TAB are text here (already stored); a CR is cut out by restarting the block just
      // past it. Anything else goes back to the caller's state machine.
      size_t k = 16;
      while (mask != 0) {
        const size_t at = static_cast<size_t>(__builtin_ctz(mask));
        const unsigned char c = p[i + at];
        if (c != '\n' && c != '\t') {
          k = at;
          break;
        }
        mask &= mask - 1;
      }
      if (k == 16) {
        i += 16;
        d += 16;
        continue;
      }
      i += k;
      d += k;
      if (p[i] != '\r') {
        *dst = d;
        return i;
      }
      ++*dropped;
      ++i;
    }
#endif
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (MaybeSpecial(w)) break;
      std::memcpy(d, &w, 8);
      i += 8;
      d += 8;
    }
    const size_t stop = std::min(n, i + 8);
    while (i < stop && !kSpecial[p[i]]) *d++ = static_cast<char>(p[i++]);
    if (i < stop || i == n) {
      *dst = d;
      return i;
    }
    // Only a TAB set the word's flag: carry on.
  }
}

}  // namespace

void Vt100Stripper::Reset() {
  state_ = State::kText;
  sequence_length_ = 0;
}

void Vt100Stripper::Feed(std::string_view in, std::string* out) {
  const size_t base = out->size();
  out->resize(base + in.size());
  out->resize(base + Feed(in, out->data() + base));
}

size_t Vt100Stripper::Feed(std::string_view in, char* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  char* d = out;
  size_t i = 0;
  while (i < n) {
    if (state_ == State::kText) {
      // Fast path: console output is mostly plain text with CR LF line ends.
      i = CopyText(p, i, n, &d, &dropped_);
      if (i == n) break;
      if (p[i] == '\r') {
        ++dropped_;
        ++i;
        continue;
      }
      if (p[i] == '\n') {
        *d++ = '\n';
        ++i;
        continue;
      }
    }
    if (Step(p[i])) *d++ = '\n';
    ++i;
  }
  return static_cast<size_t>(d - out);
}

bool Vt100Stripper::Step(unsigned char c) {
  // LF ends every sequence and is always kept: an unterminated escape can cost at most the rest
  // of its line, and line-start anchors keep working.
  if (c == '\n') {
    state_ = State::kText;
    sequence_length_ = 0;
    return true;
  }
  ++dropped_;
  switch (state_) {
    case State::kText:
      if (c == kEsc) {
        state_ = State::kEscape;
        sequence_length_ = 1;
      }
      return false;  // other controls (CR, BEL, BS, NUL, DEL) are dropped
    case State::kEscape:
      if (c == '[') {
        state_ = State::kCsi;
      } else if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') {
        state_ = State::kString;
      } else if (c >= 0x20 && c <= 0x2f) {
        state_ = State::kEscIntermediate;
      } else if (c == kEsc) {
        state_ = State::kEscape;  // ESC ESC: the first one was noise
      } else if (c < 0x20 || c >= 0x7f) {
        state_ = State::kText;  // ESC followed by a control or a high byte: drop both
      } else {
        state_ = State::kText;  // ESC x: a complete two-byte sequence
      }
      ++sequence_length_;
      return false;
    case State::kEscIntermediate:
      if (c >= 0x20 && c <= 0x2f && sequence_length_ < kMaxCsiBytes) {
        ++sequence_length_;
        return false;
      }
      state_ = c == kEsc ? State::kEscape : State::kText;
      sequence_length_ = 1;
      return false;
    case State::kCsi:
      if (c >= 0x40 && c <= 0x7e) {
        state_ = State::kText;
      } else if (c == kEsc) {
        state_ = State::kEscape;
        sequence_length_ = 1;
        return false;
      } else if (c < 0x20 || c > 0x7e) {
        // A control or high byte inside CSI is not part of any valid sequence: give up on it.
        state_ = State::kText;
      } else if (++sequence_length_ > kMaxCsiBytes) {
        state_ = State::kText;
      }
      return false;
    case State::kString:
      if (c == kBel) {
        state_ = State::kText;
      } else if (c == kEsc) {
        state_ = State::kStringEscape;
      } else if (++sequence_length_ > kMaxStringBytes) {
        state_ = State::kText;
      }
      return false;
    case State::kStringEscape:
      if (c == '\\') {
        state_ = State::kText;  // ST
      } else if (c == kEsc) {
        state_ = State::kStringEscape;
      } else {
        // ESC followed by something else: the string was cut short by a new sequence.
        state_ = State::kEscape;
        sequence_length_ = 1;
        const bool lf = Step(c);
        --dropped_;
        return lf;
      }
      return false;
  }
  return false;
}

}  // namespace labvirt::engine
