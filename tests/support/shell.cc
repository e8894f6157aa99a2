#include "tests/support/shell.h"

#include <sys/wait.h>

#include <cstdio>

namespace labvirt::testing {

std::string Sh(const std::string& cmd, int* rc) {
  std::string out;
  if (rc != nullptr) *rc = -1;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  if (rc != nullptr) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool HaveCommand(const std::string& name) {
  int rc = 0;
  Sh("command -v " + name + " >/dev/null 2>&1", &rc);
  return rc == 0;
}

}  // namespace labvirt::testing
