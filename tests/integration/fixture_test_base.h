// What the fixture VM tests share (fixture_test.cc, fixture_power_test.cc): a libvirt connection
// for the domains and one for event watches, a temporary directory for transcripts, and a fixture
// started paused with its console attached before it runs.
#ifndef LABVIRT_TESTS_INTEGRATION_FIXTURE_TEST_BASE_H_
#define LABVIRT_TESTS_INTEGRATION_FIXTURE_TEST_BASE_H_

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include "tests/support/fixture_domain.h"

namespace labvirt::testing::fixture_test {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

inline constexpr milliseconds kBootTimeout{30000};

class FixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    EnsureDefaultEventLoop();  // before any connection, so that all deliver events
    conn_ = OpenSystemConnection(&error);
    if (conn_ == nullptr) {
      if (InCi()) FAIL() << error;
      GTEST_SKIP() << error << " (set CI=true to fail instead)";
    }
    events_ = OpenSystemConnection(&error);
    ASSERT_NE(events_, nullptr) << error;
    char dir[] = "/tmp/lvtest-transcripts-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    tmp_ = dir;
  }
  void TearDown() override {
    std::error_code ec;
    if (!tmp_.empty()) std::filesystem::remove_all(tmp_, ec);
  }

  // Writes a transcript for this test and returns its path.
  std::string Transcript(const std::string& text) {
    std::string path = tmp_ + "/t" + std::to_string(++count_) + ".txt";
    std::ofstream(path) << text;
    return path;
  }

  // Starts a paused fixture, attaches to its PTY, runs `before_resume` (e.g. to watch events
  // that could otherwise come before the watch: under KVM a fast fixture is through its
  // transcript within milliseconds), then resumes it, so no console byte or event is lost.
  std::unique_ptr<FixtureDomain> StartAttached(
      const std::string& transcript, FixtureOptions options, std::unique_ptr<ConsolePty>* pty,
      const std::function<void(FixtureDomain&)>& before_resume = nullptr) {
    options.start_paused = true;
    std::string error;
    auto fixture = FixtureDomain::Create(conn_.get(), transcript, options, &error);
    EXPECT_NE(fixture, nullptr) << error;
    if (fixture == nullptr) return nullptr;
    std::string path = fixture->PtyPath();
    EXPECT_FALSE(path.empty());
    *pty = ConsolePty::Open(path, &error);
    EXPECT_NE(*pty, nullptr) << error;
    if (*pty == nullptr) return nullptr;
    if (before_resume) before_resume(*fixture);
    error = fixture->Resume();
    EXPECT_EQ(error, "");
    return error.empty() ? std::move(fixture) : nullptr;
  }

  ConnectPtr conn_;
  ConnectPtr events_;  // used by event watches only
  std::string tmp_;
  int count_ = 0;
};

}  // namespace labvirt::testing::fixture_test

#endif  // LABVIRT_TESTS_INTEGRATION_FIXTURE_TEST_BASE_H_
