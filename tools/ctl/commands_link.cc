// labvirtctl link: live links (create, delete, carrier up/down) and their impairments
// (link.set_impairment): `labvirtctl link LAB impair LINK --delay 20ms --loss 1%`.
#include <cerrno>
#include <cstdlib>
#include <string>

#include "reactor/base/json_writer.h"
#include "tools/ctl/commands_internal.h"

namespace labvirt::ctl::internal {
namespace {

constexpr char kUsage[] =
    "usage: labvirtctl link LAB create NODE:IF NODE:IF | link LAB delete|up|down LINK | "
    "link LAB impair LINK [--delay 20ms] [--jitter 5ms] [--loss 1%] [--rate 1mbit] "
    "[--corrupt 0.1%] [--duplicate 1%] [--reorder 25%] [--direction both|a-b|b-a] | "
    "link LAB impair LINK --clear";

// The number at the start of `text` and the unit after it; false when there is no number.
bool SplitNumber(const std::string& text, double* value, std::string* unit) {
  char* end = nullptr;
  errno = 0;
  *value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || errno != 0) return false;
  *unit = std::string(end);
  return true;
}

// "20ms", "1.5s", "20" (ms) -> milliseconds as JSON text; "" when unreadable.
std::string Millis(const std::string& text) {
  double v = 0;
  std::string unit;
  if (!SplitNumber(text, &v, &unit)) return "";
  if (unit == "s")
    v *= 1000;
  else if (unit == "us")
    v /= 1000;
  else if (!unit.empty() && unit != "ms")
    return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// "1%", "1" -> percent; "" when unreadable.
std::string Percent(const std::string& text) {
  double v = 0;
  std::string unit;
  if (!SplitNumber(text, &v, &unit) || (!unit.empty() && unit != "%")) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// "1mbit", "512kbit", "2gbit", "800" (kbit) -> kbit; "" when unreadable.
std::string Kbit(const std::string& text) {
  double v = 0;
  std::string unit;
  if (!SplitNumber(text, &v, &unit)) return "";
  if (unit == "mbit")
    v *= 1000;
  else if (unit == "gbit")
    v *= 1000 * 1000;
  else if (!unit.empty() && unit != "kbit")
    return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// The impairment object the flags describe (labvirtd checks the ranges); "" + message on error.
std::string ImpairmentFromFlags(const Args& a, std::string* error) {
  struct Flag {
    const char* flag;
    const char* key;
    std::string (*convert)(const std::string&);
    const char* example;
  } flags[] = {
      {"--delay", "delay_ms", Millis, "20ms"},
      {"--jitter", "jitter_ms", Millis, "5ms"},
      {"--loss", "loss_pct", Percent, "1%"},
      {"--rate", "rate_kbit", Kbit, "1mbit"},
      {"--corrupt", "corrupt_pct", Percent, "0.1%"},
      {"--duplicate", "duplicate_pct", Percent, "1%"},
      {"--reorder", "reorder_pct", Percent, "25%"},
  };
  JsonWriter w;
  w.BeginObject();
  for (const auto& f : flags) {
    if (!a.Has(f.flag)) continue;
    std::string v = f.convert(a.flags.at(f.flag));
    if (v.empty()) {
      *error = std::string(f.flag) + " '" + a.flags.at(f.flag) + "' is not like " + f.example;
      return "";
    }
    w.Key(f.key).Raw(v);
  }
  w.EndObject();
  return w.Take();
}

int Impair(const Options& o, const Args& a) {
  if (a.pos.size() != 3) return Fail(kUsage, 2);
  std::string error;
  std::string imp = ImpairmentFromFlags(a, &error);
  if (!error.empty()) return Fail(error, 2);
  if (a.Has("--clear") && imp != "{}") return Fail("--clear takes no other impairment flag", 2);
  if (!a.Has("--clear") && imp == "{}") {
    return Fail("say what to impair (--delay, --loss, …) or --clear", 2);
  }
  const std::string dir = a.Has("--direction") ? a.flags.at("--direction") : "both";
  if (dir != "both" && dir != "a-b" && dir != "b-a") {
    return Fail("--direction is both, a-b or b-a, not '" + dir + "'", 2);
  }
  JsonWriter w;
  w.BeginObject().Key("lab").String(a.pos[0]).Key("link").String(a.pos[2]);
  // The call sets the whole link: a direction not named is left unshaped.
  w.Key("a_to_b").Raw(dir == "b-a" ? "{}" : imp).Key("b_to_a").Raw(dir == "a-b" ? "{}" : imp);
  w.EndObject();
  return Show(o, CallOnce(o, "link.set_impairment", w.str()));
}

std::string Members(simdjson::dom::element obj) {
  std::string out;
  simdjson::dom::object o;
  if (obj.get_object().get(o)) return "";
  for (auto [key, value] : o) {
    out += (out.empty() ? "" : " ") + std::string(key) + "=" + simdjson::minify(value);
  }
  return out;
}

}  // namespace

std::string ImpairmentSummary(simdjson::dom::element link) {
  simdjson::dom::element imp;
  if (link["impairment"].get(imp)) return "-";
  std::string ab = Members(imp["a_to_b"]), ba = Members(imp["b_to_a"]);
  if (ab.empty() && ba.empty()) return "-";
  return "a>b " + (ab.empty() ? "-" : ab) + "; b>a " + (ba.empty() ? "-" : ba);
}

int Link(const Options& o, const Args& a) {
  if (a.pos.size() < 3) return Fail(kUsage, 2);
  const std::string& lab = a.pos[0];
  const std::string& verb = a.pos[1];
  if (verb == "impair") return Impair(o, a);
  if (a.flags.size() > 0) return Fail("only `link LAB impair` takes flags", 2);
  JsonWriter w;
  w.BeginObject().Key("lab").String(lab);
  std::string method;
  if (verb == "create" && a.pos.size() == 4) {
    method = "link.create";
    w.Key("endpoints").BeginArray().String(a.pos[2]).String(a.pos[3]).EndArray();
  } else if (verb == "delete" && a.pos.size() == 3) {
    method = "link.delete";
    w.Key("link").String(a.pos[2]);
  } else if ((verb == "up" || verb == "down") && a.pos.size() == 3) {
    method = "link.set_state";
    w.Key("link").String(a.pos[2]).Key("state").String(verb);
  } else {
    return Fail(kUsage, 2);
  }
  w.EndObject();
  return Show(o, CallOnce(o, method, w.str()));
}

}  // namespace labvirt::ctl::internal
