#include "providers/docker/json_object_splitter.h"

namespace labvirt::providers::docker {

Status JsonObjectSplitter::Feed(std::string_view bytes, std::vector<std::string>* out) {
  if (!error_.ok()) return error_;
  for (char c : bytes) {
    if (depth_ == 0) {
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
      if (c != '{' && c != '[') {
        error_ = InvalidArgument(std::string("Docker event stream: unexpected '") + c +
                                 "' between JSON objects");
        return error_;
      }
    }
    partial_ += c;
    if (partial_.size() > max_object_bytes_) {
      error_ = ResourceExhausted("Docker event stream: an event longer than " +
                                 std::to_string(max_object_bytes_) + " bytes");
      return error_;
    }
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if ((c == '}' || c == ']') && --depth_ == 0) {
      out->push_back(std::move(partial_));
      partial_.clear();
    }
  }
  return Status::Ok();
}

}  // namespace labvirt::providers::docker
