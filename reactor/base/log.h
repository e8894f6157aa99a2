// Structured logging to stderr: one line per record, logfmt style
// (`ts=2026-11-25T16:50:42.123Z level=info msg="libvirt connected" uri=qemu:///system`).
//
// Thread-safe: each record is written with a single write(2). Values are quoted when they hold
// spaces, quotes or '='; control characters are escaped so a hostile value cannot forge a record.
#ifndef LABVIRT_REACTOR_BASE_LOG_H_
#define LABVIRT_REACTOR_BASE_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace labvirt {

enum class LogLevel { kDebug = 0, kInfo, kWarn, kError };

using LogField = std::pair<std::string_view, std::string>;

// Records below `level` are dropped. Default: kInfo. Not synchronised: set it before threads start.
void SetLogLevel(LogLevel level);
// Parses "debug", "info", "warn", "error"; false if unknown.
bool ParseLogLevel(std::string_view text, LogLevel* level);

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

// Formats one record without writing it (exposed for tests).
std::string FormatLogRecord(LogLevel level, std::string_view msg,
                            std::initializer_list<LogField> fields);

inline void LogDebug(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kDebug, m, f);
}
inline void LogInfo(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, m, f);
}
inline void LogWarn(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarn, m, f);
}
inline void LogError(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, m, f);
}

// Aborts the process after logging `what` at `file:line`. For broken invariants only, never for
// input from outside.
[[noreturn]] void CheckFailed(const char* file, int line, const char* what);

}  // namespace labvirt

#define LABVIRT_CHECK(cond) ((cond) ? (void)0 : ::labvirt::CheckFailed(__FILE__, __LINE__, #cond))

#endif  // LABVIRT_REACTOR_BASE_LOG_H_
