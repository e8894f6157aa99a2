#include "engine/lab/host_readings.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

TEST(HostReadingsTest, ParsesThePsiSomeLine) {
  auto cpu = ParsePsiSome(
      "some avg10=99.57 avg60=83.93 avg300=35.78 total=138769304\n"
      "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  ASSERT_TRUE(cpu.has_value());
  EXPECT_DOUBLE_EQ(cpu->avg10, 99.57);
  EXPECT_EQ(cpu->total_us, 138769304u);
  // Kernels before 5.13 have no "full" line for cpu; order is not assumed.
  auto only = ParsePsiSome("full avg10=1.00 avg60=0 avg300=0 total=5\nsome avg10=2.50 total=7\n");
  ASSERT_TRUE(only.has_value());
  EXPECT_DOUBLE_EQ(only->avg10, 2.5);
  EXPECT_FALSE(ParsePsiSome("").has_value());
  EXPECT_FALSE(ParsePsiSome("some avg10=x total=1\n").has_value());
  EXPECT_FALSE(ParsePsiSome("full avg10=1.00 total=1\n").has_value());
}

TEST(HostReadingsTest, ParsesMemInfoInMib) {
  auto m = ParseMemInfo(
      "MemTotal:       24683748 kB\nMemFree:         1000000 kB\n"
      "MemAvailable:   22149120 kB\nBuffers:            1 kB\n");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->total_mib, 24683748 / 1024);
  EXPECT_EQ(m->available_mib, 22149120 / 1024);
  EXPECT_FALSE(ParseMemInfo("MemTotal: 100 kB\n").has_value());  // kernels before 3.14
}

class ProcReadingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("lvproc-" + std::to_string(::getpid()));
    fs::create_directories(root_ / "pressure");
    Write("meminfo", "MemTotal: 2097152 kB\nMemAvailable: 1048576 kB\n");
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(root_ / name) << text;
  }
  void Psi(uint64_t cpu_us, uint64_t mem_us) {
    Write("pressure/cpu", "some avg10=40.00 avg60=0 avg300=0 total=" + std::to_string(cpu_us) +
                              "\nfull avg10=0 avg60=0 avg300=0 total=0\n");
    Write("pressure/memory", "some avg10=1.00 avg60=0 avg300=0 total=" + std::to_string(mem_us) +
                                 "\nfull avg10=0 avg60=0 avg300=0 total=0\n");
  }
  fs::path root_;
  reactor::TimePoint t0_{seconds(100)};
};

TEST_F(ProcReadingsTest, RecentShareComesFromTotalBetweenReadings) {
  size_t queued = 3;
  ProcReadings source(root_.string(), [&] { return queued; });
  Psi(1'000'000, 0);
  HostReadings first = source.Read(t0_);
  EXPECT_TRUE(first.sampled && first.psi && first.meminfo);
  EXPECT_DOUBLE_EQ(first.cpu_recent, 40.0);  // first reading: avg10
  EXPECT_EQ(first.mem_available_mib, 1024);
  EXPECT_EQ(first.mem_total_mib, 2048);
  EXPECT_EQ(first.libvirt_queued, 3u);
  Psi(1'000'000 + 1'500'000, 200'000);  // 1.5 s of CPU stall and 0.2 s of memory stall in 2 s
  HostReadings second = source.Read(t0_ + seconds(2));
  EXPECT_DOUBLE_EQ(second.cpu_recent, 75.0);
  EXPECT_DOUBLE_EQ(second.mem_recent, 10.0);
  EXPECT_DOUBLE_EQ(second.cpu_avg10, 40.0);
  Psi(0, 0);  // a counter that went back (not a real kernel): no evidence of a stall
  EXPECT_DOUBLE_EQ(source.Read(t0_ + seconds(3)).cpu_recent, 0.0);
}

TEST_F(ProcReadingsTest, WithoutPsiThePressureGatesAreOff) {
  ProcReadings source(root_.string(), nullptr);
  HostReadings r = source.Read(t0_);
  EXPECT_TRUE(r.sampled);
  EXPECT_FALSE(r.psi);
  EXPECT_TRUE(r.meminfo);
  EXPECT_NE(r.ToJson().find(R"("psi":false)"), std::string::npos) << r.ToJson();
  fs::remove(root_ / "meminfo");
  EXPECT_FALSE(source.Read(t0_ + seconds(1)).meminfo);
}

}  // namespace
}  // namespace labvirt::engine
