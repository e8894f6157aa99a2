// JsonSplitter: cuts a byte stream of concatenated JSON values (OVSDB's framing: no delimiter;
// Docker's /events: one object per line, a read ending anywhere) into one string per top-level
// value. Pure, no I/O.
//
// It tracks only what decides where a value ends — nesting depth, strings and escapes — and
// leaves full validation (UTF-8, grammar) to the parser that reads each value. Bytes of a
// multi-byte UTF-8 sequence are all >= 0x80 and never structural, so a read boundary inside one
// needs no special case. Top-level values must be objects or arrays (every JSON-RPC message is an
// object); anything else between values except whitespace is a framing error.
//
// Errors are sticky: after Feed() fails the stream is out of sync and the caller must drop the
// connection and Reset().
#ifndef LABVIRT_REACTOR_BASE_JSON_SPLITTER_H_
#define LABVIRT_REACTOR_BASE_JSON_SPLITTER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "reactor/base/status.h"

namespace labvirt {

class JsonSplitter {
 public:
  // A value longer than `max_value_bytes` is an error (kResourceExhausted).
  explicit JsonSplitter(size_t max_value_bytes, size_t max_depth = 512)
      : max_value_bytes_(max_value_bytes), max_depth_(max_depth) {}

  // Appends `bytes`; each value completed by them is appended to `out` (without surrounding
  // whitespace). Values completed before an error are still appended.
  Status Feed(std::string_view bytes, std::vector<std::string>* out);
  // Bytes held for an incomplete value.
  size_t buffered() const { return partial_.size(); }
  void Reset();

 private:
  const size_t max_value_bytes_;
  const size_t max_depth_;
  std::string partial_;  // the incomplete value so far
  size_t depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  Status error_;
};

}  // namespace labvirt

#endif  // LABVIRT_REACTOR_BASE_JSON_SPLITTER_H_
