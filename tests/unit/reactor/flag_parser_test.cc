#include "reactor/base/flag_parser.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace labvirt {
namespace {

using Kind = FlagError::Kind;

// A table of one value flag (--name), one switch (--on) and a short alias (-o) recording what
// they were given.
class FlagParserTest : public ::testing::Test {
 protected:
  FlagParser parser_{{
      {"--name", true, "NAME", "the name", Record("--name")},
      {"--on", false, "", "a switch", Record("--on")},
      {"-o", false, "", "", Record("-o")},
      {"--even", true, "N", "",
       [](const std::string& v) {
         return v.size() % 2 == 0 ? Status::Ok() : InvalidArgument("odd: " + v);
       }},
  }};
  std::map<std::string, std::string> got_;

  std::function<Status(const std::string&)> Record(std::string flag) {
    return [this, flag](const std::string& v) {
      got_[flag] = v;
      return Status::Ok();
    };
  }
};

TEST_F(FlagParserTest, ValueFormsSwitchesAndAliases) {
  FlagParse p = parser_.Parse({"--name", "a", "pos", "--on", "-o", "--name=b=c", "--name="},
                              Positionals::kKeep, UnknownFlags::kRefuse);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.rest, std::vector<std::string>{"pos"});
  EXPECT_EQ(got_["--name"], "") << "the last one wins";
  EXPECT_EQ(got_.count("--on"), 1u);
  EXPECT_EQ(got_.count("-o"), 1u);
  got_.clear();
  ASSERT_TRUE(parser_.Parse({"--name=b=c"}, Positionals::kRefuse, UnknownFlags::kRefuse).ok());
  EXPECT_EQ(got_["--name"], "b=c");
  got_.clear();
  ASSERT_TRUE(parser_.Parse({"--name", "--on"}, Positionals::kRefuse, UnknownFlags::kRefuse).ok());
  EXPECT_EQ(got_["--name"], "--on") << "a value may look like a flag";
  EXPECT_EQ(got_.count("--on"), 0u);
}

struct ErrorCase {
  std::vector<std::string> args;
  Kind kind;
  std::string arg;
  std::string flag;
};

TEST_F(FlagParserTest, ErrorsSayWhatAndWhere) {
  const std::vector<ErrorCase> cases = {
      {{"stray"}, Kind::kUnexpectedArgument, "stray", ""},
      {{"-x"}, Kind::kUnexpectedArgument, "-x", ""},
      {{"-o=1"}, Kind::kUnexpectedArgument, "-o=1", ""},
      {{"--bogus=1"}, Kind::kUnknownFlag, "--bogus=1", "--bogus"},
      {{"--"}, Kind::kUnknownFlag, "--", "--"},
      {{"--on=yes"}, Kind::kUnknownFlag, "--on=yes", "--on"},
      {{"--on", "--name"}, Kind::kMissingValue, "--name", "--name"},
      {{"--even", "abc"}, Kind::kBadValue, "--even", "--even"},
      {{"stray", "--bogus"}, Kind::kUnexpectedArgument, "stray", ""},  // the first error
  };
  for (const auto& c : cases) {
    FlagParse p = parser_.Parse(c.args, Positionals::kRefuse, UnknownFlags::kRefuse);
    ASSERT_FALSE(p.ok()) << c.args[0];
    EXPECT_EQ(p.error->kind, c.kind) << c.args[0];
    EXPECT_EQ(p.error->arg, c.arg);
    EXPECT_EQ(p.error->flag, c.flag);
  }
  FlagParse bad = parser_.Parse({"--even=x"}, Positionals::kRefuse, UnknownFlags::kRefuse);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error->status.message(), "odd: x");
  EXPECT_EQ(bad.error->arg, "--even=x");
}

TEST_F(FlagParserTest, KeepPassesOnWhatItCannotTake) {
  FlagParse p = parser_.Parse({"--bogus", "cmd", "--on=1", "x", "--on", "--name"},
                              Positionals::kKeep, UnknownFlags::kKeep);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.rest, (std::vector<std::string>{"--bogus", "cmd", "--on=1", "x", "--name"}));
  EXPECT_EQ(got_.count("--on"), 1u);
  EXPECT_EQ(got_.count("--name"), 0u) << "no value: passed on, not set";
}

TEST_F(FlagParserTest, StopLeavesEverythingFromTheFirstPositional) {
  FlagParse p = parser_.Parse({"--on", "--bogus", "cmd", "--name", "a"}, Positionals::kStop,
                              UnknownFlags::kKeep);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.rest, (std::vector<std::string>{"--bogus", "cmd", "--name", "a"}));
  EXPECT_EQ(got_.count("--name"), 0u);
}

TEST_F(FlagParserTest, HelpAlignsAndHidesFlagsWithoutHelp) {
  FlagParser parser({
      {"--socket", true, "PATH", "control socket", nullptr},
      {"--a-very-long-flag", true, "VALUE", "still one space", nullptr},
      {"--workers", true, "N", "threads\nmore about threads", nullptr},
      {"-h", false, "", "", nullptr},
  });
  EXPECT_EQ(parser.Help(12),
            "  --socket PATH control socket\n"
            "  --a-very-long-flag VALUE still one space\n"
            "  --workers N threads\n"
            "              more about threads\n");
}

}  // namespace
}  // namespace labvirt
