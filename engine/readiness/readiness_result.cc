#include "engine/readiness/readiness_result.h"

#include <simdjson.h>

#include "reactor/base/json_writer.h"

namespace labvirt::engine {
namespace {

constexpr ReadinessState kStates[] = {ReadinessState::kIdle, ReadinessState::kBooting,
                                      ReadinessState::kRestarting, ReadinessState::kReady,
                                      ReadinessState::kFailed};

}  // namespace

std::string_view ReadinessStateName(ReadinessState state) {
  switch (state) {
    case ReadinessState::kIdle:
      return "idle";
    case ReadinessState::kBooting:
      return "booting";
    case ReadinessState::kRestarting:
      return "restarting";
    case ReadinessState::kReady:
      return "ready";
    case ReadinessState::kFailed:
      return "failed";
  }
  return "idle";
}

std::string ReadinessResult::ToJson() const {
  JsonWriter w;
  w.BeginObject();
  w.Key("state").String(ReadinessStateName(state));
  w.Key("attempt").Int(attempt);
  w.Key("percent").Int(percent);
  w.Key("label").String(label);
  w.Key("pattern").String(pattern);
  w.Key("reason").String(reason);
  w.Key("text_offset").Uint(text_offset);
  w.Key("raw_offset").Uint(raw_offset);
  w.Key("elapsed_ms").Int(elapsed_ms);
  w.EndObject();
  return w.Take();
}

Result<ReadinessResult> ReadinessResult::FromJson(std::string_view json) {
  // The metadata comes back from libvirt, i.e. from outside: every field is checked, never trusted.
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc); err) {
    return InvalidArgument(std::string("readiness result: ") + simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (doc.get(obj)) return InvalidArgument("readiness result: not a JSON object");
  ReadinessResult r;
  bool have_state = false;
  for (auto field : obj) {
    std::string_view key = field.key;
    auto v = field.value;
    auto bad = [&](const char* want) {
      return InvalidArgument("readiness result: '" + std::string(key) + "' is not " + want);
    };
    if (key == "state") {
      std::string_view s;
      if (v.get(s)) return bad("a string");
      for (ReadinessState st : kStates) {
        if (ReadinessStateName(st) == s) {
          r.state = st;
          have_state = true;
        }
      }
      if (!have_state)
        return InvalidArgument("readiness result: unknown state '" + std::string(s) + "'");
    } else if (key == "attempt" || key == "percent") {
      int64_t n;
      if (v.get(n) || n < 0 || n > 1000000) return bad("a small non-negative integer");
      (key == "attempt" ? r.attempt : r.percent) = static_cast<int>(n);
    } else if (key == "label" || key == "pattern" || key == "reason") {
      std::string_view s;
      if (v.get(s)) return bad("a string");
      (key == "label" ? r.label : key == "pattern" ? r.pattern : r.reason) = std::string(s);
    } else if (key == "text_offset" || key == "raw_offset") {
      uint64_t n;
      if (v.get(n)) return bad("a non-negative integer");
      (key == "text_offset" ? r.text_offset : r.raw_offset) = n;
    } else if (key == "elapsed_ms") {
      int64_t n;
      if (v.get(n) || n < 0) return bad("a non-negative integer");
      r.elapsed_ms = n;
    }
  }
  if (!have_state) return InvalidArgument("readiness result: 'state' is missing");
  return r;
}

}  // namespace labvirt::engine
