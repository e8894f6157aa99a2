// CPU policy: which <cpu> a node's domain gets, and what to try next when QEMU refuses it.
//
// A kind's CPU is a CpuSpec (catalog data, per host CPU vendor if the kind says so). The engine
// turns it into a CpuChoice, the first rung of a ladder; when a start fails with a CPU error
// (ClassifyCpuError), NextCpuChoice gives the next rung down:
//   1. the kind's own choice (host-passthrough, host-model or a named model, with its features);
//   2. the same mode without the feature QEMU could not set (arch-capabilities for MSR 0x10a,
//      the PMU for the performance-counter MSRs, …; an MSR it cannot map: arch-capabilities and
//      the PMU both) — repeated while each failure names a new feature, at most kMaxExtraSteps;
//   3. host-model, keeping what step 2 disabled;
//   4. the kind's named fallback model (default qemu64) with check='none', so that libvirt does
//      not refuse it for a feature the host lacks (e.g. svm where KVM is PVM) and QEMU drops it.
// Why: on KVM hosts that are themselves VMs host-passthrough and host-model abort QEMU at start
// ("failed to set MSR 0x10a": measured on an AMD EPYC guest whose /dev/kvm is kvm_pvm; peers
// report MSR 0x38d, 0xe1, 0x345 on VMware, ESXi, Proxmox). Pure functions, no I/O, any thread.
#ifndef LABVIRT_PROVIDERS_CPU_POLICY_H_
#define LABVIRT_PROVIDERS_CPU_POLICY_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace labvirt::providers {

// A kind's CPU as the catalog states it.
struct CpuSpec {
  std::string mode = "host-model";  // host-passthrough | host-model | custom
  std::string model;                // custom only: a QEMU CPU model name
  std::vector<std::string> required_features;
  std::vector<std::string> disabled_features;
  std::string fallback_model = "qemu64";  // the ladder's last rung
  bool operator==(const CpuSpec&) const = default;
};

// One rung of the ladder: exactly what the domain's <cpu> element says.
struct CpuChoice {
  std::string mode;  // host-passthrough | host-model | custom
  std::string model;
  std::vector<std::string> required_features;
  std::vector<std::string> disabled_features;
  bool pmu_off = false;     // <features><pmu state='off'/>
  bool check_none = false;  // custom: check='none' (libvirt skips its host-compatibility check)
  int extra_steps = 0;      // rung-2 steps taken (features disabled after failures)
  std::string reason;       // why this choice: the kind, the host cache, or the failure before it
  bool operator==(const CpuChoice& o) const {
    return mode == o.mode && model == o.model && required_features == o.required_features &&
           disabled_features == o.disabled_features && pmu_off == o.pmu_off &&
           check_none == o.check_none;
  }
};

inline constexpr int kMaxExtraSteps = 3;

// What a failed start's message says about the CPU.
struct CpuError {
  bool is_cpu = false;                // the failure is the CPU configuration's
  std::string msr;                    // "0x10a" when QEMU named the MSR it could not set
  std::vector<std::string> features;  // features to disable to get past it (may be empty)
  bool pmu = false;                   // the PMU is to blame (switch it off)
  bool unknown_model = false;         // QEMU or libvirt does not know the named model at all
  std::string excerpt;                // the line of the message that told us
};

// Classifies a libvirt/QEMU start error ("failed to set MSR 0x10a to …", "kvm_buf_set_msrs",
// "kvm_put_msrs", "requires KVM", "doesn't support requested feature", "the CPU is incompatible
// with host CPU", …). Unknown text is not a CPU error.
CpuError ClassifyCpuError(std::string_view message);

// True when a start failed because libvirtd itself sent QEMU SIGTERM while the start was under
// way ("terminating on signal 15 from pid N (libvirtd)"). libvirt 9.0 (Debian 12) handles the
// monitor EOF of a QEMU that died during a refused start on its worker pool, later, and kills
// whatever process the domain has by then: a retry started quickly on the same domain is shot
// by its predecessor's EOF. Not the CPU's fault: the same choice is to be tried again.
bool KilledByLibvirtDuringStart(std::string_view message);

// The kind's own choice (rung 1); `reason` as given.
CpuChoice FirstCpuChoice(const CpuSpec& spec, std::string reason);

// The next rung after `failed` was refused with `err`, or nullopt when the ladder is exhausted.
// `usable_models` (from libvirt's domain capabilities; may be empty when unknown) only colours the
// reason of the fallback rung.
std::optional<CpuChoice> NextCpuChoice(const CpuSpec& spec, const CpuChoice& failed,
                                       const CpuError& err,
                                       const std::vector<std::string>& usable_models);

// One line: "host-passthrough -arch-capabilities pmu=off", "custom qemu64 check=none".
std::string DescribeCpu(const CpuChoice& choice);

// A stable key for "the same first choice" (kinds that share one share a cached working rung).
std::string CpuChoiceKey(const CpuChoice& choice);

// As JSON: {"mode","model","required","disabled","pmu_off","check_none","summary","reason"}.
std::string CpuChoiceToJson(const CpuChoice& choice);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_CPU_POLICY_H_
