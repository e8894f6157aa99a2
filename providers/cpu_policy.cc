#include "providers/cpu_policy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <utility>

#include "reactor/base/json_writer.h"

namespace labvirt::providers {
namespace {

// MSRs QEMU writes at start and the feature whose removal stops it writing them. Sources: the
// Intel SDM's MSR tables and QEMU's target/i386/kvm/kvm.c (kvm_put_msrs); the issue trackers of
// GNS3, EVE-NG and Proxmox for the ones seen failing under nested virtualisation.
struct MsrFeature {
  unsigned long first, last;  // inclusive range
  const char* feature;        // nullptr: the PMU (switched off, not a CPUID feature)
};
constexpr std::array<MsrFeature, 9> kMsrFeatures = {{
    {0x10a, 0x10a, "arch-capabilities"},  // IA32_ARCH_CAPABILITIES (measured here)
    {0x345, 0x345, "pdcm"},               // IA32_PERF_CAPABILITIES
    {0xe1, 0xe1, "waitpkg"},              // IA32_UMWAIT_CONTROL
    {0x3b, 0x3b, "tsc_adjust"},           // IA32_TSC_ADJUST
    {0x6e0, 0x6e0, "tsc-deadline"},       // IA32_TSC_DEADLINE
    {0x480, 0x491, "vmx"},                // IA32_VMX_* capability MSRs (nested VMX)
    {0xc1, 0xc8, nullptr},                // IA32_PMCx
    {0x186, 0x18d, nullptr},              // IA32_PERFEVTSELx
    {0x38d, 0x392, nullptr},              // fixed counters, global perf control/status
}};

bool Contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// The line of `message` holding `needle`, trimmed to something a reason can carry.
std::string LineWith(std::string_view message, std::string_view needle) {
  size_t at = message.find(needle);
  size_t begin = message.rfind('\n', at);
  begin = begin == std::string_view::npos ? 0 : begin + 1;
  size_t end = message.find('\n', at);
  std::string_view line = message.substr(begin, end == std::string_view::npos ? end : end - begin);
  // QEMU prefixes its lines with a timestamp and its own name: keep what follows "error: ".
  if (size_t e = line.substr(0, at - begin).rfind("error: "); e != std::string_view::npos) {
    line.remove_prefix(e + 7);
  }
  return std::string(line.substr(0, 200));
}

void AddUnique(std::vector<std::string>* list, const std::string& item) {
  if (std::find(list->begin(), list->end(), item) == list->end()) list->push_back(item);
}

// "failed to set MSR 0x10a to 0x…": the MSR's number ("0x10a") and its feature.
void ReadMsr(std::string_view message, CpuError* err) {
  constexpr std::string_view kSet = "failed to set MSR ";
  size_t at = message.find(kSet);
  if (at == std::string_view::npos) return;
  std::string_view rest = message.substr(at + kSet.size());
  size_t len = 0;
  while (len < rest.size() && len < 18 &&
         (std::isxdigit(static_cast<unsigned char>(rest[len])) ||
          (len == 1 && (rest[len] == 'x' || rest[len] == 'X')))) {
    ++len;
  }
  err->msr = std::string(rest.substr(0, len));
  unsigned long msr = std::strtoul(err->msr.c_str(), nullptr, 16);
  for (const auto& m : kMsrFeatures) {
    if (msr < m.first || msr > m.last) continue;
    if (m.feature == nullptr) {
      err->pmu = true;
    } else {
      err->features.emplace_back(m.feature);
    }
    return;
  }
}

// "host doesn't support requested feature: CPUID.07H:EBX.hle [bit 4]": the feature "hle".
void ReadRequestedFeature(std::string_view message, CpuError* err) {
  constexpr std::string_view kReq = "doesn't support requested feature: ";
  size_t at = message.find(kReq);
  if (at == std::string_view::npos) return;
  std::string_view rest = message.substr(at + kReq.size());
  rest = rest.substr(0, rest.find_first_of(" \n"));
  size_t dot = rest.rfind('.');
  if (dot != std::string_view::npos) rest.remove_prefix(dot + 1);
  if (!rest.empty()) AddUnique(&err->features, std::string(rest));
}

}  // namespace

CpuError ClassifyCpuError(std::string_view message) {
  // Every text that means "this CPU configuration cannot run here", from QEMU or from libvirt's
  // own checks before QEMU runs.
  static constexpr std::array<std::string_view, 12> kMarkers = {
      "Unknown CPU model",
      "failed to set MSR",
      "kvm_buf_set_msrs",
      "kvm_put_msrs",
      "requires KVM",
      "doesn't support requested feature",
      "the CPU is incompatible with host CPU",
      "guest CPU doesn't match specification",
      "is not supported by hypervisor",
      "Unable to find CPU model",
      "unable to find CPU model",
      "unknown CPU feature",
  };
  CpuError err;
  for (std::string_view marker : kMarkers) {
    if (!Contains(message, marker)) continue;
    err.is_cpu = true;
    err.excerpt = LineWith(message, marker);
    break;
  }
  if (!err.is_cpu) return err;
  err.unknown_model =
      Contains(message, "Unknown CPU model") || Contains(message, "nable to find CPU model");
  ReadMsr(message, &err);
  ReadRequestedFeature(message, &err);
  // An MSR write that failed without a number we know: the two culprits seen most often.
  if ((Contains(message, "MSR") || Contains(message, "_msrs")) && err.features.empty() &&
      !err.pmu) {
    err.features.emplace_back("arch-capabilities");
    err.pmu = true;
  }
  return err;
}

bool KilledByLibvirtDuringStart(std::string_view message) {
  return Contains(message, "terminating on signal 15 from pid") && Contains(message, "(libvirtd)");
}

CpuChoice FirstCpuChoice(const CpuSpec& spec, std::string reason) {
  CpuChoice c;
  c.mode = spec.mode;
  c.model = spec.model;
  c.required_features = spec.required_features;
  c.disabled_features = spec.disabled_features;
  c.reason = std::move(reason);
  return c;
}

std::optional<CpuChoice> NextCpuChoice(const CpuSpec& spec, const CpuChoice& failed,
                                       const CpuError& err,
                                       const std::vector<std::string>& usable_models) {
  std::string why = "after " + DescribeCpu(failed) + " failed: " + err.excerpt;
  // Rung 2: the same mode without what QEMU could not set, while that is something new.
  if (failed.mode != "custom" && failed.extra_steps < kMaxExtraSteps) {
    CpuChoice next = failed;
    for (const auto& f : err.features) {
      AddUnique(&next.disabled_features, f);
      next.required_features.erase(
          std::remove(next.required_features.begin(), next.required_features.end(), f),
          next.required_features.end());
    }
    next.pmu_off = failed.pmu_off || err.pmu;
    if (!(next == failed)) {
      ++next.extra_steps;
      next.reason = why;
      return next;
    }
  }
  // Rung 3: host-model, keeping every feature already disabled.
  if (failed.mode == "host-passthrough") {
    CpuChoice next = failed;
    next.mode = "host-model";
    next.extra_steps = 0;
    next.reason = why;
    return next;
  }
  // Rung 4: the named fallback, with libvirt's compatibility check off (QEMU drops host-missing
  // features with a warning instead of libvirt refusing the whole model).
  if (failed.mode == "custom" && failed.check_none && failed.model == spec.fallback_model) {
    return std::nullopt;
  }
  CpuChoice next;
  next.mode = "custom";
  // A model refused by libvirt's check gets one try without it; an unknown one does not.
  bool retry_model = failed.mode == "custom" && !failed.check_none && !err.unknown_model;
  next.model = retry_model ? failed.model : spec.fallback_model;
  next.disabled_features = failed.disabled_features;
  next.pmu_off = failed.pmu_off;
  next.check_none = true;
  next.reason = why;
  if (!usable_models.empty() &&
      std::find(usable_models.begin(), usable_models.end(), next.model) == usable_models.end()) {
    next.reason += " (libvirt lists " + next.model +
                   " as not fully usable here: QEMU drops what the host lacks)";
  }
  return next;
}

std::string DescribeCpu(const CpuChoice& c) {
  std::string out = c.mode;
  if (!c.model.empty()) out += " " + c.model;
  for (const auto& f : c.required_features) out += " +" + f;
  for (const auto& f : c.disabled_features) out += " -" + f;
  if (c.pmu_off) out += " pmu=off";
  if (c.check_none) out += " check=none";
  return out;
}

std::string CpuChoiceKey(const CpuChoice& c) {
  CpuChoice sorted = c;
  std::sort(sorted.required_features.begin(), sorted.required_features.end());
  std::sort(sorted.disabled_features.begin(), sorted.disabled_features.end());
  return DescribeCpu(sorted);
}

std::string CpuChoiceToJson(const CpuChoice& c) {
  JsonWriter w;
  w.BeginObject().Key("mode").String(c.mode).Key("model").String(c.model);
  w.Key("required").BeginArray();
  for (const auto& f : c.required_features) w.String(f);
  w.EndArray().Key("disabled").BeginArray();
  for (const auto& f : c.disabled_features) w.String(f);
  w.EndArray();
  w.Key("pmu_off").Bool(c.pmu_off).Key("check_none").Bool(c.check_none);
  w.Key("summary").String(DescribeCpu(c)).Key("reason").String(c.reason);
  w.EndObject();
  return w.Take();
}

}  // namespace labvirt::providers
