#include "engine/lab/ksm_meter.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// A fake /sys/kernel/mm/ksm, libvirt run dir and /proc under one temporary directory.
class KsmMeterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/labvirt-ksm-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    paths_ = {(root_ / "ksm").string(), (root_ / "run").string(), (root_ / "proc").string()};
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path root_;
  KsmPaths paths_;
};

TEST(KsmParseTest, ReadsCountersAndStatKeys) {
  EXPECT_EQ(ParseKsmCount("1234\n"), 1234);
  EXPECT_EQ(ParseKsmCount("0"), 0);
  EXPECT_FALSE(ParseKsmCount("").has_value());
  EXPECT_FALSE(ParseKsmCount("12ab\n").has_value());
  const char* stat =
      "ksm_rmap_items 40\nksm_zero_pages 0\nksm_merging_pages 300\nksm_process_profit "
      "1225600\nksm_merge_any: no\n";
  EXPECT_EQ(ParseKsmStat(stat, "ksm_merging_pages"), 300);
  EXPECT_EQ(ParseKsmStat(stat, "ksm_process_profit"), 1225600);
  // A key is matched whole: "ksm_merging" is not a prefix match of "ksm_merging_pages".
  EXPECT_FALSE(ParseKsmStat(stat, "ksm_merging").has_value());
  EXPECT_FALSE(ParseKsmStat(stat, "ksm_merge_any").has_value());  // not a number
}

TEST_F(KsmMeterTest, HostCountersAbsentWithoutSysfs) {
  EXPECT_FALSE(ReadKsmHost(paths_.sys_ksm).present);
  Write(fs::path(paths_.sys_ksm) / "run", "1\n");
  Write(fs::path(paths_.sys_ksm) / "pages_shared", "10\n");
  Write(fs::path(paths_.sys_ksm) / "pages_sharing", "250\n");
  KsmHostCounters c = ReadKsmHost(paths_.sys_ksm);
  EXPECT_TRUE(c.present);
  EXPECT_EQ(c.run, 1);
  EXPECT_EQ(c.pages_shared, 10);
  EXPECT_EQ(c.pages_sharing, 250);
  EXPECT_EQ(c.full_scans, 0);  // missing file
}

TEST_F(KsmMeterTest, SumsPerKindAndSkipsVmsThatAreGone) {
  Write(fs::path(paths_.qemu_run_dir) / "lv-a-r1.pid", "101");
  Write(fs::path(paths_.qemu_run_dir) / "lv-a-r2.pid", "102\n");
  Write(fs::path(paths_.qemu_run_dir) / "lv-a-s1.pid", "103\n");
  Write(fs::path(paths_.proc) / "101" / "ksm_stat",
        "ksm_merging_pages 100\nksm_process_profit 4000\n");
  Write(fs::path(paths_.proc) / "102" / "ksm_stat",
        "ksm_merging_pages 50\nksm_process_profit 1000\n");
  // An older kernel: ksm_merging_pages only.
  Write(fs::path(paths_.proc) / "103" / "ksm_merging_pages", "7\n");
  std::vector<KsmVm> vms = {{"iosv", "lv-a-r1", true},
                            {"iosv", "lv-a-r2", true},
                            {"iosv", "lv-a-gone", true},
                            {"veos", "lv-a-s1", false}};
  auto kinds = ReadKsmPerKind(vms, paths_);
  ASSERT_EQ(kinds.size(), 2u);
  EXPECT_EQ(kinds["iosv"].vms, 3);
  EXPECT_EQ(kinds["iosv"].read, 2);
  EXPECT_EQ(kinds["iosv"].merging_pages, 150);
  EXPECT_EQ(kinds["iosv"].profit_bytes, 5000);
  EXPECT_EQ(kinds["veos"].merging_pages, 7);
  EXPECT_FALSE(kinds["veos"].sharing_allowed);
}

TEST(KsmRenderTest, RendersHostAndPerKindGauges) {
  KsmSample s;
  std::string none;
  RenderKsmMetrics(s, 4096, none);
  EXPECT_TRUE(none.empty());  // nothing sampled yet
  s.sampled = true;
  s.host.present = true;
  s.host.run = 1;
  s.host.pages_sharing = 256;
  s.kinds["iosv"] = {.vms = 2, .read = 2, .merging_pages = 10, .profit_bytes = 30000};
  std::string out;
  RenderKsmMetrics(s, 4096, out);
  EXPECT_NE(out.find("labvirt_ksm_pages_sharing 256\n"), std::string::npos) << out;
  EXPECT_NE(out.find("labvirt_ksm_saved_bytes 1048576\n"), std::string::npos) << out;
  EXPECT_NE(out.find("labvirt_ksm_merging_pages{kind=\"iosv\"} 10\n"), std::string::npos) << out;
  EXPECT_NE(out.find("labvirt_ksm_merged_bytes{kind=\"iosv\"} 40960\n"), std::string::npos);
  EXPECT_NE(out.find("labvirt_ksm_vms{kind=\"iosv\",sharing=\"yes\"} 2\n"), std::string::npos);
}

}  // namespace
}  // namespace labvirt::engine
