// Running shell commands from tests and benchmarks: blocking, through /bin/sh.
#ifndef LABVIRT_TESTS_SUPPORT_SHELL_H_
#define LABVIRT_TESTS_SUPPORT_SHELL_H_

#include <string>

namespace labvirt::testing {

// Runs `cmd` through sh; returns its stdout (trailing newlines removed) and sets *rc to its exit
// code (-1 when it did not exit normally or could not start).
std::string Sh(const std::string& cmd, int* rc = nullptr);

// True when `name` is a command found on PATH.
bool HaveCommand(const std::string& name);

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_SHELL_H_
