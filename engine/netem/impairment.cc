#include "engine/netem/impairment.h"

#include <charconv>
#include <cstdio>
#include <vector>

namespace labvirt::engine {
namespace {

struct Member {
  const char* name;
  double lo, hi;
  bool integer;
  double Impairment::*d = nullptr;
  uint32_t Impairment::*u32 = nullptr;
  uint64_t Impairment::*u64 = nullptr;

  double Get(const Impairment& i) const {
    if (d) return i.*d;
    if (u32) return i.*u32;
    return static_cast<double>(i.*u64);
  }
  void Set(Impairment& i, double v) const {
    if (d) i.*d = v;
    if (u32) i.*u32 = static_cast<uint32_t>(v);
    if (u64) i.*u64 = static_cast<uint64_t>(v);
  }
  std::string Range() const {
    char buf[96];
    std::snprintf(buf, sizeof buf, "must be %s %g..%g", integer ? "an integer" : "a number", lo,
                  hi);
    return buf;
  }
};

const std::vector<Member>& Members() {
  static const std::vector<Member> kMembers = {
      {"delay_ms", 0, 60000, true, nullptr, &Impairment::delay_ms},
      {"jitter_ms", 0, 60000, true, nullptr, &Impairment::jitter_ms},
      {"loss_pct", 0, 100, false, &Impairment::loss_pct},
      {"rate_kbit", 0, 10000000, true, nullptr, nullptr, &Impairment::rate_kbit},
      {"corrupt_pct", 0, 100, false, &Impairment::corrupt_pct},
      {"duplicate_pct", 0, 100, false, &Impairment::duplicate_pct},
      {"reorder_pct", 0, 100, false, &Impairment::reorder_pct},
  };
  return kMembers;
}

// The shortest text that reads back as the same double ("0.1", not "0.10000000000000001").
std::string Shortest(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

const Member* Find(std::string_view name) {
  for (const auto& m : Members())
    if (name == m.name) return &m;
  return nullptr;
}

// Rules between members (ranges are checked one by one).
Status CheckCombination(const Impairment& imp, const std::string& prefix) {
  auto field = [&](const char* m) { return prefix.empty() ? m : prefix + "." + m; };
  if (imp.jitter_ms > 0 && imp.delay_ms == 0) {
    return InvalidField(field("jitter_ms"), "jitter needs a delay (delay_ms > 0)");
  }
  if (imp.reorder_pct > 0 && imp.delay_ms == 0) {
    return InvalidField(field("reorder_pct"),
                        "reordering needs a delay (delay_ms > 0): reordered frames skip it");
  }
  if (imp.rate_kbit > 0 && imp.rate_kbit < 8) {
    return InvalidField(field("rate_kbit"), "must be 0 (no limit) or 8..10000000");
  }
  return Status::Ok();
}

Status SetChecked(Impairment& imp, const Member& m, double v, const std::string& field) {
  if (!(v >= m.lo && v <= m.hi) ||
      (m.integer && v != static_cast<double>(static_cast<int64_t>(v)))) {
    return InvalidField(field, m.Range());
  }
  m.Set(imp, v);
  return Status::Ok();
}

}  // namespace

Result<Impairment> ImpairmentFromJson(simdjson::dom::element el, const std::string& prefix) {
  simdjson::dom::object obj;
  if (el.get_object().get(obj)) {
    return InvalidField(prefix, "must be an object ({} clears the impairment)");
  }
  Impairment imp;
  for (auto [key, value] : obj) {
    const std::string field = prefix + "." + std::string(key);
    const Member* m = Find(key);
    if (m == nullptr) {
      return InvalidField(field,
                          "unknown impairment (delay_ms, jitter_ms, loss_pct, rate_kbit, "
                          "corrupt_pct, duplicate_pct, reorder_pct)");
    }
    double v = 0;
    if (value.get_double().get(v)) {
      int64_t i = 0;
      uint64_t u = 0;
      if (!value.get_int64().get(i)) {
        v = static_cast<double>(i);
      } else if (!value.get_uint64().get(u)) {
        v = static_cast<double>(u);
      } else {
        return InvalidField(field, m->Range());
      }
    }
    LABVIRT_RETURN_IF_ERROR(SetChecked(imp, *m, v, field));
  }
  LABVIRT_RETURN_IF_ERROR(CheckCombination(imp, prefix));
  return imp;
}

void WriteImpairmentJson(JsonWriter& w, const Impairment& imp) {
  w.BeginObject();
  for (const auto& m : Members()) {
    const double v = m.Get(imp);
    if (v == 0) continue;
    w.Key(m.name).Raw(Shortest(v));
  }
  w.EndObject();
}

std::string ImpairmentText(const Impairment& imp) {
  std::string out;
  for (const auto& m : Members()) {
    const double v = m.Get(imp);
    if (v == 0) continue;
    out += (out.empty() ? "" : ",") + std::string(m.name) + "=" + Shortest(v);
  }
  return out;
}

Result<Impairment> ParseImpairmentText(const std::string& text) {
  Impairment imp;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find(',', at);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(at, end - at);
    at = end + 1;
    const size_t eq = item.find('=');
    const Member* m = eq == std::string::npos ? nullptr : Find(item.substr(0, eq));
    if (m == nullptr)
      return InvalidArgument("impairment '" + text + "': cannot read '" + item + "'");
    const std::string num = item.substr(eq + 1);
    double v = 0;
    auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
    if (ec != std::errc() || ptr != num.data() + num.size()) {
      return InvalidArgument("impairment '" + text + "': '" + item + "' is not a number");
    }
    LABVIRT_RETURN_IF_ERROR(SetChecked(imp, *m, v, m->name));
  }
  LABVIRT_RETURN_IF_ERROR(CheckCombination(imp, ""));
  return imp;
}

}  // namespace labvirt::engine
