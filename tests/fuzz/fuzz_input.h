// How the fuzz targets read libFuzzer's input: the first bytes choose how the rest is split into
// chunks, so one input exercises a stream parser's state across arbitrary read boundaries (a
// partial escape sequence, chunk-size line or JSON value left over between two reads).
//
// Layout: byte 0 % 8 = N, the count of size bytes after it; chunk k of the payload is
// 1 + size[k % N] bytes (1..256), cycling. N = 0 (or an input too short to hold the size bytes)
// feeds the payload whole. Pure; the views borrow libFuzzer's buffer for the call only.
#ifndef LABVIRT_TESTS_FUZZ_FUZZ_INPUT_H_
#define LABVIRT_TESTS_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace labvirt::fuzz {

class SplitInput {
 public:
  SplitInput(const uint8_t* data, size_t size) {
    if (size == 0) return;
    size_t n = data[0] % 8;
    if (1 + n > size) n = 0;
    sizes_.assign(data + 1, data + 1 + n);
    payload_ = std::string_view(reinterpret_cast<const char*>(data) + 1 + n, size - 1 - n);
  }

  // The bytes after the split header.
  std::string_view payload() const { return payload_; }

  // Calls fn(chunk) for consecutive chunks covering payload() (none when it is empty).
  template <typename Fn>
  void ForEachChunk(Fn&& fn) const {
    std::string_view rest = payload_;
    for (size_t k = 0; !rest.empty(); ++k) {
      size_t len = sizes_.empty() ? rest.size() : 1 + size_t{sizes_[k % sizes_.size()]};
      if (len > rest.size()) len = rest.size();
      fn(rest.substr(0, len));
      rest.remove_prefix(len);
    }
  }

 private:
  std::vector<uint8_t> sizes_;
  std::string_view payload_;
};

// Stops the run with a crash report when a property the code under test promises is broken
// (libFuzzer keeps the input, as for a sanitizer finding).
#define LABVIRT_FUZZ_ASSERT(cond)  \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

}  // namespace labvirt::fuzz

#endif  // LABVIRT_TESTS_FUZZ_FUZZ_INPUT_H_
