// HostProbe: what this host offers a VM's CPU — KVM or TCG, whether the host is itself a VM
// (nested), the CPU vendor, and libvirt's view of the CPU modes (domain capabilities). labvirtd
// probes once at start and after each reconnect, logs one line (DescribeHost) and reports it in
// host.info; the CPU ladder (providers/cpu_policy.h) reads the vendor and the usable models.
//
// ProbeLocalHost reads /dev/kvm, /proc/cpuinfo and uname only (cheap, any thread);
// ParseDomainCapabilities is pure. Neither talks to libvirt: the Hypervisor's
// GetHostCapabilities fetches the XML.
#ifndef LABVIRT_PROVIDERS_HOST_PROBE_H_
#define LABVIRT_PROVIDERS_HOST_PROBE_H_

#include <string>
#include <string_view>
#include <vector>

#include "reactor/base/status.h"

namespace labvirt::providers {

// libvirt's <domainCapabilities><cpu> for one virt type.
struct HostCpuCaps {
  bool host_passthrough = false;  // mode host-passthrough supported
  bool host_model = false;        // mode host-model supported
  std::string host_model_name;    // what host-model expands to, e.g. "EPYC-Rome" or "kvm64"
  int host_model_features = 0;    // features it adds to that model
  std::vector<std::string> usable_models;  // custom models libvirt marks usable='yes'
};

struct HostInfo {
  bool kvm = false;     // /dev/kvm opens read-write: QEMU runs under KVM, else TCG
  bool nested = false;  // the CPUID hypervisor bit: this host is itself a guest
  // The module behind /dev/kvm: kvm_intel, kvm_amd, or kvm_pvm (PVM: KVM for guests without
  // hardware virtualisation, every real-mode instruction emulated); "" when none is loaded.
  std::string kvm_module;
  std::string vendor;        // "amd", "intel", or "" (another or unknown)
  std::string model_name;    // /proc/cpuinfo "model name"
  std::string kernel;        // uname -r
  std::string qemu_version;  // "7.2.0" (from libvirt), "" until known
  // "vendor_id/family/model/stepping/kernel/qemu/kvm|tcg": a cached CPU choice is valid only for
  // the same signature.
  std::string Signature() const;
  bool caps_known = false;
  std::string caps_error;  // why caps are unknown (libvirt unreachable, …)
  HostCpuCaps caps;
  std::string cpu_id;  // vendor_id/family/model/stepping as read
};

// The local facts (everything but caps and qemu_version).
HostInfo ProbeLocalHost();
// Parses /proc/cpuinfo text into `info` (vendor, model_name, nested, cpu_id). For tests.
void ParseCpuInfo(std::string_view cpuinfo, HostInfo* info);

// Parses virConnectGetDomainCapabilities XML. InvalidArgument when it is not such a document.
Result<HostCpuCaps> ParseDomainCapabilities(const std::string& xml);

// One line a user can read: "KVM (nested: this host is a VM), AMD EPYC (amd), kernel 6.18,
// QEMU 7.2.0; host-passthrough supported, host-model = kvm64 + 27 features, 4 usable models".
std::string DescribeHost(const HostInfo& info);

// {"accelerator":"kvm","nested":true,"vendor":"amd","model_name":…,"kernel":…,"qemu":…,
//  "host_passthrough":…,"host_model":…,"usable_models":[…]} (caps fields only when known).
std::string HostInfoJson(const HostInfo& info);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_HOST_PROBE_H_
