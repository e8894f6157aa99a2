#include "engine/vt100_stripper.h"

#include <array>

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

}  // namespace

void Vt100Stripper::Reset() {
  state_ = State::kText;
  sequence_length_ = 0;
}

void Vt100Stripper::Feed(std::string_view in, std::string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    if (state_ == State::kText) {
      // Fast path: console output is mostly plain text, so copy whole runs at once.
      size_t start = i;
      while (i < n && !kSpecial[p[i]]) ++i;
      out->append(in.data() + start, i - start);
      if (i == n) break;
    }
    Step(p[i], out);
    ++i;
  }
}

void Vt100Stripper::Step(unsigned char c, std::string* out) {
  // LF ends every sequence and is always kept: an unterminated escape can cost at most the rest
  // of its line, and line-start anchors keep working.
  if (c == '\n') {
    state_ = State::kText;
    sequence_length_ = 0;
    out->push_back('\n');
    return;
  }
  ++dropped_;
  switch (state_) {
    case State::kText:
      if (c == kEsc) {
        state_ = State::kEscape;
        sequence_length_ = 1;
      }
      return;  // other controls (CR, BEL, BS, NUL, DEL) are dropped
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
      return;
    case State::kEscIntermediate:
      if (c >= 0x20 && c <= 0x2f && sequence_length_ < kMaxCsiBytes) {
        ++sequence_length_;
        return;
      }
      state_ = c == kEsc ? State::kEscape : State::kText;
      sequence_length_ = 1;
      return;
    case State::kCsi:
      if (c >= 0x40 && c <= 0x7e) {
        state_ = State::kText;
      } else if (c == kEsc) {
        state_ = State::kEscape;
        sequence_length_ = 1;
        return;
      } else if (c < 0x20 || c > 0x7e) {
        // A control or high byte inside CSI is not part of any valid sequence: give up on it.
        state_ = State::kText;
      } else if (++sequence_length_ > kMaxCsiBytes) {
        state_ = State::kText;
      }
      return;
    case State::kString:
      if (c == kBel) {
        state_ = State::kText;
      } else if (c == kEsc) {
        state_ = State::kStringEscape;
      } else if (++sequence_length_ > kMaxStringBytes) {
        state_ = State::kText;
      }
      return;
    case State::kStringEscape:
      if (c == '\\') {
        state_ = State::kText;  // ST
      } else if (c == kEsc) {
        state_ = State::kStringEscape;
      } else {
        // ESC followed by something else: the string was cut short by a new sequence.
        state_ = State::kEscape;
        sequence_length_ = 1;
        Step(c, out);
        --dropped_;
      }
      return;
  }
}

}  // namespace labvirt::engine
