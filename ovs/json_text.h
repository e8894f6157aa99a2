// JsonText: builds compact JSON text with correct string escaping. Pure, no I/O.
//
// Usage: JsonText w; w.BeginObject(); w.Key("id"); w.Int(1); w.EndObject(); w.str().
// The writer inserts commas itself. Strings are escaped per RFC 8259; invalid UTF-8 bytes are
// replaced with U+FFFD so the output is always valid JSON.
//
// ovs/ sits below engine/, so it cannot use engine/json_writer.h; this is the same writer. Moving
// one writer down into reactor/ would remove the copy.
#ifndef LABVIRT_OVS_JSON_TEXT_H_
#define LABVIRT_OVS_JSON_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace labvirt::ovs {

class JsonText {
 public:
  JsonText& BeginObject();
  JsonText& EndObject();
  JsonText& BeginArray();
  JsonText& EndArray();
  JsonText& Key(std::string_view key);
  JsonText& String(std::string_view value);
  JsonText& Int(int64_t value);
  JsonText& Uint(uint64_t value);
  JsonText& Double(double value);
  JsonText& Bool(bool value);
  JsonText& Null();
  // Inserts already-serialised JSON (trusted: produced by another JsonText).
  JsonText& Raw(std::string_view json);

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

}  // namespace labvirt::ovs

#endif  // LABVIRT_OVS_JSON_TEXT_H_
