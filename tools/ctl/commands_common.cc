#include <cstdio>

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
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i].rfind("--", 0) != 0) {
      a.pos.push_back(in[i]);
      continue;
    }
    size_t eq = in[i].find('=');
    std::string name = in[i].substr(0, eq);
    if (with_value.count(name)) {
      if (eq != std::string::npos) {
        a.flags[name] = in[i].substr(eq + 1);
      } else if (i + 1 < in.size()) {
        a.flags[name] = in[++i];
      } else {
        return InvalidArgument(name + " needs a value");
      }
    } else if (switches.count(name) && eq == std::string::npos) {
      a.flags[name] = "";
    } else {
      return InvalidArgument("unknown flag " + in[i]);
    }
  }
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
