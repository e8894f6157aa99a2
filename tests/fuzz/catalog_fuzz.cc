// Fuzz target: the catalog loader and validator (LoadCatalogFromString: JSON into DeviceKinds,
// then every range, day-0, CLI, CPU and readiness-pattern check, Hyperscan included) and the
// per-node overrides stored in domain metadata (OverridesFromJson, ApplyOverrides on the shipped
// catalog's generic kind, and the OverridesToJson round trip, which must read back).
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/catalog/catalog.h"
#include "engine/catalog/catalog_overrides.h"
#include "reactor/base/log.h"
#include "tests/fuzz/fuzz_input.h"

namespace labvirt::engine {
namespace {

const providers::DeviceKind& GenericKind() {
  static const providers::DeviceKind* kind = [] {
    auto catalog = LoadCatalog(SourceCatalogPath());
    if (!catalog.ok()) __builtin_trap();  // the shipped catalog must load
    auto generic = catalog->Resolve(kGenericKind);
    if (!generic.ok()) __builtin_trap();
    return new providers::DeviceKind(std::move(generic).value());
  }();
  return *kind;
}

}  // namespace
}  // namespace labvirt::engine

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace labvirt::engine;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto catalog = LoadCatalogFromString(text, "fuzz.json");
  if (catalog.ok()) {
    for (const auto& kind : catalog->kinds()) (void)catalog->Resolve(kind.name);
    (void)catalog->Resolve("no-such-kind");
  }
  auto overrides = OverridesFromJson(text);
  if (overrides.ok()) {
    (void)ApplyOverrides(GenericKind(), *overrides);
    auto back = OverridesFromJson(OverridesToJson(*overrides));
    LABVIRT_FUZZ_ASSERT(back.ok());
  }
  return 0;
}
