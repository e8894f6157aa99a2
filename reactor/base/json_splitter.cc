#include "reactor/base/json_splitter.h"

#include <cstdio>

namespace labvirt {

void JsonSplitter::Reset() {
  partial_.clear();
  depth_ = 0;
  in_string_ = false;
  escape_ = false;
  error_ = Status::Ok();
}

Status JsonSplitter::Feed(std::string_view bytes, std::vector<std::string>* out) {
  if (!error_.ok()) return error_;
  // `begin` is where the unflushed part of the current value starts in `bytes`; the bytes before
  // it are already in partial_ (or were whitespace between values).
  size_t begin = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (depth_ == 0) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        begin = i + 1;
        continue;
      }
      if (c != '{' && c != '[') {
        char buf[64];
        std::snprintf(buf, sizeof buf, "byte 0x%02x where a JSON object or array must start",
                      static_cast<unsigned char>(c));
        error_ = InvalidArgument(std::string("OVSDB stream framing: ") + buf);
        return error_;
      }
      begin = i;
      depth_ = 1;
      continue;
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
    switch (c) {
      case '"':
        in_string_ = true;
        break;
      case '{':
      case '[':
        if (++depth_ > max_depth_) {
          error_ = InvalidArgument("OVSDB stream framing: nesting deeper than " +
                                   std::to_string(max_depth_));
          return error_;
        }
        break;
      case '}':
      case ']':
        if (--depth_ == 0) {
          if (partial_.size() + (i + 1 - begin) > max_value_bytes_) {
            error_ = ResourceExhausted("OVSDB message larger than " +
                                       std::to_string(max_value_bytes_) + " bytes");
            return error_;
          }
          partial_.append(bytes.substr(begin, i + 1 - begin));
          out->push_back(std::move(partial_));
          partial_.clear();
          begin = i + 1;
        }
        break;
      default:
        break;
    }
    if (depth_ > 0 && partial_.size() + (i + 1 - begin) > max_value_bytes_) {
      error_ = ResourceExhausted("OVSDB message larger than " + std::to_string(max_value_bytes_) +
                                 " bytes");
      return error_;
    }
  }
  if (depth_ > 0) {
    if (partial_.size() + (bytes.size() - begin) > max_value_bytes_) {
      error_ = ResourceExhausted("OVSDB message larger than " + std::to_string(max_value_bytes_) +
                                 " bytes");
      return error_;
    }
    partial_.append(bytes.substr(begin));
  }
  return Status::Ok();
}

}  // namespace labvirt
