// OVSDB values (RFC 7047 §5.1): atoms, sets and maps, decoded from and encoded to the JSON
// notation of the wire protocol. Pure, no I/O.
//
// A Datum is a set (keys only) or a map (keys and values). A single atom on the wire is a
// one-element set; ["set",[]] is the empty set, which is how an optional column ("tag") is unset.
#ifndef LABVIRT_OVS_OVSDB_DATUM_H_
#define LABVIRT_OVS_OVSDB_DATUM_H_

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reactor/base/json_writer.h"
#include "reactor/base/status.h"

namespace labvirt::ovs {

struct Atom {
  enum class Type : uint8_t { kInteger, kReal, kBoolean, kString, kUuid, kNamedUuid };
  Type type = Type::kString;
  int64_t integer = 0;
  double real = 0;
  bool boolean = false;
  std::string string;  // kString text, or the uuid / uuid-name

  static Atom Integer(int64_t v) { return Atom{Type::kInteger, v, 0, false, {}}; }
  static Atom String(std::string v) { return Atom{Type::kString, 0, 0, false, std::move(v)}; }
  static Atom Uuid(std::string v) { return Atom{Type::kUuid, 0, 0, false, std::move(v)}; }
  static Atom NamedUuid(std::string v) { return Atom{Type::kNamedUuid, 0, 0, false, std::move(v)}; }
  friend bool operator==(const Atom& a, const Atom& b) {
    return a.type == b.type && a.integer == b.integer && a.real == b.real &&
           a.boolean == b.boolean && a.string == b.string;
  }
  void Write(JsonWriter& w) const;
};

// How a column's value changes in an update2/update3 "modify" (ovsdb-server(7)): a column that
// holds at most one value gets the new value; a set gets the elements to toggle; a map gets
// pairs to add (new key), replace (other value) or remove (same value).
enum class ColumnKind : uint8_t { kScalar, kSet, kMap };

class Datum {
 public:
  Datum() = default;
  static Datum FromAtom(Atom a) {
    Datum d;
    d.keys_.push_back(std::move(a));
    return d;
  }
  static Datum Set(std::vector<Atom> keys) {
    Datum d;
    d.keys_ = std::move(keys);
    return d;
  }
  static Datum Map(std::vector<std::pair<std::string, std::string>> string_pairs);

  // Decodes the wire notation. Errors name what was wrong (never CHECK: this is server input).
  static Result<Datum> Parse(simdjson::dom::element json);
  void Write(JsonWriter& w) const;

  bool is_map() const { return is_map_; }
  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }
  const std::vector<Atom>& keys() const { return keys_; }
  const std::vector<Atom>& values() const { return values_; }

  // Convenience readers; nullopt when the datum does not hold exactly one atom of that type.
  std::optional<int64_t> AsInteger() const;
  std::optional<std::string> AsString() const;
  // Map lookup by string key; nullopt if absent.
  std::optional<std::string> MapGet(std::string_view key) const;
  // Every uuid in a set of uuids.
  std::vector<std::string> Uuids() const;

  // Applies an update2 "modify" diff for a column of `kind` (see ColumnKind).
  void ApplyDiff(ColumnKind kind, const Datum& diff);

  friend bool operator==(const Datum& a, const Datum& b) {
    return a.is_map_ == b.is_map_ && a.keys_ == b.keys_ && a.values_ == b.values_;
  }

 private:
  bool is_map_ = false;
  std::vector<Atom> keys_;
  std::vector<Atom> values_;  // parallel to keys_ for a map
};

}  // namespace labvirt::ovs

#endif  // LABVIRT_OVS_OVSDB_DATUM_H_
