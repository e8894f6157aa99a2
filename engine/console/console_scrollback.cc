#include "engine/console/console_scrollback.h"

#include <algorithm>
#include <cstring>

namespace labvirt::engine {

namespace {
constexpr size_t kFirstAllocation = 4096;
}  // namespace

void ConsoleScrollback::Grow(size_t need) {
  size_t size = std::max({need, 2 * buf_.size(), kFirstAllocation});
  buf_.resize(std::min(size, capacity_));
  head_ = size_ % buf_.size();  // the bytes are buf_[0, size_): the next goes after them
}

void ConsoleScrollback::Append(std::string_view data) {
  total_ += data.size();
  if (capacity_ == 0) return;
  if (buf_.size() < capacity_ && size_ + data.size() > buf_.size()) Grow(size_ + data.size());
  const size_t cap = buf_.size();
  if (data.size() >= cap) {
    // Only the newest `cap` bytes survive; keep them in order starting at 0.
    std::memcpy(buf_.data(), data.data() + data.size() - cap, cap);
    head_ = 0;
    size_ = cap;
    return;
  }
  size_t first = std::min(data.size(), cap - head_);
  std::memcpy(buf_.data() + head_, data.data(), first);
  std::memcpy(buf_.data(), data.data() + first, data.size() - first);
  head_ = (head_ + data.size()) % cap;
  size_ = std::min(cap, size_ + data.size());
}

std::string ConsoleScrollback::Contents() const {
  const size_t cap = buf_.size();
  std::string out;
  out.reserve(size_);
  size_t start = (head_ + cap - size_) % (cap == 0 ? 1 : cap);
  size_t first = std::min(size_, cap - start);
  out.append(buf_, start, first);
  out.append(buf_, 0, size_ - first);
  return out;
}

}  // namespace labvirt::engine
