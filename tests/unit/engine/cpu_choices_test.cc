#include "engine/lab/cpu_choices.h"

#include <unistd.h>

#include <filesystem>

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

providers::HostInfo Host() {
  providers::HostInfo h;
  h.kvm = true;
  h.vendor = "amd";
  h.cpu_id = "AuthenticAMD/25/17/1";
  h.kernel = "6.18";
  h.qemu_version = "7.2.22";
  return h;
}

providers::DeviceKind Kind() {
  providers::DeviceKind k;
  k.name = "iosv";
  k.cpu.mode = "host-passthrough";
  return k;
}

providers::CpuChoice WithoutArchCapabilities() {
  providers::CpuChoice c = providers::FirstCpuChoice(Kind().cpu, "after a refusal");
  c.disabled_features = {"arch-capabilities"};
  return c;
}

TEST(CpuChoicesTest, WhatWorkedIsCachedForThisHostOnly) {
  CpuChoices learnt("/nonexistent");
  learnt.SetHost(Host(), "");
  EXPECT_EQ(providers::DescribeCpu(learnt.Initial(Kind())), "host-passthrough");
  EXPECT_FALSE(learnt.Worked(Kind(), learnt.First(Kind()))) << "the first choice is no news";
  EXPECT_TRUE(learnt.Worked(Kind(), WithoutArchCapabilities()));
  EXPECT_FALSE(learnt.Worked(Kind(), WithoutArchCapabilities())) << "already known";
  std::string json = learnt.CacheJson();

  CpuChoices same("/nonexistent");
  same.SetHost(Host(), json);
  providers::CpuChoice initial = same.Initial(Kind());
  EXPECT_EQ(providers::DescribeCpu(initial), "host-passthrough -arch-capabilities");
  EXPECT_NE(initial.reason.find("cached"), std::string::npos) << initial.reason;
  EXPECT_TRUE(same.Outdated(Kind(), same.First(Kind())));
  EXPECT_FALSE(same.Outdated(Kind(), initial));

  providers::HostInfo upgraded = Host();
  upgraded.qemu_version = "8.2.0";
  CpuChoices other("/nonexistent");
  other.SetHost(upgraded, json);
  EXPECT_EQ(providers::DescribeCpu(other.Initial(Kind())), "host-passthrough")
      << "another QEMU: the cache is ignored";
}

TEST(CpuChoicesTest, ABrokenCacheFileIsIgnored) {
  for (const char* text : {"{", "[]", R"({"signature":1})", "\xff\xfe",
                           R"({"signature":"x","choices":[{"first":"host-passthrough"}]})"}) {
    CpuChoices c("/nonexistent");
    c.SetHost(Host(), text);
    EXPECT_EQ(providers::DescribeCpu(c.Initial(Kind())), "host-passthrough") << text;
  }
  // An entry of the right host with a mode no libvirt knows is dropped, the others kept.
  std::string sig = Host().Signature();
  CpuChoices c("/nonexistent");
  c.SetHost(Host(), R"({"signature":")" + sig +
                        R"(","choices":[{"first":"host-passthrough","choice":{"mode":"warp",)"
                        R"("model":""}}]})");
  EXPECT_EQ(providers::DescribeCpu(c.Initial(Kind())), "host-passthrough");
}

TEST(CpuChoicesTest, TheCacheFileIsReplacedWhole) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("lvcpu-" + std::to_string(::getpid()));
  std::string path = dir + "/sub/cpu-choices.json";
  EXPECT_EQ(ReadCpuCache(path), "");
  ASSERT_TRUE(WriteCpuCache(path, "first").ok());
  ASSERT_TRUE(WriteCpuCache(path, "second").ok());
  EXPECT_EQ(ReadCpuCache(path), "second");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_FALSE(WriteCpuCache("/proc/no/such/dir/cpu-choices.json", "x").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace labvirt::engine
