// A node's day-0 (startup) configuration as labvirt checks and reports it. Pure functions, any
// thread; the files are written by providers/config_medium.h on the worker pool.
#ifndef LABVIRT_ENGINE_CATALOG_STARTUP_CONFIG_H_
#define LABVIRT_ENGINE_CATALOG_STARTUP_CONFIG_H_

#include <string>
#include <string_view>

#include "providers/device_kind.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

// The byte offset of the first invalid UTF-8 sequence in `s` (overlongs, surrogates and code
// points past U+10FFFF included), or npos when it is all valid.
size_t FirstInvalidUtf8(std::string_view s);

// The longest line a console paste types (device line editors are bounded; IOS takes more, but a
// longer line in a config is a mistake far more often than a need).
inline constexpr size_t kMaxPastedLineBytes = 1024;

// OK when node `node` of `kind` can take `text` as its startup config; else InvalidArgument whose
// message names the node and the cause: the kind takes no config, the text is empty, not UTF-8,
// holds a NUL or another control byte that is not a line end or tab (binary), has a line longer
// than kMaxPastedLineBytes (console paste), or is larger than the kind's day0.max_bytes.
Status CheckStartupConfig(const providers::DeviceKind& kind, const std::string& node,
                          std::string_view text);

// What the node object's `config` shows.
struct ConfigStatus {
  // "none" (no startup config); media: "written" (the medium is made, the domain defined with it,
  // not running), "attached" (the domain runs with it); console: "pending" (typed once the device
  // is ready), "applying", "applied"; any: "failed" (then `error` says why).
  std::string state = "none";
  int64_t bytes = 0;
  int lines = 0;       // console: lines to type (0: not shown)
  int lines_done = 0;  // console: lines typed and accepted so far
  std::string error;
};

// The node object's `config`: {"method","state","bytes"}, "lines"/"lines_done" while a console
// paste is known, and "error" when there is one. `method` is the kind's ("" when it takes none).
std::string StartupConfigJson(const providers::DeviceKind& kind, const ConfigStatus& status);

// The kind's day-0 spec for catalog.get: {"method","attach","volume_label","file","wrapper",
// "max_bytes","username","password_set"} (the password itself is not shown); {"method":""} for a
// kind that takes no config.
std::string Day0SpecJson(const providers::DeviceKind& kind);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CATALOG_STARTUP_CONFIG_H_
