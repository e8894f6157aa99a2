// Runs tools/mkfixture as a program: every shipped transcript builds into a
// small image quickly and shows its device's readiness text; bad input gives
// "FILE:LINE: message", exit status 2 and no output file. No VM is booted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace labvirt::tools {
namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs mkfixture with `args`; stderr goes to a temporary file so a large
// stdout cannot deadlock against it.
Result Mkfixture(const std::vector<std::string>& args) {
  Result result;
  std::vector<std::string> argv = {std::string(LABVIRT_SOURCE_DIR) + "/tools/mkfixture"};
  argv.insert(argv.end(), args.begin(), args.end());
  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return result;
  FILE* err_file = std::tmpfile();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(fileno(err_file), STDERR_FILENO);
    std::vector<char*> cargs;
    for (auto& a : argv) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    execv(cargs[0], cargs.data());
    _exit(127);
  }
  close(out_pipe[1]);
  char buf[65536];
  ssize_t n;
  while ((n = read(out_pipe[0], buf, sizeof buf)) > 0) result.out.append(buf, n);
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::rewind(err_file);
  while ((n = static_cast<ssize_t>(std::fread(buf, 1, sizeof buf, err_file))) > 0) {
    result.err.append(buf, n);
  }
  std::fclose(err_file);
  return result;
}

std::string Consoles() { return std::string(LABVIRT_SOURCE_DIR) + "/tests/data/consoles"; }

class MkfixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/mkfixture-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    tmp_ = dir;
  }
  void TearDown() override { fs::remove_all(tmp_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = tmp_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  // Expects a bad-input failure that names `where` ("FILE:LINE:") and leaves
  // no output file.
  void ExpectRejected(const std::string& transcript, const std::string& out,
                      const std::string& where) {
    Result r = Mkfixture({"--transcript", transcript, "--out", out});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_EQ(r.err.rfind(where, 0), 0u) << r.err;
    EXPECT_FALSE(fs::exists(out));
    for (const auto& entry : fs::directory_iterator(
             fs::path(out).parent_path().empty() ? fs::path(".") : fs::path(out).parent_path(),
             ec_)) {
      EXPECT_EQ(entry.path().filename().string().find(".mkfixture-"), std::string::npos)
          << "partial file left: " << entry.path();
    }
  }

  std::string tmp_;
  std::error_code ec_;
};

// Readiness texts (devices.md 1c and B) each transcript must show before or
// at its first prompt.
const std::map<std::string, std::vector<std::string>>& ReadyTexts() {
  static const auto* texts = new std::map<std::string, std::vector<std::string>>{
      {"iosv", {"%PLATFORM-5-SIGNATURE_VERIFIED:", "Press RETURN to get started!", "Router>"}},
      {"iosvl2", {"Would you like to enter the initial configuration dialog? [yes/no]:"}},
      {"csr1000v", {"Press RETURN to get started!", "%CVAC-4-CONFIG_DONE:", "Router>"}},
      {"cat8000v", {"Press RETURN to get started!", "CVAC-4-CONFIG_DONE"}},
      {"nexus9000v",
       {"Abort Power On Auto Provisioning [yes - continue with normal setup, skip - bypass "
        "password and basic configuration, no - continue with Power On Auto Provisioning] "
        "(yes/skip/no)[no]:"}},
      {"asav", {"INFO: Power-On Self-Test complete.", "ciscoasa>"}},
      {"xrv9k",
       {"Press RETURN to get started", "%MGBL-CVAC-4-CONFIG_DONE", "SYSTEM_READY",
        "XR partition preparation completed successfully"}},
      {"vsrx", {"FreeBSD/amd64", "login:"}},
      {"veos", {"login:"}},
      {"linux", {"\x1b[0;32m  OK  \x1b[0m", "login:"}},
      {"kernel_panic", {"Kernel panic - not syncing"}},
  };
  return *texts;
}

TEST_F(MkfixtureTest, EveryShippedTranscriptIsListedHere) {
  size_t count = 0;
  for (const auto& entry : fs::directory_iterator(Consoles())) {
    if (entry.path().extension() != ".txt") continue;
    ++count;
    EXPECT_EQ(ReadyTexts().count(entry.path().stem().string()), 1u) << entry.path();
  }
  EXPECT_EQ(count, ReadyTexts().size());
}

// Build time is a benchmark figure, not a unit-test threshold (shared, noisy machines): this test
// checks that every transcript builds and stays small.
TEST_F(MkfixtureTest, EveryShippedTranscriptBuildsSmall) {
  for (const auto& [name, texts] : ReadyTexts()) {
    SCOPED_TRACE(name);
    std::string transcript = Consoles() + "/" + name + ".txt";
    std::string out = tmp_ + "/" + name + ".qcow2";
    for (const char* speed : {"fast", "real"}) {
      Result r = Mkfixture({"--transcript", transcript, "--out", out, "--speed", speed});
      ASSERT_EQ(r.status, 0) << r.err;
      ASSERT_TRUE(fs::exists(out));
      EXPECT_LT(fs::file_size(out), 1024u * 1024u);
    }
    Result expected = Mkfixture({"--transcript", transcript, "--print-expected"});
    ASSERT_EQ(expected.status, 0) << expected.err;
    for (const std::string& text : texts) {
      EXPECT_NE(expected.out.find(text), std::string::npos) << "missing ready text: " << text;
    }
  }
}

TEST_F(MkfixtureTest, PrintExpectedAppliesEscapesAndStopsAtPrompt) {
  std::string t = Write("t.txt",
                        "a\\x41\\e[0m\\t\\\\z\n@@sleep 10\n@@rate 100\n\\r\\nB\n"
                        "@@reply x => y\n@@prompt Router>\\x20\n@@reply q => r\n");
  Result r = Mkfixture({"--transcript", t, "--print-expected"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, std::string("aA\x1b[0m\t\\z\r\n\r\nB\r\nRouter> "));
}

TEST_F(MkfixtureTest, UnknownDirectiveNamesFileAndLine) {
  std::string t = Write("t.txt", "ok\n@@bogus 1\n");
  ExpectRejected(t, tmp_ + "/out.qcow2", t + ":2: unknown directive @@bogus");
}

TEST_F(MkfixtureTest, BadEscapeNamesFileAndLine) {
  std::string t = Write("t.txt", "ok\nok\nbad \\q escape\n");
  ExpectRejected(t, tmp_ + "/out.qcow2", t + ":3: bad escape");
  std::string hex = Write("h.txt", "bad \\xZZ\n");
  ExpectRejected(hex, tmp_ + "/out.qcow2", hex + ":1: bad escape");
}

TEST_F(MkfixtureTest, BadArgumentsNameFileAndLine) {
  std::string t = Write("t.txt", "@@sleep soon\n");
  ExpectRejected(t, tmp_ + "/out.qcow2", t + ":1: @@sleep needs a non-negative integer");
  std::string after = Write("a.txt", "x\n@@prompt >\ny\n");
  ExpectRejected(after, tmp_ + "/out.qcow2", after + ":3:");
  std::string showfat = Write("s.txt", "x\n@@showfat 0x81\n");
  ExpectRejected(showfat, tmp_ + "/out.qcow2", showfat + ":2: @@showfat takes no argument");
}

TEST_F(MkfixtureTest, ShowfatBuildsAndLeavesTheExpectedTextAlone) {
  // What @@showfat prints depends on the config disk, so --print-expected has only the text.
  std::string t = Write("t.txt", "before\n@@showfat\nafter\n@@prompt >\n");
  Result r = Mkfixture({"--transcript", t, "--print-expected"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "before\r\nafter\r\n>");
  Result built = Mkfixture({"--transcript", t, "--out", tmp_ + "/s.qcow2"});
  EXPECT_EQ(built.status, 0) << built.err;
}

TEST_F(MkfixtureTest, GotoAndRecordedBuildAnywhereAndLeaveTheExpectedTextAlone) {
  // They act in interactive mode only; like @@reply they may come before or after the @@prompt.
  std::string t = Write("t.txt",
                        "@@goto admin => Password:\\x20\nbooted\n@@recorded  show run \n"
                        "@@reply show run => Building configuration...\n@@prompt login:\\x20\n"
                        "@@goto enable => \\e[1mRouter#\\e[0m\n@@recorded show running-config\n"
                        "@@# comment\n");
  Result r = Mkfixture({"--transcript", t, "--print-expected"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "booted\r\nlogin: ");
  Result built = Mkfixture({"--transcript", t, "--out", tmp_ + "/g.qcow2"});
  EXPECT_EQ(built.status, 0) << built.err;
  // Other directives still may not follow the prompt; the message names what may.
  std::string after = Write("a.txt", "@@prompt >\n@@goto a => b\n@@sleep 1\n");
  ExpectRejected(after, tmp_ + "/out.qcow2",
                 after + ":3: only @@reply, @@goto, @@recorded and comments may follow line 1");
}

TEST_F(MkfixtureTest, MalformedGotoAndRecordedNameFileAndLine) {
  const std::string out = tmp_ + "/out.qcow2";
  const std::string long_input(256, 'i');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"@@goto enable", "@@goto needs \"INPUT => PROMPT\""},
      {"@@goto", "@@goto needs \"INPUT => PROMPT\""},
      {"@@goto enable =>", "@@goto prompt must be 1 to 4096 bytes"},
      {"@@goto enable => ", "@@goto prompt must be 1 to 4096 bytes"},
      {"@@goto enable => " + std::string(4097, 'p'), "@@goto prompt must be 1 to 4096 bytes"},
      {"@@goto enable => \\q", "bad escape"},
      {"@@goto " + long_input + " => R#", "@@goto input must be one line of <= 255 bytes"},
      {"@@goto a\\rb => R#", "@@goto input must be one line of <= 255 bytes"},
      {"@@recorded show => x", "@@recorded takes only INPUT (no \"=>\")"},
      {"@@recorded " + long_input, "@@recorded input must be one line of <= 255 bytes"},
      {"@@recorded show\\nrun", "@@recorded input must be one line of <= 255 bytes"},
      {"@@reply " + long_input + " => x", "@@reply input must be one line of <= 255 bytes"},
  };
  for (const auto& [line, message] : cases) {
    SCOPED_TRACE(line.substr(0, 40));
    std::string t = Write("t.txt", "ok\n" + line + "\n@@prompt >\n");
    ExpectRejected(t, out, t + ":2: " + message);
  }
}

TEST_F(MkfixtureTest, GotoAndRecordedLimits) {
  const std::string out = tmp_ + "/out.qcow2";
  // The longest prompt and input are accepted; @@recorded may be the answer to a bare Enter.
  std::string t = Write("t.txt", "@@goto " + std::string(255, 'i') + " => " +
                                     std::string(4096, 'p') + "\n@@recorded\n@@prompt >\n");
  Result r = Mkfixture({"--transcript", t, "--out", out});
  EXPECT_EQ(r.status, 0) << r.err;
  // All records share the 60 KiB table, 4 bytes + input + output each: 14 gotos of 4096-byte
  // prompts (57,414 bytes) and a 4021-byte reply fill it exactly; an empty @@recorded more does not
  // fit.
  std::string records;
  for (int i = 0; i < 14; ++i) {
    records += "@@goto " + std::to_string(i % 10) + " => " + std::string(4096, 'p') + "\n";
  }
  records += "@@reply x => " + std::string(4021, 'o') + "\n@@prompt >\n";
  std::string fits = Write("f.txt", records);
  r = Mkfixture({"--transcript", fits, "--out", out});
  EXPECT_EQ(r.status, 0) << r.err;
  std::string full = Write("x.txt", records + "@@recorded\n");
  fs::remove(out);
  ExpectRejected(full, out, full + ":0: replies exceed 61440 bytes in total");
}

TEST_F(MkfixtureTest, UnreadableTranscriptNamesFile) {
  std::string missing = tmp_ + "/missing.txt";
  ExpectRejected(missing, tmp_ + "/out.qcow2", missing + ":0: cannot read");
}

TEST_F(MkfixtureTest, UnwritableOutputNamesFileAndLeavesNothing) {
  std::string t = Write("t.txt", "ok\n");
  std::string out = tmp_ + "/no/such/dir/out.qcow2";
  Result r = Mkfixture({"--transcript", t, "--out", out});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind(out + ":0: cannot write", 0), 0u) << r.err;
  EXPECT_FALSE(fs::exists(out));
  // An existing directory as output: conversion works, the rename fails.
  std::string dir = tmp_ + "/outdir";
  fs::create_directory(dir);
  r = Mkfixture({"--transcript", t, "--out", dir});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind(dir + ":0: cannot write", 0), 0u) << r.err;
  EXPECT_TRUE(fs::is_empty(dir));
  for (const auto& entry : fs::directory_iterator(tmp_)) {
    EXPECT_EQ(entry.path().filename().string().find(".mkfixture-"), std::string::npos)
        << "partial file left: " << entry.path();
  }
}

}  // namespace
}  // namespace labvirt::tools
