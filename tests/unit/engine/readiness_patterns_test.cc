// ReadinessPatterns on its own: what Compile builds (pattern ids in success, progress, failure
// order; a `none` spec without a database; a serial per database), each check of
// ValidateReadinessSpec with its message, the `$`-anchor finder, and the compile flags as
// Hyperscan applies them (caseless, multiline `^`, one report per pattern).
#include "engine/readiness/readiness_patterns.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

using providers::FailureAction;
using providers::ReadinessSpec;

ReadinessSpec Spec() {
  ReadinessSpec s;
  s.success = {"^Router>", "login:"};
  s.progress = {{"Booting", 10, "booting"}, {"Press RETURN", 90, "up"}};
  s.failure = {{"Kernel panic", FailureAction::kRestart, "panic"}};
  return s;
}

// The message of the spec's validation error, or "ok".
std::string Refusal(const ReadinessSpec& spec) {
  Status st = ValidateReadinessSpec(spec);
  if (st.ok()) return "ok";
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  return st.message();
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Pattern ids Hyperscan reports when `chunks` are scanned as one stream of `patterns`' database.
std::vector<unsigned> StreamMatches(const ReadinessPatterns& patterns,
                                    const std::vector<std::string>& chunks) {
  std::vector<unsigned> ids;
  hs_scratch_t* scratch = nullptr;
  hs_stream_t* stream = nullptr;
  if (hs_alloc_scratch(patterns.database(), &scratch) != HS_SUCCESS ||
      hs_open_stream(patterns.database(), 0, &stream) != HS_SUCCESS) {
    ADD_FAILURE() << "hyperscan scratch or stream";
    hs_free_scratch(scratch);
    return ids;
  }
  auto on_match = [](unsigned id, unsigned long long, unsigned long long, unsigned,
                     void* ctx) -> int {
    static_cast<std::vector<unsigned>*>(ctx)->push_back(id);
    return 0;
  };
  for (const auto& c : chunks) {
    EXPECT_EQ(hs_scan_stream(stream, c.data(), static_cast<unsigned>(c.size()), 0, scratch,
                             on_match, &ids),
              HS_SUCCESS);
  }
  EXPECT_EQ(hs_close_stream(stream, scratch, on_match, &ids), HS_SUCCESS);
  hs_free_scratch(scratch);
  return ids;
}

TEST(ReadinessPatternsTest, IdsAreSuccessThenProgressThenFailureWithTheirIndices) {
  auto compiled = ReadinessPatterns::Compile(Spec(), "iosv");
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  const ReadinessPatterns& p = **compiled;
  ASSERT_NE(p.database(), nullptr);
  ASSERT_EQ(p.size(), 5u);
  struct Want {
    MatchKind kind;
    size_t index;
    std::string pattern;
  };
  const std::vector<Want> want = {{MatchKind::kSuccess, 0, "^Router>"},
                                  {MatchKind::kSuccess, 1, "login:"},
                                  {MatchKind::kProgress, 0, "Booting"},
                                  {MatchKind::kProgress, 1, "Press RETURN"},
                                  {MatchKind::kFailure, 0, "Kernel panic"}};
  for (unsigned id = 0; id < want.size(); ++id) {
    EXPECT_EQ(p.info(id).kind, want[id].kind) << id;
    EXPECT_EQ(p.info(id).index, want[id].index) << id;
    EXPECT_EQ(p.info(id).pattern, want[id].pattern) << id;
  }
  EXPECT_EQ(p.spec().success, Spec().success);
  EXPECT_EQ(p.spec().progress.size(), 2u);
}

TEST(ReadinessPatternsTest, ANoneSpecHasNoDatabaseAndNoPatterns) {
  ReadinessSpec s;
  s.none = true;
  auto compiled = ReadinessPatterns::Compile(s);
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  EXPECT_EQ((*compiled)->database(), nullptr);
  EXPECT_EQ((*compiled)->size(), 0u);
  EXPECT_TRUE((*compiled)->spec().none);
}

TEST(ReadinessPatternsTest, EveryCompileHasItsOwnSerial) {
  std::set<uint64_t> serials;
  for (int i = 0; i < 3; ++i) {
    auto compiled = ReadinessPatterns::Compile(Spec());
    ASSERT_TRUE(compiled.ok());
    EXPECT_NE((*compiled)->serial(), 0u);
    serials.insert((*compiled)->serial());
  }
  EXPECT_EQ(serials.size(), 3u) << "the same spec compiled twice is two databases";
}

TEST(ReadinessPatternsTest, CompileErrorsSayWhoseReadinessFailed) {
  ReadinessSpec s = Spec();
  s.success = {"Router>$"};
  auto named = ReadinessPatterns::Compile(s, "iosv");
  ASSERT_FALSE(named.ok());
  EXPECT_EQ(named.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(named.status().message().rfind("readiness of iosv: success pattern 'Router>$'", 0), 0u)
      << named.status().message();
  auto anonymous = ReadinessPatterns::Compile(s);
  ASSERT_FALSE(anonymous.ok());
  EXPECT_EQ(anonymous.status().message().rfind("readiness: success pattern", 0), 0u)
      << anonymous.status().message();
}

TEST(ReadinessPatternsTest, MatchingIgnoresCaseAnchorsAtLineStartsAndReportsOnce) {
  auto compiled = ReadinessPatterns::Compile(Spec());
  ASSERT_TRUE(compiled.ok());
  // id 0 "^Router>" after a line end, split across chunks; id 2 "Booting" in capitals, twice.
  auto ids = StreamMatches(**compiled, {"BOOTING...\r\nbooting again\nrou", "ter>"});
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 2u), 1) << "single match per pattern";
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 0u), 1) << "^ matches after \\n";
  // Not at a line start: "^Router>" stays silent.
  ids = StreamMatches(**compiled, {"xRouter>"});
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 0u), 0);
}

