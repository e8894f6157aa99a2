// ConsoleScrollback: the last N bytes of a console, in a fixed ring, for viewers that join late.
// Pure data; not thread-safe.
#ifndef LABVIRT_ENGINE_CONSOLE_CONSOLE_SCROLLBACK_H_
#define LABVIRT_ENGINE_CONSOLE_CONSOLE_SCROLLBACK_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace labvirt::engine {

class ConsoleScrollback {
 public:
  // Keeps at most `capacity` bytes (0 keeps nothing).
  explicit ConsoleScrollback(size_t capacity) : buf_(capacity, '\0') {}

  void Append(std::string_view data);
  // The kept bytes, oldest first.
  std::string Contents() const;
  size_t size() const { return size_; }
  size_t capacity() const { return buf_.size(); }
  // Every byte ever appended (kept or not).
  uint64_t total_bytes() const { return total_; }
  void Clear() {
    size_ = 0;
    head_ = 0;
  }

 private:
  std::string buf_;
  size_t head_ = 0;  // where the next byte goes
  size_t size_ = 0;
  uint64_t total_ = 0;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONSOLE_CONSOLE_SCROLLBACK_H_
