// JsonObjectSplitter: cuts a byte stream of JSON objects (Docker's /events: one object per line,
// but a read may end anywhere, even inside a string) into one string per complete object. Pure.
//
// It tracks only what decides where an object ends — nesting depth, strings and escapes — and
// leaves validation to the parser that reads each object. Whitespace between objects (Docker's
// newlines) is dropped; anything else outside an object is an error. Errors are sticky.
#ifndef LABVIRT_PROVIDERS_DOCKER_JSON_OBJECT_SPLITTER_H_
#define LABVIRT_PROVIDERS_DOCKER_JSON_OBJECT_SPLITTER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "reactor/base/status.h"

namespace labvirt::providers::docker {

class JsonObjectSplitter {
 public:
  // An object longer than `max_object_bytes` is an error (kResourceExhausted).
  explicit JsonObjectSplitter(size_t max_object_bytes = 1u << 20)
      : max_object_bytes_(max_object_bytes) {}

  // Appends each object completed by `bytes` to `out`; objects completed before an error are
  // still appended.
  Status Feed(std::string_view bytes, std::vector<std::string>* out);

 private:
  const size_t max_object_bytes_;
  std::string partial_;
  size_t depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  Status error_;
};

}  // namespace labvirt::providers::docker

#endif  // LABVIRT_PROVIDERS_DOCKER_JSON_OBJECT_SPLITTER_H_
