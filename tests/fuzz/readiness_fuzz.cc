// Fuzz target: console bytes through the VT100 stripper and the readiness scanner, with the
// readiness patterns of every kind in the shipped catalog (engine/data/catalog.json), compiled
// once per process as labvirtd compiles them.
//
// Each input is scanned twice — whole, and in the chunks its first bytes choose — and the two
// results must agree, as vt100_stripper.h and readiness_scanner.h promise: the same stripped
// text and dropped-byte count, and the same matches (pattern and offset in the stripped text;
// raw_offset depends on the reads by design). The first payload byte picks the kind.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "engine/catalog/catalog.h"
#include "engine/console/vt100_stripper.h"
#include "engine/readiness/readiness_patterns.h"
#include "engine/readiness/readiness_scanner.h"
#include "reactor/base/log.h"
#include "tests/fuzz/fuzz_input.h"

namespace labvirt::engine {
namespace {

using Patterns = std::shared_ptr<const ReadinessPatterns>;

std::vector<Patterns>* CompileCatalog() {
  auto catalog = LoadCatalog(SourceCatalogPath());
  if (!catalog.ok()) __builtin_trap();  // the shipped catalog must load
  auto* out = new std::vector<Patterns>;
  for (const auto& kind : catalog->kinds()) {
    auto p = ReadinessPatterns::Compile(kind.readiness, kind.name);
    if (!p.ok()) __builtin_trap();  // and every kind's patterns compile
    if (p.value()->database() != nullptr) out->push_back(std::move(p).value());
  }
  if (out->empty()) __builtin_trap();
  return out;
}

// What must not depend on the split: pattern id and where it matched in the text.
using Found = std::vector<std::tuple<unsigned, uint64_t>>;

Found Scan(const Patterns& patterns, const fuzz::SplitInput& input, std::string_view console,
           bool whole) {
  ReadinessScanner scanner(patterns);
  std::vector<ReadinessMatch> matches;
  if (whole) {
    LABVIRT_FUZZ_ASSERT(scanner.Feed(console, &matches).ok());
  } else {
    input.ForEachChunk([&](std::string_view chunk) {
      // The payload's first byte chose the kind and is not console input.
      if (chunk.data() == input.payload().data()) chunk.remove_prefix(1);
      LABVIRT_FUZZ_ASSERT(scanner.Feed(chunk, &matches).ok());
    });
  }
  LABVIRT_FUZZ_ASSERT(scanner.raw_bytes() == console.size());
  Found found;
  for (const auto& m : matches) {
    LABVIRT_FUZZ_ASSERT(m.id < patterns->size());
    LABVIRT_FUZZ_ASSERT(m.text_offset <= scanner.text_bytes());
    found.emplace_back(m.id, m.text_offset);
  }
  // Hyperscan may order matches ending at one offset differently across reads.
  std::sort(found.begin(), found.end());
  return found;
}

void CheckStripper(const fuzz::SplitInput& input, std::string_view console) {
  Vt100Stripper whole;
  std::string whole_text;
  whole.Feed(console, &whole_text);
  LABVIRT_FUZZ_ASSERT(whole_text.size() + whole.dropped_bytes() == console.size());

  Vt100Stripper split;
  std::string split_text;
  std::string buf;
  input.ForEachChunk([&](std::string_view chunk) {
    if (chunk.data() == input.payload().data()) chunk.remove_prefix(1);
    // Alternate the two Feed overloads; the char* one writes at most chunk.size() bytes.
    buf.assign(chunk.size() + 1, '\xAA');
    size_t n = split.Feed(chunk, buf.data());
    LABVIRT_FUZZ_ASSERT(n <= chunk.size() && buf[chunk.size()] == '\xAA');
    split_text.append(buf.data(), n);
  });
  LABVIRT_FUZZ_ASSERT(split_text == whole_text);
  LABVIRT_FUZZ_ASSERT(split.dropped_bytes() == whole.dropped_bytes());
}

}  // namespace
}  // namespace labvirt::engine

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace labvirt::engine;
  static std::vector<Patterns>* kinds = CompileCatalog();
  labvirt::fuzz::SplitInput input(data, size);
  if (input.payload().empty()) return 0;
  const Patterns& patterns = (*kinds)[uint8_t(input.payload()[0]) % kinds->size()];
  std::string_view console = input.payload().substr(1);
  CheckStripper(input, console);
  LABVIRT_FUZZ_ASSERT(Scan(patterns, input, console, true) ==
                      Scan(patterns, input, console, false));
  return 0;
}
