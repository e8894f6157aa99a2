// Test-only readiness specs for the shipped console transcripts (tests/data/consoles/), written
// the way docs/consoles.md tells the catalog to write them, and a helper that gets a transcript's
// exact console bytes from tools/mkfixture --print-expected. Used by unit tests, integration
// tests and benchmarks until (and besides) the real catalog.
#ifndef LABVIRT_TESTS_UNIT_ENGINE_READINESS_TEST_SPECS_H_
#define LABVIRT_TESTS_UNIT_ENGINE_READINESS_TEST_SPECS_H_

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "providers/device_kind.h"

namespace labvirt::testing {

inline const std::vector<std::string>& TranscriptNames() {
  static const std::vector<std::string> kNames = {
      "asav",  "cat8000v",   "csr1000v", "iosv", "iosvl2", "kernel_panic",
      "linux", "nexus9000v", "veos",     "vsrx", "xrv9k"};
  return kNames;
}

// Failure patterns every test spec shares.
inline std::vector<providers::FailurePattern> CommonFailures() {
  using providers::FailureAction;
  return {
      {R"(Kernel panic - not syncing)", FailureAction::kRestart, "kernel panic"},
      {R"(%SYS-2-MALLOCFAIL)", FailureAction::kRestart, "out of memory"},
      {R"(no bootable device)", FailureAction::kFail, "no bootable device"},
  };
}

// The success prompt of each transcript, anchored at a line start (multiline `^`).
inline providers::ReadinessSpec TestSpecFor(std::string_view name) {
  providers::ReadinessSpec s;
  s.failure = CommonFailures();
  s.progress = {{R"(Booting)", 10, "booting"},
                {R"(Press RETURN to get started)", 90, "IOS up"},
                {R"(Power-On Self-Test complete)", 80, "POST done"},
                {R"(SYSTEM_READY)", 90, "system ready"},
                {R"(Reached target .*Multi-User)", 90, "multi-user"}};
  s.idle_timeout = std::chrono::seconds(30);
  s.overall_timeout = std::chrono::seconds(600);
  s.retries = 1;
  if (name == "iosv" || name == "csr1000v" || name == "cat8000v") {
    s.success = {R"(^Router>)"};
  } else if (name == "iosvl2") {
    s.success = {R"(initial configuration dialog\? \[yes/no\]:)"};
  } else if (name == "nexus9000v") {
    s.success = {R"(\(yes/skip/no\)\[no\]:)", R"(^switch login:)"};
  } else if (name == "asav") {
    s.success = {R"(^ciscoasa> )"};
  } else if (name == "xrv9k") {
    s.success = {R"(^Username: )"};
  } else if (name == "vsrx") {
    s.success = {R"(^login: )"};
  } else if (name == "veos") {
    s.success = {R"(^localhost login: )"};
  } else {  // linux, kernel_panic
    s.success = {R"(^[a-z0-9-]+ login: )"};
  }
  return s;
}

// Exact console bytes of tests/data/consoles/<name>.txt up to its first prompt; "" on failure.
inline std::string ExpectedConsoleBytes(const std::string& source_dir, const std::string& name) {
  std::string cmd = source_dir + "/tools/mkfixture --print-expected --transcript " + source_dir +
                    "/tests/data/consoles/" + name + ".txt";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return "";
  std::string out;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (::pclose(p) != 0) return "";
  return out;
}

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_UNIT_ENGINE_READINESS_TEST_SPECS_H_
