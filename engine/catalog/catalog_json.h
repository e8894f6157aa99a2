// ObjectReader: strict field-by-field reading of one JSON object for the catalog loader. It
// records which keys were read so that unknown (misspelt) fields and duplicate keys are errors.
// Internal to engine/catalog_*.cc.
#ifndef LABVIRT_ENGINE_CATALOG_CATALOG_JSON_H_
#define LABVIRT_ENGINE_CATALOG_CATALOG_JSON_H_

#include <simdjson.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reactor/base/status.h"

namespace labvirt::engine {

// `el` as an object, or InvalidArgument "PATH: expected an object".
Result<simdjson::dom::object> AsObject(simdjson::dom::element el, const std::string& path);

class ObjectReader {
 public:
  // `obj` must outlive the reader. `path` names the object in messages ("readiness").
  ObjectReader(simdjson::dom::object obj, std::string path);

  // OK unless the object has a duplicate key. Call once, first.
  Status CheckDuplicates() const;

  // Each Get reads `key`; a missing required key or a wrong type is InvalidArgument
  // "PATH.KEY: …". Optional getters leave *out unchanged when the key is absent.
  Status String(const char* key, std::string* out, bool required);
  Status Int(const char* key, int* out, bool required);
  Status Double(const char* key, double* out, bool required);
  Status Bool(const char* key, bool* out, bool required);
  Status StringList(const char* key, std::vector<std::string>* out, bool required);
  Status StringMap(const char* key, std::map<std::string, std::string>* out, bool required);
  // The raw element, or nullopt when absent (error when required).
  Result<std::optional<simdjson::dom::element>> Element(const char* key, bool required);

  // InvalidArgument naming the first key that no getter read.
  Status CheckNoUnknown() const;

  std::string FieldPath(const char* key) const;

 private:
  simdjson::dom::object obj_;
  std::string path_;
  std::set<std::string> read_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CATALOG_CATALOG_JSON_H_
