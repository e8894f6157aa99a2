// The soak verdict (tests/support/soak_summary.h) and the sampling helpers that need no daemon:
// drift judged from the sample after cycle 1, RSS slopes within each labvirtd lifetime only.
#include "tests/support/soak_summary.h"

#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace labvirt::testing {
namespace {

SoakSample At(int cycle, int lifetime, int64_t rss, int64_t fds = 20) {
  SoakSample s;
  s.cycle = cycle;
  s.lifetime = lifetime;
  s.rss_kib = rss;
  s.rss_anon_kib = rss / 2;
  s.fds = fds;
  s.threads = 5;
  s.bridge_ports = 3;
  s.lab_ports = 0;
  s.domains = 0;
  s.state_files = 4;
  s.helpers = 0;
  return s;
}

const SoakDrift& DriftOf(const SoakSummary& s, const std::string& metric) {
  for (const auto& d : s.drifts) {
    if (d.metric == metric) return d;
  }
  static SoakDrift none{"none"};
  ADD_FAILURE() << "no drift for " << metric;
  return none;
}

TEST(SoakSummaryTest, CountsBackWhereTheyWereAfterCycleOneAreNoDrift) {
  // The baseline (cycle 0) has fewer fds than after cycle 1: lazily opened connections do not
  // count as drift.
  std::vector<SoakSample> samples = {At(0, 0, 9000, 12), At(1, 0, 10000), At(2, 0, 10000),
                                     At(3, 0, 10000)};
  SoakSummary s = Summarize(samples, 1);
  EXPECT_EQ(s.cycles, 3);
  EXPECT_FALSE(s.drifted) << SoakSummaryText(s);
  EXPECT_EQ(DriftOf(s, "fds").first, 20);
  EXPECT_EQ(DriftOf(s, "fds").drift(), 0);
}

TEST(SoakSummaryTest, OneMoreFdOrPortOrFileAtTheEndIsDrift) {
  for (int64_t SoakSample::*field :
       {&SoakSample::fds, &SoakSample::bridge_ports, &SoakSample::lab_ports, &SoakSample::domains,
        &SoakSample::state_files, &SoakSample::helpers}) {
    std::vector<SoakSample> samples = {At(0, 0, 9000), At(1, 0, 10000), At(2, 0, 10000)};
    samples.back().*field += 1;
    EXPECT_TRUE(Summarize(samples, 1).drifted);
  }
}

TEST(SoakSummaryTest, ThreadsAreReportedNotJudged) {
  std::vector<SoakSample> samples = {At(1, 0, 10000), At(2, 0, 10000)};
  samples.back().threads = 9;
  SoakSummary s = Summarize(samples, 0);
  EXPECT_FALSE(s.drifted);
  EXPECT_EQ(DriftOf(s, "threads").drift(), 4);
  EXPECT_FALSE(DriftOf(s, "threads").judged);
}

TEST(SoakSummaryTest, AnUnreadableCountOrNoCycleIsNotEvidenceOfNoDrift) {
  std::vector<SoakSample> samples = {At(1, 0, 10000), At(2, 0, 10000)};
  samples.front().domains = -1;
  samples.back().domains = -1;
  EXPECT_TRUE(Summarize(samples, 0).drifted);
  EXPECT_TRUE(Summarize({At(0, 0, 9000)}, 0).drifted);
}

TEST(SoakSummaryTest, RssSlopeIsFittedWithinEachLifetimeAfterWarmUp) {
  // Lifetime 0 grows 10 KiB a cycle after a warm-up jump; lifetime 1 (a restarted labvirtd)
  // starts far lower and grows 30 KiB a cycle. Across the restart RSS falls: a fit over all
  // samples would say it shrinks.
  std::vector<SoakSample> samples = {At(0, 0, 5000),  At(1, 0, 20000), At(2, 0, 20010),
                                     At(3, 0, 20020), At(4, 1, 8000),  At(5, 1, 8030),
                                     At(6, 1, 8060)};
  SoakSummary s = Summarize(samples, 1);
  ASSERT_EQ(s.lifetimes.size(), 2u);
  EXPECT_EQ(s.lifetimes[0].first_cycle, 0);
  EXPECT_EQ(s.lifetimes[0].last_cycle, 3);
  EXPECT_EQ(s.lifetimes[0].first_rss_kib, 5000);
  EXPECT_EQ(s.lifetimes[0].last_rss_kib, 20020);
  EXPECT_EQ(s.lifetimes[0].fitted, 3);
  ASSERT_TRUE(s.lifetimes[0].slope_kib_per_cycle);
  EXPECT_DOUBLE_EQ(*s.lifetimes[0].slope_kib_per_cycle, 10.0);
  EXPECT_EQ(s.lifetimes[1].fitted, 2);
  ASSERT_TRUE(s.lifetimes[1].slope_kib_per_cycle);
  EXPECT_DOUBLE_EQ(*s.lifetimes[1].slope_kib_per_cycle, 30.0);
  // Pooled: Sxy/Sxx over both lifetimes = (10*2 + 30*0.5) / (2 + 0.5).
  ASSERT_TRUE(s.rss_slope_kib_per_cycle);
  EXPECT_DOUBLE_EQ(*s.rss_slope_kib_per_cycle, 14.0);
  ASSERT_TRUE(s.rss_anon_slope_kib_per_cycle);
  EXPECT_DOUBLE_EQ(*s.rss_anon_slope_kib_per_cycle, 7.0) << "RssAnon is half of RSS here";
}

TEST(SoakSummaryTest, ALifetimeWithOneFittedSampleHasNoSlope) {
  SoakSummary s = Summarize({At(1, 0, 100), At(2, 0, 200), At(3, 1, 50)}, 1);
  ASSERT_EQ(s.lifetimes.size(), 2u);
  EXPECT_FALSE(s.lifetimes[0].slope_kib_per_cycle);
  EXPECT_FALSE(s.lifetimes[1].slope_kib_per_cycle);
  EXPECT_FALSE(s.rss_slope_kib_per_cycle);
}

TEST(SoakSummaryTest, TheReportIsJsonWithEverySampleAndTheVerdict) {
  std::vector<SoakSample> samples = {At(0, 0, 9000), At(1, 0, 10000), At(2, 1, 10000)};
  samples[1].phase_s = {{"deploy", 3.25}, {"destroy", 0.5}};
  SoakSummary s = Summarize(samples, 0);
  std::string json = SoakReportJson(R"({"cycles":2})", samples, s);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(json).get(doc)) << json;
  EXPECT_EQ(doc["config"]["cycles"].get_int64().value(), 2);
  EXPECT_EQ(doc["samples"].get_array().size(), 3u);
  EXPECT_DOUBLE_EQ(doc["samples"].at(1)["phase_s"]["deploy"].get_double().value(), 3.25);
  EXPECT_EQ(doc["samples"].at(1)["rss_anon_kib"].get_int64().value(), 5000);
  EXPECT_EQ(doc["summary"]["drift"]["fds"]["drift"].get_int64().value(), 0);
  EXPECT_EQ(doc["summary"]["rss_lifetimes"].get_array().size(), 2u);
  EXPECT_FALSE(doc["summary"]["drifted"].get_bool().value());
}