TEST(ValidateReadinessSpecTest, NumbersAreCheckedWithTheirNames) {
  ReadinessSpec s = Spec();
  s.idle_timeout = std::chrono::seconds(-1);
  EXPECT_EQ(Refusal(s), "readiness idle_timeout is negative");
  s = Spec();
  s.overall_timeout = std::chrono::seconds(-5);
  EXPECT_EQ(Refusal(s), "readiness overall_timeout is negative");
  s = Spec();
  s.retries = -1;
  EXPECT_EQ(Refusal(s), "readiness retries is negative");
  s = Spec();
  s.progress[1].percent = 101;
  EXPECT_EQ(Refusal(s), "progress pattern 'Press RETURN' has percent 101, outside 0-100");
  s.progress[1].percent = -1;
  EXPECT_EQ(Refusal(s), "progress pattern 'Press RETURN' has percent -1, outside 0-100");
  s.progress[1].percent = 100;
  s.idle_timeout = std::chrono::seconds(0);
  s.retries = 0;
  EXPECT_EQ(Refusal(s), "ok") << "the bounds themselves are allowed";
}

TEST(ValidateReadinessSpecTest, ANoneSpecSkipsPatternsButNotNumbers) {
  ReadinessSpec s;
  s.none = true;
  s.success = {"Router>$"};  // never compiled
  EXPECT_EQ(Refusal(s), "ok");
  s.retries = -1;
  EXPECT_EQ(Refusal(s), "readiness retries is negative");
  s = ReadinessSpec();
  EXPECT_EQ(Refusal(s), "readiness needs at least one success pattern (or \"none\")");
}

TEST(ValidateReadinessSpecTest, EachBadPatternIsNamedWithItsRole) {
  ReadinessSpec s = Spec();
  s.failure[0].pattern = "";
  EXPECT_EQ(Refusal(s), "failure pattern '' is empty");
  s = Spec();
  s.progress[0].pattern = "x*";
  EXPECT_EQ(Refusal(s), "progress pattern 'x*' can match an empty string");
  s = Spec();
  s.success[1] = "login:(";
  EXPECT_TRUE(Has(Refusal(s), "success pattern 'login:(' does not compile: ")) << Refusal(s);
  s = Spec();
  s.failure[0].pattern = "panic\\z";
  EXPECT_EQ(Refusal(s),
            "failure pattern 'panic\\z' matches only at end of data, never on a stream");
  s = Spec();
  s.success[0] = "Router#$";
  std::string why = Refusal(s);
  EXPECT_TRUE(Has(why, "success pattern 'Router#$' anchors with '$' at byte 7")) << why;
}

TEST(FindDollarAnchorTest, FindsOnlyAnUnescapedDollarOutsideAClass) {
  EXPECT_EQ(FindDollarAnchor("Router>"), std::string::npos);
  EXPECT_EQ(FindDollarAnchor("$"), 0u);
  EXPECT_EQ(FindDollarAnchor("(a$|b)"), 2u);
  EXPECT_EQ(FindDollarAnchor(R"(\$\$$)"), 4u);
  EXPECT_EQ(FindDollarAnchor("[$]"), std::string::npos);
  EXPECT_EQ(FindDollarAnchor("[^$]x"), std::string::npos);
  EXPECT_EQ(FindDollarAnchor("[^]$]"), std::string::npos) << "']' first in a class is literal";
  EXPECT_EQ(FindDollarAnchor("[a]$"), 3u) << "the class ended before the '$'";
  EXPECT_EQ(FindDollarAnchor("x\\"), std::string::npos) << "a trailing backslash";
}

}  // namespace
}  // namespace labvirt::engine
