// Reading a method's params: typed access to the members of the params object, with errors that
// name the field. Shared by the method tables of the control socket. Loop thread.
#ifndef LABVIRT_ENGINE_CONTROL_RPC_PARAMS_H_
#define LABVIRT_ENGINE_CONTROL_RPC_PARAMS_H_

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/control/control_server.h"
#include "engine/control/rpc_status.h"

namespace labvirt::engine {

inline RpcError Bad(const std::string& field, const std::string& reason) {
  return ToRpcError(InvalidField(field, reason));
}

// Typed access to an object's members with errors that name the field.
class Params {
 public:
  explicit Params(simdjson::dom::element el) {
    if (el.is_null()) return;
    if (el.get_object().get(obj_)) error_ = Bad("params", "must be an object");
    has_ = !error_;
  }
  std::optional<RpcError> error() const { return error_; }
  // Required string.
  std::string Str(const char* key) {
    std::string_view s;
    if (!has_ || obj_[key].get_string().get(s)) {
      if (!error_) error_ = Bad(key, "required string");
      return "";
    }
    return std::string(s);
  }
  std::string OptStr(const char* key, std::string def) {
    simdjson::dom::element el;
    if (!has_ || obj_[key].get(el)) return def;
    std::string_view s;
    if (el.get_string().get(s)) {
      if (!error_) error_ = Bad(key, "must be a string");
      return def;
    }
    return std::string(s);
  }
  bool Bool(const char* key, bool def) {
    simdjson::dom::element el;
    if (!has_ || obj_[key].get(el)) return def;
    bool b;
    if (el.get_bool().get(b)) {
      if (!error_) error_ = Bad(key, "must be a boolean");
      return def;
    }
    return b;
  }
  int64_t Int(const char* key, int64_t def, int64_t lo, int64_t hi) {
    simdjson::dom::element el;
    if (!has_ || obj_[key].get(el)) return def;
    int64_t v;
    if (el.get_int64().get(v) || v < lo || v > hi) {
      if (!error_) {
        error_ = Bad(key, "must be an integer " + std::to_string(lo) + ".." + std::to_string(hi));
      }
      return def;
    }
    return v;
  }
  std::set<std::string> StrSet(const char* key) {
    auto list = StrList(key);
    return {list.begin(), list.end()};
  }
  std::vector<std::string> StrList(const char* key) {
    std::vector<std::string> out;
    simdjson::dom::element el;
    if (!has_ || obj_[key].get(el)) return out;
    simdjson::dom::array arr;
    if (el.get_array().get(arr)) {
      if (!error_) error_ = Bad(key, "must be an array of strings");
      return out;
    }
    for (auto v : arr) {
      std::string_view s;
      if (v.get_string().get(s)) {
        if (!error_) error_ = Bad(key, "must be an array of strings");
        return out;
      }
      out.emplace_back(s);
    }
    return out;
  }

 private:
  simdjson::dom::object obj_;
  bool has_ = false;
  std::optional<RpcError> error_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONTROL_RPC_PARAMS_H_
