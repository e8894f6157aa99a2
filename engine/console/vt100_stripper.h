// Vt100Stripper: removes VT100/ANSI escape sequences and control characters from a console byte
// stream, keeping the text, so that readiness patterns see what a person sees. Pure: no I/O.
//
// Streaming: a sequence split across Feed() calls is recognised as if it had arrived whole, so
// the output never depends on how the PTY reads happened to split the stream.
//
// What is removed:
//   - CSI (ESC '[' params intermediates final), e.g. colours and cursor moves;
//   - OSC (ESC ']' … BEL or ESC '\') and the other string sequences DCS/SOS/PM/APC (ESC P, X, ^,
//   _);
//   - two-byte and charset sequences (ESC 7, ESC =, ESC ( B, …);
//   - C0 controls other than LF and TAB (NUL, BEL, BS, …) and DEL.
// Carriage returns are dropped: "\r\n" becomes "\n", and a lone "\r" (a device redrawing its
// line, or "Kernel\r panic" from a console that interleaves writes) joins the text around it
// instead of splitting it, so a phrase is never hidden by a CR inside it.
// Garbage never swallows the stream: a CSI longer than 64 bytes or a string sequence longer than
// 4 KiB is abandoned (back to text), and an LF always ends any sequence and is kept.
//
// Thread: not thread-safe; one stripper per console stream.
#ifndef LABVIRT_ENGINE_CONSOLE_VT100_STRIPPER_H_
#define LABVIRT_ENGINE_CONSOLE_VT100_STRIPPER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace labvirt::engine {

class Vt100Stripper {
 public:
  // Appends the text of `in` to `*out` (which it never clears).
  void Feed(std::string_view in, std::string* out);
  // Writes the text of `in` to out[0, n) and returns n. `out` must have room for in.size() bytes
  // (the text is never longer than its input) and must not overlap `in`.
  size_t Feed(std::string_view in, char* out);
  // Forgets any partial sequence (e.g. for a new boot).
  void Reset();
  // Bytes removed so far (escape sequences and controls), for metrics and tests.
  uint64_t dropped_bytes() const { return dropped_; }

  static constexpr size_t kMaxCsiBytes = 64;
  static constexpr size_t kMaxStringBytes = 4096;

 private:
  enum class State : uint8_t {
    kText,
    kEscape,           // after ESC
    kEscIntermediate,  // ESC followed by 0x20–0x2F bytes (charset selection, …)
    kCsi,              // inside ESC [
    kString,           // inside OSC/DCS/SOS/PM/APC
    kStringEscape,     // ESC seen inside a string sequence (maybe ST)
  };

  // Handles one byte outside the text fast path; true if it emits an LF (the only byte a
  // sequence or control can produce).
  bool Step(unsigned char c);

  State state_ = State::kText;
  size_t sequence_length_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONSOLE_VT100_STRIPPER_H_
