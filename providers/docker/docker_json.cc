#include "providers/docker/docker_json.h"

#include <simdjson.h>

#include <cstdio>
#include <ctime>

#include "reactor/base/json_writer.h"

namespace labvirt::providers::docker {
namespace {

std::string_view Str(simdjson::dom::element el, const char* key) {
  std::string_view v;
  if (el[key].get_string().get(v) != simdjson::SUCCESS) return {};
  return v;
}

std::string_view Label(simdjson::dom::element labels, const char* key) {
  std::string_view v;
  if (labels[key].get_string().get(v) != simdjson::SUCCESS) return {};
  return v;
}

}  // namespace

std::string CreateBody(const ContainerDefinition& def, const ContainerLabels& labels,
                       const std::string& definition_xml) {
  JsonWriter w;
  w.BeginObject();
  w.Key("Image").String(def.image);
  w.Key("Hostname").String(def.hostname);
  if (!def.cmd.empty()) {
    w.Key("Cmd").BeginArray();
    for (const auto& a : def.cmd) w.String(a);
    w.EndArray();
  }
  w.Key("Env").BeginArray();
  for (const auto& [k, v] : def.env) w.String(k + "=" + v);
  w.EndArray();
  // The console: a TTY with stdin kept open, attached before start (no output is lost).
  // Docker sends it on `docker stop` too; labvirt's own graceful stop sends StopSignalOf(def).
  if (!def.stop_signal.empty()) w.Key("StopSignal").String(def.stop_signal);
  w.Key("Tty").Bool(true).Key("OpenStdin").Bool(true).Key("StdinOnce").Bool(false);
  w.Key("AttachStdin").Bool(true).Key("AttachStdout").Bool(true).Key("AttachStderr").Bool(true);
  w.Key("Labels").BeginObject();
  w.Key(kDomainLabel).String(def.name);
  w.Key("labvirt.instance").String(labels.instance);
  w.Key("labvirt.lab").String(labels.lab);
  w.Key("labvirt.node").String(labels.node);
  w.Key(kDefinitionLabel).String(definition_xml);
  w.EndObject();
  w.Key("HostConfig").BeginObject();
  w.Key("NetworkMode").String("none");
  w.Key("RestartPolicy").BeginObject().Key("Name").String("no").EndObject();
  if (def.memory_mb > 0) w.Key("Memory").Int(int64_t{def.memory_mb} * 1024 * 1024);
  if (def.vcpus > 0) w.Key("NanoCpus").Int(int64_t{def.vcpus} * 1000000000);
  w.Key("Privileged").Bool(def.privileged);
  // IPv6 on: dockerd turns it off in a container's namespace unless its own networks have it, and
  // the management segment and data links carry IPv6 (`default`: the veths labvirt adds after the
  // start get it too). The two are one choice, left whole to a kind that sets either: writing
  // `all` also sets `default` in the kernel, and runc writes sysctls in Go's random map order, so
  // a kind's all=1 beside labvirt's default=0 left `default` at 0 or 1 from one start to the next.
  constexpr std::string_view kAll = "net.ipv6.conf.all.disable_ipv6";
  constexpr std::string_view kDefault = "net.ipv6.conf.default.disable_ipv6";
  std::map<std::string, std::string> sysctls;
  if (!def.sysctls.contains(std::string(kAll)) && !def.sysctls.contains(std::string(kDefault))) {
    sysctls = {{std::string(kAll), "0"}, {std::string(kDefault), "0"}};
  }
  for (const auto& [name, value] : def.sysctls) sysctls[name] = value;
  w.Key("Sysctls").BeginObject();
  for (const auto& [name, value] : sysctls) w.Key(name).String(value);
  w.EndObject();
  if (!def.capabilities.empty()) {
    w.Key("CapAdd").BeginArray();
    for (const auto& c : def.capabilities) w.String(c);
    w.EndArray();
  }
  if (!def.binds.empty()) {
    w.Key("Binds").BeginArray();
    for (const auto& b : def.binds) w.String(BindText(b));
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
  return w.Take();
}

std::string ExecCreateBody(const std::vector<std::string>& cmd) {
  JsonWriter w;
  w.BeginObject();
  w.Key("AttachStdin").Bool(true).Key("AttachStdout").Bool(true).Key("AttachStderr").Bool(true);
  w.Key("Tty").Bool(true);
  w.Key("Cmd").BeginArray();
  for (const auto& a : cmd) w.String(a);
  w.EndArray();
  w.EndObject();
  return w.Take();
}

std::string ExecStartBody() {
  JsonWriter w;
  w.BeginObject().Key("Detach").Bool(false).Key("Tty").Bool(true).EndObject();
  return w.Take();
}

Result<std::string> ParseCreatedId(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::padded_string padded(json);
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS) {
    return InvalidArgument("docker: the create answer is not JSON");
  }
  std::string_view id = Str(doc, "Id");
  if (id.empty()) return InvalidArgument("docker: the create answer has no Id");
  return std::string(id);
}

Result<std::vector<ListedContainer>> ParseContainerList(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::padded_string padded(json);
  simdjson::dom::array arr;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS || doc.get_array().get(arr)) {
    return InvalidArgument("docker: the container list is not a JSON array");
  }
  std::vector<ListedContainer> out;
  for (auto c : arr) {
    simdjson::dom::element labels;
    if (c["Labels"].get(labels) != simdjson::SUCCESS) continue;
    ListedContainer l;
    l.id = std::string(Str(c, "Id"));
    l.state = std::string(Str(c, "State"));
    l.domain = std::string(Label(labels, kDomainLabel));
    l.definition = std::string(Label(labels, kDefinitionLabel));
    if (!l.domain.empty()) out.push_back(std::move(l));
  }
  return out;
}

