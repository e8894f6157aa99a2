#include "providers/host_probe.h"

#include "gtest/gtest.h"

namespace labvirt::providers {
namespace {

// Trimmed from `virsh domcapabilities --virttype kvm` on the nested-KVM host (libvirt 9.0).
constexpr const char* kDomCaps = R"(<domainCapabilities>
  <path>/usr/bin/qemu-system-x86_64</path>
  <domain>kvm</domain>
  <cpu>
    <mode name='host-passthrough' supported='yes'>
      <enum name='hostPassthroughMigratable'><value>on</value><value>off</value></enum>
    </mode>
    <mode name='maximum' supported='yes'/>
    <mode name='host-model' supported='yes'>
      <model fallback='forbid'>kvm64</model>
      <vendor>AMD</vendor>
      <feature policy='require' name='vme'/>
      <feature policy='require' name='arch-capabilities'/>
      <feature policy='disable' name='pni'/>
    </mode>
    <mode name='custom' supported='yes'>
      <model usable='yes' vendor='unknown'>pentium3</model>
      <model usable='no' vendor='unknown'>qemu64</model>
      <model usable='yes' vendor='unknown'>486</model>
    </mode>
  </cpu>
</domainCapabilities>)";

TEST(HostProbeTest, ReadsLibvirtsCpuModes) {
  auto caps = ParseDomainCapabilities(kDomCaps);
  ASSERT_TRUE(caps.ok()) << caps.status().ToString();
  EXPECT_TRUE(caps->host_passthrough);
  EXPECT_TRUE(caps->host_model);
  EXPECT_EQ(caps->host_model_name, "kvm64");
  EXPECT_EQ(caps->host_model_features, 2);
  EXPECT_EQ(caps->usable_models, (std::vector<std::string>{"pentium3", "486"}));
}

TEST(HostProbeTest, RefusesWhatIsNotDomainCapabilities) {
  for (const char* text : {"", "<domain/>", "<domainCapabilities", "not xml at all"}) {
    EXPECT_FALSE(ParseDomainCapabilities(text).ok()) << text;
  }
  auto empty = ParseDomainCapabilities("<domainCapabilities/>");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->host_passthrough);
  EXPECT_TRUE(empty->usable_models.empty());
}

TEST(HostProbeTest, ReadsVendorAndTheHypervisorBitFromCpuinfo) {
  HostInfo info;
  ParseCpuInfo(
      "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
      "model name\t: AMD EPYC\nstepping\t: 1\nflags\t\t: fpu vme hypervisor svm\n\n"
      "processor\t: 1\nvendor_id\t: GenuineIntel\n",
      &info);
  EXPECT_EQ(info.vendor, "amd");
  EXPECT_EQ(info.model_name, "AMD EPYC");
  EXPECT_TRUE(info.nested);
  EXPECT_EQ(info.cpu_id, "AuthenticAMD/25/17/1");

  HostInfo bare;
  ParseCpuInfo("vendor_id\t: GenuineIntel\nflags\t\t: fpu vmx\n", &bare);
  EXPECT_EQ(bare.vendor, "intel");
  EXPECT_FALSE(bare.nested) << "hypervisor is a whole flag, not a substring";
}

TEST(HostProbeTest, DescribesTheHostInOneLine) {
  HostInfo info;
  info.kvm = true;
  info.nested = true;
  info.vendor = "amd";
  info.model_name = "AMD EPYC";
  info.kernel = "6.18";
  info.qemu_version = "7.2.22";
  info.caps_known = true;
  info.caps = *ParseDomainCapabilities(kDomCaps);
  std::string line = DescribeHost(info);
  EXPECT_EQ(line,
            "KVM (nested: this host is itself a VM), AMD EPYC (amd), kernel 6.18, QEMU 7.2.22; "
            "host-passthrough supported, host-model = kvm64 + 2 features, 2 usable named models");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  info.kvm = false;
  info.caps_known = false;
  info.caps_error = "libvirt unreachable";
  EXPECT_NE(DescribeHost(info).find("TCG"), std::string::npos);
  EXPECT_NE(HostInfoJson(info).find(R"("accelerator":"tcg")"), std::string::npos);
  EXPECT_NE(HostInfoJson(info).find(R"("caps_error":"libvirt unreachable")"), std::string::npos);
}

}  // namespace
}  // namespace labvirt::providers
