// What every fuzz target does once before its first input: labvirt's log down to errors, so that
// the messages a parser logs for bad input (the point of fuzzing it) do not drown libFuzzer's
// output or slow the run. Linked into each target (tests/fuzz/meson.build).
#include "reactor/base/log.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  labvirt::SetLogLevel(labvirt::LogLevel::kError);
  return 0;
}
