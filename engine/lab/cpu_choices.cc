#include "engine/lab/cpu_choices.h"

#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {
namespace {

using providers::CpuChoice;

std::vector<std::string> Strings(simdjson::dom::element el) {
  std::vector<std::string> out;
  simdjson::dom::array arr;
  if (el.get_array().get(arr)) return out;
  for (auto item : arr) {
    std::string_view s;
    if (!item.get_string().get(s)) out.emplace_back(s);
  }
  return out;
}

// The inverse of providers::CpuChoiceToJson for the fields the cache needs; nullopt when `obj`
// is not such an object (a hand-edited or truncated file).
std::optional<CpuChoice> ChoiceFromJson(simdjson::dom::element obj) {
  CpuChoice c;
  std::string_view mode, model, reason;
  if (obj["mode"].get_string().get(mode) || obj["model"].get_string().get(model)) {
    return std::nullopt;
  }
  if (mode != "host-passthrough" && mode != "host-model" && mode != "custom") return std::nullopt;
  c.mode = std::string(mode);
  c.model = std::string(model);
  if (!obj["reason"].get_string().get(reason)) c.reason = std::string(reason);
  simdjson::dom::element list;
  if (!obj["required"].get(list)) c.required_features = Strings(list);
  if (!obj["disabled"].get(list)) c.disabled_features = Strings(list);
  bool flag = false;
  if (!obj["pmu_off"].get_bool().get(flag)) c.pmu_off = flag;
  if (!obj["check_none"].get_bool().get(flag)) c.check_none = flag;
  return c;
}

}  // namespace

CpuChoices::CpuChoices(std::string state_dir) : path_(std::move(state_dir) + "/cpu-choices.json") {}

void CpuChoices::SetHost(providers::HostInfo host, std::string_view cache_json) {
  bool same = host.Signature() == host_.Signature();
  host_ = std::move(host);
  if (!same) Load(cache_json);
}

const providers::CpuSpec& CpuChoices::SpecFor(const providers::DeviceKind& kind) const {
  return providers::CpuSpecFor(kind, host_.vendor);
}

CpuChoice CpuChoices::First(const providers::DeviceKind& kind) const {
  return providers::FirstCpuChoice(SpecFor(kind), "the kind's own choice (" + kind.name + ")");
}

CpuChoice CpuChoices::Initial(const providers::DeviceKind& kind) const {
  CpuChoice first = First(kind);
  auto it = cached_.find(providers::CpuChoiceKey(first));
  if (it == cached_.end()) return first;
  CpuChoice c = it->second;
  c.reason =
      "cached: " + providers::DescribeCpu(first) + " failed on this host before (" + c.reason + ")";
  return c;
}

bool CpuChoices::Outdated(const providers::DeviceKind& kind, const CpuChoice& current) const {
  CpuChoice first = First(kind);
  return current == first && cached_.count(providers::CpuChoiceKey(first)) > 0;
}

std::optional<CpuChoice> CpuChoices::Next(const providers::DeviceKind& kind,
                                          const CpuChoice& failed,
                                          const providers::CpuError& err) const {
  if (!err.is_cpu) return std::nullopt;
  return providers::NextCpuChoice(SpecFor(kind), failed, err, host_.caps.usable_models);
}

bool CpuChoices::Worked(const providers::DeviceKind& kind, const CpuChoice& working) {
  CpuChoice first = First(kind);
  if (working == first) return false;
  std::string key = providers::CpuChoiceKey(first);
  auto it = cached_.find(key);
  if (it != cached_.end() && it->second == working) return false;
  cached_[key] = working;
  LogInfo("CPU choice cached for this host", {{"first", providers::DescribeCpu(first)},
                                              {"working", providers::DescribeCpu(working)},
                                              {"file", path_}});
  return true;
}

void CpuChoices::Load(std::string_view cache_json) {
  cached_.clear();
  if (cache_json.empty()) return;  // nothing cached yet
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view signature;
  simdjson::dom::array entries;
  if (parser.parse(simdjson::padded_string(cache_json)).get(doc) ||
      doc["signature"].get_string().get(signature) || doc["choices"].get_array().get(entries)) {
    LogWarn("CPU choice cache unreadable; ignored", {{"file", path_}});
    return;
  }
  if (signature != host_.Signature()) {
    LogInfo("CPU choice cache is for another host or QEMU; ignored",
            {{"file", path_},
             {"cached_for", std::string(signature)},
             {"this_host", host_.Signature()}});
    return;
  }
  for (auto entry : entries) {
    std::string_view first;
    simdjson::dom::element choice;
    if (entry["first"].get_string().get(first) || entry["choice"].get(choice)) continue;
    if (auto c = ChoiceFromJson(choice)) cached_[std::string(first)] = *c;
  }
}

std::string CpuChoices::CacheJson() const {
  JsonWriter w;
  w.BeginObject().Key("signature").String(host_.Signature()).Key("choices").BeginArray();
  for (const auto& [first, choice] : cached_) {
    w.BeginObject().Key("first").String(first);
    w.Key("choice").Raw(providers::CpuChoiceToJson(choice)).EndObject();
  }
  w.EndArray().EndObject();
  return w.Take() + "\n";
}

std::string ReadCpuCache(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Status WriteCpuCache(const std::string& path, const std::string& json) {
  std::string tmp = path + ".tmp";
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json;
    if (!out) return Internal("write " + tmp);
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Internal("rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

std::string CpuChoices::CachedSummary() const {
  if (cached_.empty()) return "none cached";
  std::string out;
  for (const auto& [first, choice] : cached_) {
    if (!out.empty()) out += "; ";
    out += first + " -> " + providers::DescribeCpu(choice);
  }
  return out;
}

std::string CpuChoices::Json() const {
  JsonWriter w;
  w.BeginObject().Key("host").Raw(providers::HostInfoJson(host_));
  w.Key("cached").BeginObject();
  for (const auto& [first, choice] : cached_) w.Key(first).String(providers::DescribeCpu(choice));
  w.EndObject().Key("cache_file").String(path_).EndObject();
  return w.Take();
}

}  // namespace labvirt::engine
