#include "engine/catalog/catalog_json.h"

#include <cmath>
#include <limits>

namespace labvirt::engine {
namespace {

const char* TypeName(simdjson::dom::element_type t) {
  using T = simdjson::dom::element_type;
  switch (t) {
    case T::ARRAY:
      return "an array";
    case T::OBJECT:
      return "an object";
    case T::INT64:
    case T::UINT64:
      return "an integer";
    case T::DOUBLE:
      return "a number";
    case T::STRING:
      return "a string";
    case T::BOOL:
      return "a boolean";
    case T::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

}  // namespace

ObjectReader::ObjectReader(simdjson::dom::object obj, std::string path)
    : obj_(obj), path_(std::move(path)) {}

std::string ObjectReader::FieldPath(const char* key) const {
  return path_.empty() ? std::string(key) : path_ + "." + key;
}

Status ObjectReader::CheckDuplicates() const {
  std::set<std::string_view> seen;
  for (auto field : obj_) {
    if (!seen.insert(field.key).second) {
      return InvalidArgument(FieldPath(std::string(field.key).c_str()) + ": duplicate key");
    }
  }
  return Status::Ok();
}

Result<std::optional<simdjson::dom::element>> ObjectReader::Element(const char* key,
                                                                    bool required) {
  read_.insert(key);
  simdjson::dom::element el;
  if (obj_[key].get(el) != simdjson::SUCCESS) {
    if (required) return InvalidArgument(FieldPath(key) + ": missing (required)");
    return std::optional<simdjson::dom::element>();
  }
  return std::optional<simdjson::dom::element>(el);
}

Status ObjectReader::String(const char* key, std::string* out, bool required) {
  auto el = Element(key, required);
  if (!el.ok()) return el.status();
  if (!el.value()) return Status::Ok();
  std::string_view v;
  if (el.value()->get_string().get(v) != simdjson::SUCCESS) {
    return InvalidArgument(FieldPath(key) + ": expected a string, got " +
                           TypeName(el.value()->type()));
  }
  *out = std::string(v);
  return Status::Ok();
}

Status ObjectReader::Int(const char* key, int* out, bool required) {
  auto el = Element(key, required);
  if (!el.ok()) return el.status();
  if (!el.value()) return Status::Ok();
  int64_t v = 0;
  if (el.value()->get_int64().get(v) != simdjson::SUCCESS) {
    return InvalidArgument(FieldPath(key) + ": expected an integer, got " +
                           TypeName(el.value()->type()));
  }
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
    return InvalidArgument(FieldPath(key) + ": " + std::to_string(v) + " is out of range");
  }
  *out = static_cast<int>(v);
  return Status::Ok();
}

Status ObjectReader::Double(const char* key, double* out, bool required) {
  auto el = Element(key, required);
  if (!el.ok()) return el.status();
  if (!el.value()) return Status::Ok();
  double v = 0;
  if (el.value()->get_double().get(v) != simdjson::SUCCESS || !std::isfinite(v)) {
    return InvalidArgument(FieldPath(key) + ": expected a number, got " +
                           TypeName(el.value()->type()));
  }
  *out = v;
  return Status::Ok();
}

Status ObjectReader::Bool(const char* key, bool* out, bool required) {
  auto el = Element(key, required);
  if (!el.ok()) return el.status();
  if (!el.value()) return Status::Ok();
  bool v = false;
  if (el.value()->get_bool().get(v) != simdjson::SUCCESS) {
    return InvalidArgument(FieldPath(key) + ": expected true or false, got " +
                           TypeName(el.value()->type()));
  }
  *out = v;
  return Status::Ok();
}

Status ObjectReader::StringList(const char* key, std::vector<std::string>* out, bool required) {
  auto el = Element(key, required);
  if (!el.ok()) return el.status();
  if (!el.value()) return Status::Ok();
  simdjson::dom::array arr;
  if (el.value()->get_array().get(arr) != simdjson::SUCCESS) {
    return InvalidArgument(FieldPath(key) + ": expected an array of strings, got " +
                           TypeName(el.value()->type()));
  }
  out->clear();
  size_t i = 0;
  for (auto item : arr) {
    std::string_view v;
    if (item.get_string().get(v) != simdjson::SUCCESS) {
      return InvalidArgument(FieldPath(key) + "[" + std::to_string(i) +
                             "]: expected a string, got " + TypeName(item.type()));
    }
    out->emplace_back(v);
    ++i;
  }
  return Status::Ok();
}

Status ObjectReader::StringMap(const char* key, std::map<std::string, std::string>* out,
                               bool required) {
  auto el = Element(key, required);
  if (!el.ok()) return el.status();
  if (!el.value()) return Status::Ok();
  simdjson::dom::object obj;
  if (el.value()->get_object().get(obj) != simdjson::SUCCESS) {
    return InvalidArgument(FieldPath(key) + ": expected an object of strings, got " +
                           TypeName(el.value()->type()));
  }
  out->clear();
  for (auto field : obj) {
    std::string_view v;
    std::string k(field.key);
    if (field.value.get_string().get(v) != simdjson::SUCCESS) {
      return InvalidArgument(FieldPath(key) + "." + k + ": expected a string, got " +
                             TypeName(field.value.type()));
    }
    if (!out->emplace(k, std::string(v)).second) {
      return InvalidArgument(FieldPath(key) + "." + k + ": duplicate key");
    }
  }
  return Status::Ok();
}

Status ObjectReader::CheckNoUnknown() const {
  for (auto field : obj_) {
    std::string k(field.key);
    if (!read_.count(k)) return InvalidArgument(FieldPath(k.c_str()) + ": unknown field");
  }
  return Status::Ok();
}

Result<simdjson::dom::object> AsObject(simdjson::dom::element el, const std::string& path) {
  simdjson::dom::object obj;
  if (el.get_object().get(obj) != simdjson::SUCCESS) {
    return InvalidArgument(path + ": expected an object");
  }
  return obj;
}

}  // namespace labvirt::engine
