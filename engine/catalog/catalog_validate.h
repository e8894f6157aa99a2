// Range and consistency checks of one DeviceKind, shared by the catalog loader and per-node
// overrides. Pure functions, any thread.
#ifndef LABVIRT_ENGINE_CATALOG_CATALOG_VALIDATE_H_
#define LABVIRT_ENGINE_CATALOG_CATALOG_VALIDATE_H_

#include <string>
#include <string_view>

#include "providers/device_kind.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

// Limits (also documented in docs/catalog.md).
inline constexpr int kMinMemoryMb = 64;
inline constexpr int kMaxMemoryMb = 1024 * 1024;
inline constexpr int kMaxVcpus = 64;
inline constexpr int kMaxNics = 64;
inline constexpr int kMaxReservedNics = 8;
inline constexpr int kMaxSerials = 4;
inline constexpr int kMinOverallTimeoutS = 10;
inline constexpr int kMaxTimeoutS = 24 * 3600;
inline constexpr int kMaxRetries = 10;
inline constexpr int kMaxShutdownTimeoutS = 3600;
inline constexpr double kMaxAdmissionWeight = 64.0;
inline constexpr int kMaxConsoleConfigBytes = 64 * 1024;  // longer pastes are a medium's job

// OK, or InvalidArgument "FIELD: what is wrong" for the first bad field (field names are the
// catalog's JSON names, e.g. "memory_mb", "readiness.success[1]").
Status ValidateDeviceKind(const providers::DeviceKind& kind);

// The kind's `day0` and `credentials` (docs/catalog.md "Day-0 configuration"): method, attach,
// the medium's label and file name rules, wrapper, max_bytes. InvalidArgument "day0.FIELD: …".
Status ValidateDay0(const providers::DeviceKind& kind);

// Checks one readiness pattern: non-empty, at most 1024 bytes, no trailing unescaped `$`, and
// (when labvirt is built with Hyperscan) accepted by Hyperscan with the flags the scanner uses.
// InvalidArgument "FIELD: …" naming `field`.
Status ValidateReadinessPattern(std::string_view field, const std::string& pattern);
// The same checks for any console pattern; `end_anchor_ok` allows a trailing `$` (patterns
// matched against the unfinished last line, whose end is the end of the text: CLI prompts).
Status ValidatePattern(std::string_view field, const std::string& pattern, bool end_anchor_ok);

// The kind's `cli` (docs/catalog.md "Console scripts"): every pattern valid, commands free of
// control characters, a kind that takes day-0 config by console has a prompt. InvalidArgument
// "cli.FIELD: …".
Status ValidateCli(const providers::DeviceKind& kind);

// Allowed values, for messages and for `labvirtctl kinds`.
// A CPU spec's mode, model, fallback model and feature names; fields named PREFIX + catalog
// field ("cpu_vendor.amd.cpu_mode").
Status ValidateCpuSpec(const providers::CpuSpec& cpu, const std::string& prefix);
bool IsAllowedMachine(std::string_view machine);  // pc, q35, pc-i440fx-X.Y, pc-q35-X.Y
bool IsAllowedDiskBus(std::string_view bus);
bool IsAllowedNicModel(std::string_view model);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CATALOG_CATALOG_VALIDATE_H_
