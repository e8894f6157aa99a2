// CliSession against a scripted in-memory device: login, prompts that change, answers, the pager,
// refused lines, timeouts; and the pure helpers PasteScript and ExtractConfig.
#include "engine/console/cli_session.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>

#include "engine/catalog/catalog.h"

namespace labvirt::engine {
namespace {

providers::CliSpec IosSpec() {
  providers::CliSpec s;
  s.prompt = R"(^[\w.-]{1,63}(\([\w./-]+\))?[>#] ?$)";
  s.login_prompt = "login: ?$";
  s.password_prompt = "password: ?$";
  s.more_prompt = "--more-- ?$";
  s.answers = {{R"(\[confirm\] ?$)", ""}};
  s.setup = {"enable", "terminal length 0"};
  s.config_enter = {"configure terminal"};
  s.config_exit = {"end"};
  s.config_save = {"write memory"};
  s.errors = {R"(^\s*% ?(Invalid input|Incomplete command))"};
  s.show_config = "show running-config";
  s.config_begin = "^!";
  s.config_end = "^end$";
  s.strip = {"^! Last configuration change"};
  s.line_timeout_s = 5;
  return s;
}

// A device that echoes each typed line, answers known commands, changes its prompt, and records
// unknown lines (what a config paste leaves in its running config).
class FakeDevice {
 public:
  std::string prompt = "Router>";
  std::string user, password;  // login wanted while `user` is set and not logged in
  bool logged_in = true;
  std::map<std::string, std::string> answers;  // command -> answer lines (CRLF-separated)
  std::map<std::string, std::string> prompts;  // command -> the prompt after it
  std::vector<std::string> recorded, typed;
  std::deque<std::string> out;  // output waiting for the session

  void Type(const std::string& bytes) {
    typed.push_back(bytes);
    line_ += bytes;
    size_t cr;
    while ((cr = line_.find('\r')) != std::string::npos) {
      std::string l = line_.substr(0, cr);
      line_.erase(0, cr + 1);
      Line(l);
    }
  }
  void Line(const std::string& l) {
    if (!logged_in) {
      out.push_back(l + "\r\n");
      if (asked_password_) {
        asked_password_ = false;
        logged_in = l == password && got_user_ == user;
        out.push_back(logged_in ? prompt : "Login incorrect\r\nlogin: ");
      } else if (l.empty()) {
        out.push_back("login: ");
      } else {
        got_user_ = l;
        asked_password_ = true;
        out.push_back("Password: ");
      }
      return;
    }
    out.push_back(l + "\r\n");  // echo
    if (auto a = answers.find(l); a != answers.end()) {
      out.push_back(a->second);
    } else if (!l.empty()) {
      recorded.push_back(l);
    }
    if (auto p = prompts.find(l); p != prompts.end()) prompt = p->second;
    out.push_back(prompt);
  }

