#include "ovs/ovsdb_datum.h"

#include <algorithm>

namespace labvirt::ovs {
namespace {

Result<Atom> ParseAtom(simdjson::dom::element json) {
  using simdjson::dom::element_type;
  switch (json.type()) {
    case element_type::INT64:
      return Atom::Integer(json.get_int64().value());
    case element_type::UINT64:
      return InvalidArgument("OVSDB integer out of range");
    case element_type::DOUBLE: {
      Atom a;
      a.type = Atom::Type::kReal;
      a.real = json.get_double().value();
      return a;
    }
    case element_type::BOOL: {
      Atom a;
      a.type = Atom::Type::kBoolean;
      a.boolean = json.get_bool().value();
      return a;
    }
    case element_type::STRING:
      return Atom::String(std::string(json.get_string().value()));
    case element_type::ARRAY: {
      simdjson::dom::array arr = json.get_array().value();
      std::string_view tag, id;
      if (arr.size() != 2 || arr.at(0).get_string().get(tag) != simdjson::SUCCESS ||
          arr.at(1).get_string().get(id) != simdjson::SUCCESS) {
        return InvalidArgument("OVSDB atom: array is not [\"uuid\"|\"named-uuid\", string]");
      }
      if (tag == "uuid") return Atom::Uuid(std::string(id));
      if (tag == "named-uuid") return Atom::NamedUuid(std::string(id));
      return InvalidArgument("OVSDB atom: unknown tag \"" + std::string(tag) + "\"");
    }
    default:
      return InvalidArgument("OVSDB atom: unexpected JSON type");
  }
}

}  // namespace

void Atom::Write(JsonWriter& w) const {
  switch (type) {
    case Type::kInteger:
      w.Int(integer);
      break;
    case Type::kReal:
      w.Double(real);
      break;
    case Type::kBoolean:
      w.Bool(boolean);
      break;
    case Type::kString:
      w.String(string);
      break;
    case Type::kUuid:
      w.BeginArray().String("uuid").String(string).EndArray();
      break;
    case Type::kNamedUuid:
      w.BeginArray().String("named-uuid").String(string).EndArray();
      break;
  }
}

Datum Datum::Map(std::vector<std::pair<std::string, std::string>> string_pairs) {
  Datum d;
  d.is_map_ = true;
  for (auto& [k, v] : string_pairs) {
    d.keys_.push_back(Atom::String(std::move(k)));
    d.values_.push_back(Atom::String(std::move(v)));
  }
  return d;
}

Result<Datum> Datum::Parse(simdjson::dom::element json) {
  simdjson::dom::array arr;
  std::string_view tag;
  if (json.get_array().get(arr) == simdjson::SUCCESS && arr.size() == 2 &&
      arr.at(0).get_string().get(tag) == simdjson::SUCCESS && (tag == "set" || tag == "map")) {
    simdjson::dom::array elements;
    if (arr.at(1).get_array().get(elements) != simdjson::SUCCESS) {
      return InvalidArgument("OVSDB " + std::string(tag) + ": second element is not an array");
    }
    Datum d;
    d.is_map_ = tag == "map";
    for (simdjson::dom::element e : elements) {
      if (!d.is_map_) {
        auto atom = ParseAtom(e);
        if (!atom.ok()) return atom.status();
        d.keys_.push_back(std::move(atom).value());
        continue;
      }
      simdjson::dom::array pair;
      if (e.get_array().get(pair) != simdjson::SUCCESS || pair.size() != 2) {
        return InvalidArgument("OVSDB map: element is not a [key, value] pair");
      }
      auto k = ParseAtom(pair.at(0).value());
      if (!k.ok()) return k.status();
      auto v = ParseAtom(pair.at(1).value());
      if (!v.ok()) return v.status();
      d.keys_.push_back(std::move(k).value());
      d.values_.push_back(std::move(v).value());
    }
    return d;
  }
  auto atom = ParseAtom(json);
  if (!atom.ok()) return atom.status();
  return FromAtom(std::move(atom).value());
}

void Datum::Write(JsonWriter& w) const {
  if (is_map_) {
    w.BeginArray().String("map").BeginArray();
    for (size_t i = 0; i < keys_.size(); ++i) {
      w.BeginArray();
      keys_[i].Write(w);
      values_[i].Write(w);
      w.EndArray();
    }
    w.EndArray().EndArray();
    return;
  }
  if (keys_.size() == 1) {
    keys_[0].Write(w);
    return;
  }
  w.BeginArray().String("set").BeginArray();
  for (const Atom& a : keys_) a.Write(w);
  w.EndArray().EndArray();
}

std::optional<int64_t> Datum::AsInteger() const {
  if (is_map_ || keys_.size() != 1 || keys_[0].type != Atom::Type::kInteger) return std::nullopt;
  return keys_[0].integer;
}

std::optional<std::string> Datum::AsString() const {
  if (is_map_ || keys_.size() != 1 || keys_[0].type != Atom::Type::kString) return std::nullopt;
  return keys_[0].string;
}

std::optional<std::string> Datum::MapGet(std::string_view key) const {
  if (!is_map_) return std::nullopt;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i].type == Atom::Type::kString && keys_[i].string == key &&
        values_[i].type == Atom::Type::kString) {
      return values_[i].string;
    }
  }
  return std::nullopt;
}

std::vector<std::string> Datum::Uuids() const {
  std::vector<std::string> out;
  if (is_map_) return out;
  for (const Atom& a : keys_) {
    if (a.type == Atom::Type::kUuid) out.push_back(a.string);
  }
  return out;
}

void Datum::ApplyDiff(ColumnKind kind, const Datum& diff) {
  if (kind == ColumnKind::kScalar) {
    *this = diff;
    return;
  }
  if (kind == ColumnKind::kSet) {
    for (const Atom& a : diff.keys_) {
      auto it = std::find(keys_.begin(), keys_.end(), a);
      if (it == keys_.end()) {
        keys_.push_back(a);
      } else {
        keys_.erase(it);
      }
    }
    return;
  }
  is_map_ = true;
  for (size_t i = 0; i < diff.keys_.size() && i < diff.values_.size(); ++i) {
    auto it = std::find(keys_.begin(), keys_.end(), diff.keys_[i]);
    if (it == keys_.end()) {
      keys_.push_back(diff.keys_[i]);
      values_.push_back(diff.values_[i]);
      continue;
    }
    size_t k = static_cast<size_t>(it - keys_.begin());
    if (values_[k] == diff.values_[i]) {
      keys_.erase(it);
      values_.erase(values_.begin() + static_cast<std::ptrdiff_t>(k));
    } else {
      values_[k] = diff.values_[i];
    }
  }
}

}  // namespace labvirt::ovs
