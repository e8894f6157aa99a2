#include "engine/lab/metrics.h"

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Histogram h({0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 20.0}) h.Observe(v);
  std::string out;
  h.Render(out, "x_seconds", Label("kind", "iosv"));
  EXPECT_TRUE(Has(out, R"(x_seconds_bucket{kind="iosv",le="0.1"} 2)")) << out;
  EXPECT_TRUE(Has(out, R"(x_seconds_bucket{kind="iosv",le="1"} 3)")) << out;
  EXPECT_TRUE(Has(out, R"(x_seconds_bucket{kind="iosv",le="10"} 3)")) << out;
  EXPECT_TRUE(Has(out, R"(x_seconds_bucket{kind="iosv",le="+Inf"} 4)")) << out;
  EXPECT_TRUE(Has(out, R"(x_seconds_sum{kind="iosv"} 20.65)")) << out;
  EXPECT_TRUE(Has(out, R"(x_seconds_count{kind="iosv"} 4)")) << out;
}

TEST(MetricsTest, UnlabelledHistogramHasOnlyLe) {
  Histogram h({1});
  h.Observe(2);
  std::string out;
  h.Render(out, "y", "");
  EXPECT_TRUE(Has(out, R"(y_bucket{le="1"} 0)")) << out;
  EXPECT_TRUE(Has(out, "y_count 1")) << out;
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(Label("node", "a\"b\\c\nd"), R"(node="a\"b\\c\nd")");
}

TEST(MetricsTest, LatencyTableHasOneHeaderAndAHistogramPerKey) {
  LatencyTable t("verb");
  t.Observe("define", 0.002);
  t.Observe("start", 0.3);
  t.Observe("define", 0.004);
  std::string out;
  t.Render(out, "calls_seconds", "help text");
  EXPECT_EQ(out.find("# HELP calls_seconds help text\n# TYPE calls_seconds histogram\n"), 0u);
  EXPECT_EQ(out.find("# TYPE", out.find("# TYPE") + 1), std::string::npos) << "one header";
  EXPECT_TRUE(Has(out, R"(calls_seconds_count{verb="define"} 2)")) << out;
  EXPECT_TRUE(Has(out, R"(calls_seconds_count{verb="start"} 1)")) << out;
}

}  // namespace
}  // namespace labvirt::engine
