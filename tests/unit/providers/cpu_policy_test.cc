#include "providers/cpu_policy.h"

#include "gtest/gtest.h"

namespace labvirt::providers {
namespace {

// libvirt's answer on the nested-KVM host (AMD EPYC, kernel 6.18, QEMU 7.2), verbatim.
constexpr const char* kMsr10a =
    "internal error: qemu unexpectedly closed the monitor: 2026-12-03T12:09:23.821019Z "
    "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x400000000c000069\n"
    "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion `ret == "
    "cpu->kvm_msr_buf->nmsrs' failed.";

TEST(ClassifyCpuErrorTest, MapsTheMsrQemuCouldNotSetToAFeature) {
  CpuError e = ClassifyCpuError(kMsr10a);
  EXPECT_TRUE(e.is_cpu);
  EXPECT_EQ(e.msr, "0x10a");
  EXPECT_EQ(e.features, std::vector<std::string>{"arch-capabilities"});
  EXPECT_FALSE(e.pmu);
  EXPECT_EQ(e.excerpt, "failed to set MSR 0x10a to 0x400000000c000069");

  EXPECT_EQ(ClassifyCpuError("error: failed to set MSR 0x345 to 0x2000").features,
            std::vector<std::string>{"pdcm"});
  EXPECT_EQ(ClassifyCpuError("error: failed to set MSR 0xe1 to 0x0").features,
            std::vector<std::string>{"waitpkg"});
  CpuError pmu = ClassifyCpuError("error: failed to set MSR 0x38d to 0x0");
  EXPECT_TRUE(pmu.pmu);
  EXPECT_TRUE(pmu.features.empty());
}

TEST(ClassifyCpuErrorTest, AnMsrFailureWithoutANumberBlamesTheUsualTwo) {
  CpuError e = ClassifyCpuError("qemu: kvm_put_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs'");
  EXPECT_TRUE(e.is_cpu);
  EXPECT_EQ(e.features, std::vector<std::string>{"arch-capabilities"});
  EXPECT_TRUE(e.pmu);
}

TEST(ClassifyCpuErrorTest, KnowsQemuAndLibvirtCpuRefusals) {
  CpuError feat = ClassifyCpuError(
      "qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.07H:EBX.hle "
      "[bit 4]");
  EXPECT_TRUE(feat.is_cpu);
  EXPECT_EQ(feat.features, std::vector<std::string>{"hle"});
  for (const char* text :
       {"the CPU is incompatible with host CPU: Host CPU does not provide required features: svm",
        "unsupported configuration: CPU mode 'host-passthrough' for x86_64 kvm domain on x86_64 "
        "host is not supported by hypervisor",
        "qemu-system-x86_64: CPU model 'host' requires KVM or HVF",
        "guest CPU doesn't match specification: missing features: vmx"}) {
    EXPECT_TRUE(ClassifyCpuError(text).is_cpu) << text;
  }
}

TEST(ClassifyCpuErrorTest, OtherStartErrorsAreNotTheCpus) {
  for (const char* text :
       {"Cannot access storage file '/x.qcow2': No such file or directory",
        "Unable to create tap device lv-ab: Operation not permitted", "", "MSR"}) {
    EXPECT_FALSE(ClassifyCpuError(text).is_cpu) << text;
  }
}

TEST(NextCpuChoiceTest, HostPassthroughWalksDownToTheNamedFallback) {
  CpuSpec spec;
  spec.mode = "host-passthrough";
  spec.disabled_features = {"smep"};
  CpuChoice c = FirstCpuChoice(spec, "kind");
  CpuError msr = ClassifyCpuError(kMsr10a);

  auto step2 = NextCpuChoice(spec, c, msr, {});
  ASSERT_TRUE(step2);
  EXPECT_EQ(DescribeCpu(*step2), "host-passthrough -smep -arch-capabilities");
  EXPECT_NE(step2->reason.find("failed to set MSR 0x10a"), std::string::npos) << step2->reason;

  // The same failure again: nothing new to disable, so down to host-model, keeping what is off.
  auto step3 = NextCpuChoice(spec, *step2, msr, {});
  ASSERT_TRUE(step3);
  EXPECT_EQ(DescribeCpu(*step3), "host-model -smep -arch-capabilities");

  auto step4 = NextCpuChoice(spec, *step3, msr, {"pentium3"});
  ASSERT_TRUE(step4);
  EXPECT_EQ(DescribeCpu(*step4), "custom qemu64 -smep -arch-capabilities check=none");
  EXPECT_NE(step4->reason.find("not fully usable"), std::string::npos) << step4->reason;

  EXPECT_FALSE(NextCpuChoice(spec, *step4, msr, {}));
}

TEST(NextCpuChoiceTest, EachNewFailingFeatureIsOneStepUpToALimit) {
  CpuSpec spec;
  spec.mode = "host-passthrough";
  CpuChoice c = FirstCpuChoice(spec, "kind");
  const char* msrs[] = {"0x10a", "0x345", "0xe1", "0x3b"};
  for (int i = 0; i < kMaxExtraSteps; ++i) {
    auto next = NextCpuChoice(
        spec, c, ClassifyCpuError(std::string("failed to set MSR ") + msrs[i] + " to 0x0"), {});
    ASSERT_TRUE(next);
    EXPECT_EQ(next->mode, "host-passthrough");
    c = *next;
  }
  auto next = NextCpuChoice(spec, c, ClassifyCpuError("failed to set MSR 0x3b to 0x0"), {});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->mode, "host-model") << "the limit reached, the mode steps down";
}

TEST(NextCpuChoiceTest, ACustomModelFirstLosesLibvirtsCheckThenBecomesTheFallback) {
  CpuSpec spec;
  spec.mode = "custom";
  spec.model = "Haswell-noTSX";
  spec.fallback_model = "Nehalem";
  CpuError svm = ClassifyCpuError(
      "the CPU is incompatible with host CPU: Host CPU does not provide required features: svm");
  auto a = NextCpuChoice(spec, FirstCpuChoice(spec, ""), svm, {});
  ASSERT_TRUE(a);
  EXPECT_EQ(DescribeCpu(*a), "custom Haswell-noTSX check=none");
  auto b = NextCpuChoice(spec, *a, svm, {"Nehalem"});
  ASSERT_TRUE(b);
  EXPECT_EQ(DescribeCpu(*b), "custom Nehalem check=none");
  EXPECT_EQ(b->reason.find("not fully usable"), std::string::npos) << "Nehalem is usable";
  EXPECT_FALSE(NextCpuChoice(spec, *b, svm, {}));
}

TEST(NextCpuChoiceTest, AnUnknownModelGoesStraightToTheFallback) {
  CpuSpec spec;
  spec.mode = "custom";
  spec.model = "NoSuchCpu";
  CpuError unknown = ClassifyCpuError("internal error: Unknown CPU model NoSuchCpu");
  EXPECT_TRUE(unknown.is_cpu);
  EXPECT_TRUE(unknown.unknown_model);
  auto next = NextCpuChoice(spec, FirstCpuChoice(spec, ""), unknown, {});
  ASSERT_TRUE(next);
  EXPECT_EQ(DescribeCpu(*next), "custom qemu64 check=none");
}

TEST(CpuChoiceTest, KeyIgnoresFeatureOrderAndJsonSaysWhy) {
  CpuChoice a;
  a.mode = "host-passthrough";
  a.disabled_features = {"b", "a"};
  CpuChoice b = a;
  b.disabled_features = {"a", "b"};
  EXPECT_EQ(CpuChoiceKey(a), CpuChoiceKey(b));
  a.reason = "because";
  EXPECT_NE(CpuChoiceToJson(a).find(R"("disabled":["b","a"])"), std::string::npos);
  EXPECT_NE(CpuChoiceToJson(a).find(R"("reason":"because")"), std::string::npos);
}

TEST(KilledByLibvirtDuringStartTest, OnlyLibvirtdsOwnSigtermCounts) {
  EXPECT_TRUE(KilledByLibvirtDuringStart(
      "internal error: qemu unexpectedly closed the monitor: 2026-12-03T14:49:22Z "
      "qemu-system-x86_64: terminating on signal 15 from pid 17119 (libvirtd)"));
  EXPECT_FALSE(KilledByLibvirtDuringStart(
      "qemu-system-x86_64: terminating on signal 15 from pid 4242 (/usr/bin/kill)"));
  EXPECT_FALSE(KilledByLibvirtDuringStart("qemu-system-x86_64: failed to set MSR 0x10a to 0x1"));
}

}  // namespace
}  // namespace labvirt::providers
