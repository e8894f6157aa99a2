// JsonWriter: builds compact JSON text with correct string escaping. Pure, no I/O.
//
// Usage: JsonWriter w; w.BeginObject(); w.Key("id"); w.Int(1); w.EndObject(); w.str().
// The writer inserts commas itself. Strings are escaped per RFC 8259; invalid UTF-8 bytes are
// replaced with U+FFFD so the output is always valid JSON.
// It lives in reactor/, the lowest layer, so that ovs/ and engine/ share this one writer.
#ifndef LABVIRT_REACTOR_BASE_JSON_WRITER_H_
#define LABVIRT_REACTOR_BASE_JSON_WRITER_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace labvirt {

class JsonWriter {
 public:
  // Nesting deeper than this is a programming error (checked).
  static constexpr int kMaxDepth = 64;

  JsonWriter() = default;
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Inserts already-serialised JSON (trusted: produced by another JsonWriter).
  JsonWriter& Raw(std::string_view json);

  const std::string& str() const;
  std::string Take();

  // Appends `value` as a quoted JSON string to `out`.
  static void AppendQuoted(std::string& out, std::string_view value);

 private:
  // Writes land in buf_ past len_ through a raw pointer: every value of every reply passes here,
  // and std::string's out-of-line appends were most of the cost of building a node object.
  // buf_.size() is the capacity; str()/Take() trim it to len_.
  char* Room(size_t n) {
    if (len_ + n > buf_.size()) Grow(n);
    return buf_.data() + len_;
  }
  void Put(char c) {
    *Room(1) = c;
    ++len_;
  }
  void Put(std::string_view text) {
    std::memcpy(Room(text.size()), text.data(), text.size());
    len_ += text.size();
  }
  void Grow(size_t n);
  void Quote(std::string_view value);
  void BeforeValue();
  void Open(char bracket);
  void Close(char bracket);

  mutable std::string buf_;
  mutable size_t len_ = 0;
  // Bit i (from the least significant) is set once the container open at depth i+1 holds a value
  // (a comma is due). A bit stack rather than a vector: the writer sits on every reply's path.
  uint64_t has_value_ = 0;
  int depth_ = 0;  // open containers, at most kMaxDepth
  bool after_key_ = false;
};

}  // namespace labvirt

#endif  // LABVIRT_REACTOR_BASE_JSON_WRITER_H_