Result<InspectedState> ParseInspect(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::padded_string padded(json);
  simdjson::dom::element state;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS || doc["State"].get(state)) {
    return InvalidArgument("docker: the container's inspect has no State");
  }
  InspectedState s;
  bool b = false;
  if (state["Running"].get_bool().get(b) == simdjson::SUCCESS) s.running = b;
  if (state["Paused"].get_bool().get(b) == simdjson::SUCCESS) s.paused = b;
  int64_t n = 0;
  if (state["Pid"].get_int64().get(n) == simdjson::SUCCESS) s.pid = static_cast<int>(n);
  if (state["ExitCode"].get_int64().get(n) == simdjson::SUCCESS) s.exit_code = static_cast<int>(n);
  s.error = std::string(Str(state, "Error"));
  s.finished_at = std::string(Str(state, "FinishedAt"));
  simdjson::dom::element labels;
  if (doc["Config"]["Labels"].get(labels) == simdjson::SUCCESS) {
    s.domain = std::string(Label(labels, kDomainLabel));
  }
  return s;
}

std::string UnixInstantAfter(std::string_view rfc3339) {
  std::string text(rfc3339);
  struct tm t = {};
  int used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &t.tm_year, &t.tm_mon, &t.tm_mday,
                  &t.tm_hour, &t.tm_min, &t.tm_sec, &used) != 6 ||
      used != 19) {
    return "";
  }
  // Docker's zero time (year 1): the container never ran to an end.
  if (t.tm_year < 1970) return "";
  if (t.tm_mon < 1 || t.tm_mon > 12 || t.tm_mday < 1 || t.tm_mday > 31 || t.tm_hour < 0 ||
      t.tm_hour > 23 || t.tm_min < 0 || t.tm_min > 59 || t.tm_sec < 0 || t.tm_sec > 60) {
    return "";
  }
  int64_t nanos = 0;
  size_t at = 19;
  if (at < text.size() && text[at] == '.') {
    int digits = 0;
    for (++at; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at) {
      if (digits++ < 9) nanos = nanos * 10 + (text[at] - '0');
    }
    if (digits == 0) return "";
    for (; digits < 9; ++digits) nanos *= 10;
  }
  if (at + 1 != text.size() || text[at] != 'Z') return "";  // dockerd writes UTC
  t.tm_year -= 1900;
  t.tm_mon -= 1;
  int64_t seconds = static_cast<int64_t>(timegm(&t));
  if (++nanos == 1'000'000'000) {
    nanos = 0;
    ++seconds;
  }
  char out[40];
  std::snprintf(out, sizeof out, "%lld.%09lld", static_cast<long long>(seconds),
                static_cast<long long>(nanos));
  return out;
}

Result<DockerEvent> ParseEvent(std::string_view json, bool stopping) {
  simdjson::dom::parser parser;
  simdjson::dom::element ev;
  simdjson::padded_string padded(json);
  if (parser.parse(padded).get(ev) != simdjson::SUCCESS) {
    return InvalidArgument("docker: an event is not JSON");
  }
  if (Str(ev, "Type") != "container") return NotFound("not a container event");
  simdjson::dom::element attrs;
  if (ev["Actor"]["Attributes"].get(attrs) != simdjson::SUCCESS) return NotFound("no attributes");
  DockerEvent out;
  out.action = std::string(Str(ev, "Action"));
  out.info.name = std::string(Label(attrs, kDomainLabel));
  if (out.info.name.empty()) return NotFound("not labvirt's container");
  const std::string& a = out.action;
  if (a == "create") {
    out.info.event = DomainEvent::kDefined;
  } else if (a == "destroy") {
    out.info.event = DomainEvent::kUndefined;
  } else if (a == "start") {
    out.info.event = DomainEvent::kStarted;
  } else if (a == "pause") {
    out.info.event = DomainEvent::kSuspended;
  } else if (a == "unpause") {
    out.info.event = DomainEvent::kResumed;
  } else if (a == "die") {
    out.info.event = DomainEvent::kStopped;
    std::string_view code = Label(attrs, "exitCode");
    // Its own exit with status 0 is a power-off; anything else it did not ask for is a crash.
    out.info.detail = stopping ? "destroyed" : code == "0" ? "shutdown" : "crashed";
  } else {
    return NotFound("action " + a + " changes no state");
  }
  return out;
}

}  // namespace labvirt::providers::docker
