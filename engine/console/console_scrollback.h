// ConsoleScrollback: the last N bytes of a console, in a ring, for viewers that join late. The
// ring's memory grows with what it holds (doubling from 4 KiB) up to N: a host of thousands of
// quiet consoles pays for the bytes they printed, not N each (issue 20: 256 KiB per node).
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
  explicit ConsoleScrollback(size_t capacity) : capacity_(capacity) {}

  void Append(std::string_view data);
  // The kept bytes, oldest first.
  std::string Contents() const;
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  // Bytes of memory the ring holds now (at most capacity()).
  size_t allocated() const { return buf_.size(); }
  // Every byte ever appended (kept or not).
  uint64_t total_bytes() const { return total_; }
  void Clear() {
    size_ = 0;
    head_ = 0;
  }

 private:
  // Makes room for `need` bytes (up to capacity_). Until the ring is at its capacity it has
  // never wrapped: its bytes are buf_[0, size_).
  void Grow(size_t need);

  size_t capacity_ = 0;
  std::string buf_;
  size_t head_ = 0;  // where the next byte goes
  size_t size_ = 0;
  uint64_t total_ = 0;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONSOLE_CONSOLE_SCROLLBACK_H_
