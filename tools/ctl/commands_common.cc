#include <cstdio>

#include "reactor/base/flag_parser.h"
#include "reactor/base/json_writer.h"
#include "tools/ctl/commands_internal.h"

namespace labvirt::ctl::internal {

int Fail(const std::string& msg, int code) {
  std::fprintf(stderr, "labvirtctl: %s\n", msg.c_str());
  return code;
}

Result<Args> SplitArgs(const std::vector<std::string>& in, const std::set<std::string>& switches,
                       const std::set<std::string>& with_value) {
  Args a;
  std::vector<Flag> table;
  for (const auto* names : {&switches, &with_value}) {
    for (const std::string& name : *names) {
      table.push_back({name, names == &with_value, "", "", [&a, name](const std::string& v) {
                         a.flags[name] = v;
                         return Status::Ok();
                       }});
    }
  }
  FlagParse parsed =
      FlagParser(std::move(table)).Parse(in, Positionals::kKeep, UnknownFlags::kRefuse);
  if (!parsed.ok()) {
    const FlagError& e = *parsed.error;
    if (e.kind == FlagError::Kind::kMissingValue) return InvalidArgument(e.flag + " needs a value");
    return InvalidArgument("unknown flag " + e.arg);
  }
  a.pos = std::move(parsed.rest);
  return a;
}

std::string Obj(std::initializer_list<std::pair<const char*, std::string>> kv) {
  JsonWriter w;
  w.BeginObject();
  for (const auto& [k, v] : kv) w.Key(k).String(v);
  w.EndObject();
  return w.Take();
}

CallResult ParseAnswer(const Result<std::string>& line) {
  if (!line.ok()) return {false, line.status().message(), ""};
  engine::ResponseDecoder decoder;
  auto answer = decoder.Decode(*line);
  if (!answer.ok()) {
    if (answer.status().code() == StatusCode::kNotFound)
      return {false, "no result in: " + *line, ""};
    return {false, "labvirtd sent invalid JSON: " + *line, ""};
  }
  if (!answer->ok)
    return {false, engine::ErrorWords(answer->error), simdjson::minify(answer->error)};
  return {true, simdjson::minify(answer->result), ""};
}

CallResult CallOnce(const Options& o, const std::string& method, const std::string& params) {
  auto client = Client::Connect(o.socket);
  if (!client.ok()) return {false, client.status().message(), ""};
  return ParseAnswer(client->Call(method, params));
}

std::string Str(simdjson::dom::element el, const char* key) {
  std::string_view s;
  return el[key].get_string().get(s) ? "" : std::string(s);
}

int64_t Int(simdjson::dom::element el, const char* key) {
  int64_t v = 0;
  return el[key].get_int64().get(v) ? 0 : v;
}

bool Bool(simdjson::dom::element el, const char* key) {
  bool v = false;
  return el[key].get_bool().get(v) ? false : v;
}

double Num(simdjson::dom::element el, const char* key) {
  double v = 0;
  return el[key].get_double().get(v) ? 0 : v;
}

std::string QueuedWords(simdjson::dom::element q) {
  if (q.is_null()) return "";
  std::string reason = Str(q, "reason");
  auto num = [&](const char* key) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", Num(q, key));
    return std::string(buf);
  };
  if (reason == "ceiling") {
    return "boot slots full: " + num("in_use") + " of " + num("ceiling") + " in use, needs " +
           num("weight");
  }
  if (reason == "memory") {
    return "memory: needs " + num("need_mib") + " MiB (node " + num("node_mib") + " + reserve " +
           num("reserve_mib") + "), " + num("available_mib") + " MiB available";
  }
  if (reason == "memory_pressure" || reason == "cpu_pressure") {
    return reason.substr(0, reason.find('_')) + " pressure " + num("value") + "% (limit " +
           num("limit") + "%)";
  }
  if (reason == "libvirt_queue") {
    return "libvirt busy: " + num("value") + " calls waiting (limit " + num("limit") + ")";
  }
  if (reason == "order") return "next in line behind " + num("ahead");
  return reason;  // a gate this labvirtctl does not know by name
}

int FailCall(const Options& o, const CallResult& r) {
  // Scripts asking for JSON get labvirtd's error object as it is.
  if (o.json && !r.error_json.empty()) return Fail("error: " + r.error_json);
  return Fail(r.text);
}

int Show(const Options& o, const CallResult& r) {
  if (!r.ok) return FailCall(o, r);
  if (o.json) {
    std::printf("%s\n", r.text.c_str());
    return 0;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element el = parser.parse(r.text);
  if (el.is_object()) {
    for (auto [k, v] : el.get_object()) {
      std::string t = v.is_string() ? std::string(v.get_string().value()) : simdjson::minify(v);
      std::printf("%-14s %s\n", std::string(k).c_str(), t.c_str());
    }
  } else {
    std::printf("%s\n", r.text.c_str());
  }
  return 0;
}

}  // namespace labvirt::ctl::internal
