// Impairment: what netem does to the frames of one direction of a link — delay with jitter, loss,
// a rate limit, corruption, duplication, reordering. Values, their valid ranges, a canonical text
// form (kept in a NIC's domain metadata) and JSON. Pure.
#ifndef LABVIRT_ENGINE_NETEM_IMPAIRMENT_H_
#define LABVIRT_ENGINE_NETEM_IMPAIRMENT_H_

#include <simdjson.h>

#include <cstdint>
#include <string>

#include "reactor/base/json_writer.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

struct Impairment {
  uint32_t delay_ms = 0;     // 0..60000
  uint32_t jitter_ms = 0;    // 0..60000; needs a delay
  double loss_pct = 0;       // 0..100
  uint64_t rate_kbit = 0;    // 0 (no limit) or 8..10000000
  double corrupt_pct = 0;    // 0..100
  double duplicate_pct = 0;  // 0..100
  double reorder_pct = 0;    // 0..100; needs a delay (reordered frames skip it)

  bool empty() const { return *this == Impairment{}; }
  bool operator==(const Impairment&) const = default;
};

// Reads `el` (an object with any of the members above; {} is no impairment). Errors are
// InvalidArgument naming the field as `prefix`.`member` with its range, e.g.
// "a_to_b.loss_pct": "must be a number 0..100".
Result<Impairment> ImpairmentFromJson(simdjson::dom::element el, const std::string& prefix);
// {"delay_ms":20,"loss_pct":1} — only the members that are set; {} when empty.
void WriteImpairmentJson(JsonWriter& w, const Impairment& imp);
// "delay_ms=20,loss_pct=1" (the members that are set, in declaration order); "" when empty.
std::string ImpairmentText(const Impairment& imp);
// The inverse of ImpairmentText; InvalidArgument naming what it could not read.
Result<Impairment> ParseImpairmentText(const std::string& text);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_NETEM_IMPAIRMENT_H_
