// JsonWriter: builds compact JSON text with correct string escaping. Pure, no I/O.
//
// Usage: JsonWriter w; w.BeginObject(); w.Key("id"); w.Int(1); w.EndObject(); w.str().
// The writer inserts commas itself. Strings are escaped per RFC 8259; invalid UTF-8 bytes are
// replaced with U+FFFD so the output is always valid JSON.
// It lives in reactor/, the lowest layer, so that ovs/ and engine/ share this one writer.
#ifndef LABVIRT_REACTOR_BASE_JSON_WRITER_H_
#define LABVIRT_REACTOR_BASE_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace labvirt {

class JsonWriter {
 public:
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

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

  // Appends `value` as a quoted JSON string to `out`.
  static void AppendQuoted(std::string& out, std::string_view value);

 private:
  void BeforeValue();
  std::string out_;
  // One entry per open container: true once it holds a value (a comma is due).
  std::vector<bool> has_value_;
  bool after_key_ = false;
};

}  // namespace labvirt

#endif  // LABVIRT_REACTOR_BASE_JSON_WRITER_H_
