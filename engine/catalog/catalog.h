// Catalog: the device kinds labvirt can deploy, loaded and validated from a JSON file
// (engine/data/catalog.json, installed as DATADIR/labvirt/catalog.json; format in docs/catalog.md).
//
// A Catalog is immutable after loading; it may be read from any thread. Loading reads the file
// with blocking I/O: do it at start-up, before the reactor runs, or on the worker pool.
#ifndef LABVIRT_ENGINE_CATALOG_CATALOG_H_
#define LABVIRT_ENGINE_CATALOG_CATALOG_H_

#include <string>
#include <string_view>
#include <vector>

#include "providers/device_kind.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

// A kind that must never fall back to the generic entry: Resolve uses its catalog entry when one
// exists and otherwise refuses it with `reason` (the seed agent refuses Cat9kv, FTDv and FMCv
// without an entry).
struct DenyEntry {
  std::string name;
  std::vector<std::string> aliases;
  std::string reason;
};

// The name of the entry that unknown kinds resolve to.
inline constexpr std::string_view kGenericKind = "generic";

class Catalog {
 public:
  Catalog() = default;
  Catalog(std::string source, std::string notes, std::vector<providers::DeviceKind> kinds,
          std::vector<DenyEntry> denylist);

  // The kind named `kind` (its name or an alias, case-insensitive). A denylisted kind gives
  // FailedPrecondition with the reason; any other unknown kind gives a copy of the "generic"
  // entry whose `name` is still "generic" and whose `notes` say it was a fallback for `kind`.
  // InvalidArgument when `kind` is empty.
  Result<providers::DeviceKind> Resolve(std::string_view kind) const;

  // The entry named `kind` (name or alias, case-insensitive), or nullptr. No generic fallback.
  // The pointer lives as long as this Catalog.
  const providers::DeviceKind* Find(std::string_view kind) const;

  const std::vector<providers::DeviceKind>& kinds() const { return kinds_; }
  const std::vector<DenyEntry>& denylist() const { return denylist_; }
  // The file (or "<string>") it was loaded from, and its top-level notes.
  const std::string& source() const { return source_; }
  const std::string& notes() const { return notes_; }

 private:
  std::string source_;
  std::string notes_;
  std::vector<providers::DeviceKind> kinds_;
  std::vector<DenyEntry> denylist_;
};

// Reads and validates the catalog at `path`. Every error is InvalidArgument (NotFound if the file
// cannot be read) with a one-line message naming the file, the entry and the field, e.g.
// "catalog /usr/share/labvirt/catalog.json: kinds[3] 'cisco_iosv': memory_mb: 99999999 is out
// of range 64..1048576". Blocking file I/O.
Result<Catalog> LoadCatalog(const std::string& path);

// As LoadCatalog, from text; `origin` names it in messages.
Result<Catalog> LoadCatalogFromString(std::string_view json, std::string_view origin = "<string>");

// Where labvirtd and labvirtctl look when no --catalog is given: $LABVIRT_CATALOG if set, else the
// installed DATADIR/labvirt/catalog.json if it exists, else the source tree's
// engine/data/catalog.json (so build-tree binaries work without installing).
std::string DefaultCatalogPath();

// The source tree's engine/data/catalog.json this binary was built from (tests use it).
std::string SourceCatalogPath();

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CATALOG_CATALOG_H_
