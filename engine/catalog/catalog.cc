#include "engine/catalog/catalog.h"

#include <cctype>

namespace labvirt::engine {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

template <typename Entry>
bool Matches(const Entry& e, std::string_view kind) {
  if (EqualsIgnoreCase(e.name, kind)) return true;
  for (const auto& a : e.aliases) {
    if (EqualsIgnoreCase(a, kind)) return true;
  }
  return false;
}

}  // namespace

Catalog::Catalog(std::string source, std::string notes, std::vector<providers::DeviceKind> kinds,
                 std::vector<DenyEntry> denylist)
    : source_(std::move(source)),
      notes_(std::move(notes)),
      kinds_(std::move(kinds)),
      denylist_(std::move(denylist)) {}

const providers::DeviceKind* Catalog::Find(std::string_view kind) const {
  for (const auto& k : kinds_) {
    if (Matches(k, kind)) return &k;
  }
  return nullptr;
}

Result<providers::DeviceKind> Catalog::Resolve(std::string_view kind) const {
  if (kind.empty()) return InvalidArgument("device kind is empty");
  if (const providers::DeviceKind* k = Find(kind)) return *k;
  for (const auto& d : denylist_) {
    if (Matches(d, kind)) {
      return FailedPrecondition("device kind '" + std::string(kind) +
                                "' is refused without a catalog entry: " + d.reason);
    }
  }
  const providers::DeviceKind* generic = Find(kGenericKind);
  if (generic == nullptr) {
    return NotFound("device kind '" + std::string(kind) + "' is unknown and the catalog " +
                    source_ + " has no generic entry");
  }
  providers::DeviceKind out = *generic;
  out.notes = "unknown kind '" + std::string(kind) + "': generic defaults. " + out.notes;
  return out;
}

}  // namespace labvirt::engine