 private:
  std::string line_, got_user_;
  bool asked_password_ = false;
};

struct Outcome {
  Status status = Internal("not done");
  std::vector<std::string> captured;
  bool done = false;
  int timers = 0;
  int last_progress = 0;
};

// Runs `commands` against `dev` until the session ends or the device has nothing more to say.
// `typed`, when given, sees what the session types first and returns true when it answered it.
Outcome Drive(FakeDevice& dev, std::vector<CliCommand> commands,
              providers::CliSpec spec = IosSpec(), providers::Credentials creds = {},
              std::function<bool(const std::string&)> typed = nullptr) {
  auto patterns = CliPatterns::Compile(spec);
  EXPECT_TRUE(patterns.ok()) << patterns.status().message();
  Outcome run;
  CliSession s(*patterns, creds, std::move(commands), "r1",
               {[&](std::string b) {
                  if (!typed || !typed(b)) dev.Type(b);
                },
                [&](std::chrono::seconds) { ++run.timers; },
                [&](int done, int) { run.last_progress = done; },
                [&](Status st, std::vector<std::string> cap) {
                  run.status = std::move(st);
                  run.captured = std::move(cap);
                  run.done = true;
                }});
  s.Start();
  while (!dev.out.empty() && !s.finished()) {
    std::string chunk = dev.out.front();
    dev.out.pop_front();
    // Byte by byte: the session must not depend on how reads split the stream.
    for (char c : chunk) s.OnOutput(std::string_view(&c, 1));
  }
  if (!s.finished()) s.OnTimeout();
  return run;
}

FakeDevice Ios() {
  FakeDevice d;
  d.answers = {{"enable", ""},
               {"terminal length 0", ""},
               {"end", ""},
               {"configure terminal", "Enter configuration commands, one per line.\r\n"},
               {"write memory", "Building configuration...\r\n[OK]\r\n"},
               {"bogus", "            ^\r\n% Invalid input detected at '^' marker.\r\n"}};
  d.prompts = {
      {"enable", "Router#"}, {"configure terminal", "Router(config)#"}, {"end", "Router#"}};
  return d;
}

TEST(CliSessionTest, PastesAConfigLineByLineThroughChangingPrompts) {
  FakeDevice dev = Ios();
  const std::string config =
      "!\nhostname r1\n\ninterface Gi0/1\n ip address 10.0.0.1 255.0.0.0\nend\n";
  Outcome run = Drive(dev, PasteScript(IosSpec(), config));
  ASSERT_TRUE(run.done);
  EXPECT_TRUE(run.status.ok()) << run.status.message();
  EXPECT_EQ(dev.recorded, (std::vector<std::string>{"hostname r1", "interface Gi0/1",
                                                    " ip address 10.0.0.1 255.0.0.0"}));
  EXPECT_EQ(dev.prompt, "Router#");
  EXPECT_EQ(run.last_progress, 2 + 1 + 3 + 1 + 1);
  EXPECT_GT(run.timers, 0);
}

TEST(CliSessionTest, ARefusedLineFailsNamingTheConfigLineAndTheAnswer) {
  FakeDevice dev = Ios();
  Outcome run = Drive(dev, PasteScript(IosSpec(), "hostname r1\nbogus\nhostname r2\n"));
  ASSERT_TRUE(run.done);
  EXPECT_EQ(run.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(run.status.message().find("node r1: command 'bogus' (config line 2) was refused: % "
                                      "Invalid input detected"),
            std::string::npos)
      << run.status.message();
  // Nothing after the refused line was typed.
  EXPECT_EQ(dev.recorded, std::vector<std::string>{"hostname r1"});
}

TEST(CliSessionTest, SetupCommandsAreNotCheckedForErrors) {
  FakeDevice dev = Ios();
  dev.answers["enable"] = "% Invalid input detected at '^' marker.\r\n";
  Outcome run = Drive(dev, PasteScript(IosSpec(), "hostname r1\n"));
  EXPECT_TRUE(run.status.ok()) << run.status.message();
}

TEST(CliSessionTest, LogsInWithTheCredentials) {
  FakeDevice dev = Ios();
  dev.logged_in = false;
  dev.user = "admin";
  dev.password = "s3cret";
  Outcome run = Drive(dev, ShowConfigScript(IosSpec()), IosSpec(), {"admin", "s3cret"});
  EXPECT_TRUE(run.status.ok()) << run.status.message();
  EXPECT_TRUE(dev.logged_in);
}

TEST(CliSessionTest, RefusedCredentialsFailInsteadOfLooping) {
  FakeDevice dev = Ios();
  dev.logged_in = false;
  dev.user = "admin";
  dev.password = "right";
  Outcome run = Drive(dev, ShowConfigScript(IosSpec()), IosSpec(), {"admin", "wrong"});
  ASSERT_TRUE(run.done);
  EXPECT_EQ(run.status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(run.status.message().find("credentials were refused"), std::string::npos);
}

TEST(CliSessionTest, CapturesTheAnswerAcrossThePagerAndAnswersQuestions) {
  FakeDevice dev = Ios();
  bool confirming = false;
  // IOS's pager: " --More-- ", then on a space it wipes the prompt with BS, space, BS; the next
  // page's first line is indented (it must keep its indentation).
  const std::string wipe = std::string(10, '\b') + std::string(10, ' ') + std::string(10, '\b');
  Outcome run = Drive(
      dev, {{"show running-config", true, true, 0}, {"reload", true, false, 0}}, IosSpec(), {},
      [&](const std::string& b) {
        if (b == "show running-config\r") {
          dev.out.push_back(
              "show running-config\r\nBuilding configuration...\r\n!\r\nhostname r1\r\n --More-- ");
        } else if (b == " ") {
          dev.out.push_back(wipe + " ip routing\r\nend\r\nRouter#");
        } else if (b == "reload\r") {
          confirming = true;
          dev.out.push_back("reload\r\nProceed with reload? [confirm]");
        } else if (b == "\r" && confirming) {  // the [confirm] answer
          confirming = false;
          dev.out.push_back("\r\nRouter#");
        } else {
          return false;
        }
        return true;
      });
  ASSERT_TRUE(run.done);
  EXPECT_TRUE(run.status.ok()) << run.status.message();
  auto patterns = CliPatterns::Compile(IosSpec());
  EXPECT_EQ(ExtractConfig(**patterns, run.captured), "!\nhostname r1\n ip routing\nend\n");
}

TEST(CliSessionTest, NoPromptTimesOutNamingTheCommandAndTheScreen) {
  FakeDevice dev = Ios();
  dev.answers["configure terminal"] = "Enter configuration commands\r\n% Console busy";
  dev.prompts["configure terminal"] = "";
  Outcome run = Drive(dev, PasteScript(IosSpec(), "hostname r1\n"));
  ASSERT_TRUE(run.done);
  EXPECT_EQ(run.status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(run.status.message().find("no prompt within 5 s after command 'configure terminal' "
                                      "(the console shows '% Console busy')"),
            std::string::npos)
      << run.status.message();
}

TEST(CliSessionTest, AnAnswerWithoutEndIsCutOff) {
  auto patterns = CliPatterns::Compile(IosSpec());
  ASSERT_TRUE(patterns.ok());
  Status result;
  CliSession s(*patterns, {}, {{"show tech", true, true, 0}}, "r1",
               {[](std::string) {}, [](std::chrono::seconds) {}, nullptr,
                [&](Status st, std::vector<std::string>) { result = std::move(st); }});
  s.Start();
  s.OnOutput("\r\nRouter#");
  const std::string junk(64 * 1024, 'x');
  for (size_t i = 0; i < CliSession::kMaxAnswerBytes / junk.size() + 2 && !s.finished(); ++i) {
    s.OnOutput(junk);
  }
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(result.code(), StatusCode::kResourceExhausted);
}

TEST(CliSessionTest, PasteScriptSkipsBlanksCommentsAndTheConfigsOwnEnd) {
  auto cmds = PasteScript(IosSpec(), "! comment\r\n\r\nhostname r1\r\n  \r\n ip routing\nend\n");
  std::vector<std::string> texts;
  for (const auto& c : cmds) texts.push_back(c.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"enable", "terminal length 0", "configure terminal",
                                             "hostname r1", " ip routing", "end", "write memory"}));
  EXPECT_FALSE(cmds[0].check_errors);
  EXPECT_TRUE(cmds[2].check_errors);
  EXPECT_EQ(cmds[3].config_line, 3);
  EXPECT_EQ(cmds[4].config_line, 5);
}

TEST(CliSessionTest, ExtractConfigKeepsBeginToEndWithoutStrippedLines) {
  auto patterns = CliPatterns::Compile(IosSpec());
  ASSERT_TRUE(patterns.ok());
  EXPECT_EQ(ExtractConfig(**patterns, {"Building configuration...", "", "Current configuration : 9",
                                       "!", "! Last configuration change at 10:00", "hostname r1",
                                       "end", "", "trailing"}),
            "!\nhostname r1\nend\n");
  providers::CliSpec open = IosSpec();
  open.config_begin.clear();
  open.config_end.clear();
  auto all = CliPatterns::Compile(open);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(ExtractConfig(**all, {"a", "b"}), "a\nb\n");
}

TEST(CliPatternsTest, ABadPatternIsNamed) {
  providers::CliSpec s = IosSpec();
  s.errors.push_back("(unclosed");
  auto p = CliPatterns::Compile(s);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("cli.errors: '(unclosed' does not compile"),
            std::string::npos)
      << p.status().message();
  providers::CliSpec none;
  EXPECT_FALSE(CliPatterns::Compile(none).ok());
}

TEST(CliPatternsTest, TheMostSpecificTailWins) {
  auto p = CliPatterns::Compile(IosSpec());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)->ClassifyTail("Router#").what, CliTail::kPrompt);
  EXPECT_EQ((*p)->ClassifyTail("Router(config-if)# ").what, CliTail::kPrompt);
  EXPECT_EQ((*p)->ClassifyTail("Router# show run").what, CliTail::kNone);
  EXPECT_EQ((*p)->ClassifyTail("Password: ").what, CliTail::kPassword);
  EXPECT_EQ((*p)->ClassifyTail("r1 login: ").what, CliTail::kLogin);
  EXPECT_EQ((*p)->ClassifyTail(" --More-- ").what, CliTail::kMore);
  EXPECT_EQ((*p)->ClassifyTail("Proceed with reload? [confirm]").what, CliTail::kAnswer);
}

// Every shipped kind's script compiles as the engine compiles it, and knows its own prompts.
TEST(CliPatternsTest, EveryShippedScriptCompilesAndKnowsItsPrompt) {
  auto c = LoadCatalog(DefaultCatalogPath());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  for (const auto& k : c->kinds()) {
    if (k.cli.prompt.empty()) continue;
    auto p = CliPatterns::Compile(k.cli);
    ASSERT_TRUE(p.ok()) << k.name << ": " << p.status().message();
    std::string prompt = k.name == "cisco_iosxr" ? "RP/0/RP0/CPU0:ios#" : "switch#";
    EXPECT_EQ((*p)->ClassifyTail(prompt).what, CliTail::kPrompt) << k.name;
    EXPECT_EQ((*p)->ClassifyTail("switch# show running-config").what, CliTail::kNone) << k.name;
    EXPECT_TRUE((*p)->IsError("% Invalid input detected at '^' marker.")) << k.name;
  }
}

}  // namespace
}  // namespace labvirt::engine