TEST(SoakSampleTest, ProcStatusValueReadsTheNumberOfANamedLine) {
  const std::string status =
      "Name:\tlabvirtd\nVmRSSmax:\t1 kB\nVmRSS:\t   12345 kB\nThreads:\t7\nVmSwap:\tx kB\n";
  EXPECT_EQ(ProcStatusValue(status, "VmRSS"), 12345);
  EXPECT_EQ(ProcStatusValue(status, "Threads"), 7);
  EXPECT_EQ(ProcStatusValue(status, "VmSwap"), -1);
  EXPECT_EQ(ProcStatusValue(status, "VmHWM"), -1);
  EXPECT_EQ(ProcStatusValue("", "VmRSS"), -1);
}

TEST(SoakSampleTest, CountFilesCountsRegularFilesBelowADirectoryButTheSkippedOne) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("soak_files_" + std::to_string(::getpid()));
  fs::create_directories(dir / "overlays" / "lab");
  std::ofstream(dir / "labvirtd.log") << "x";
  std::ofstream(dir / "overlays" / "lab" / "r1.qcow2") << "x";
  std::ofstream(dir / "cache.json") << "x";
  fs::create_symlink(dir / "cache.json", dir / "latest");
  EXPECT_EQ(CountFiles(dir.string(), "labvirtd.log"), 2);
  EXPECT_EQ(CountFiles(dir.string(), ""), 3);
  EXPECT_EQ(CountFiles((dir / "missing").string(), ""), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace labvirt::testing
