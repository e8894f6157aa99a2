// Running configs saved from devices (node.config.save), kept under
// STATE/configs/LAB/NODE/ (providers/state_paths.h) as versions named by their UTC time,
// "20261203T221530Z.cfg" ("…Z-2.cfg" for a second one within the same second), with `latest` a
// symlink to the newest. The last kMaxVersions versions are kept. Every file is written to a
// temporary name and renamed: a crash or a full disk leaves the old versions and `latest` intact.
// Blocking file I/O: worker pool only.
#ifndef LABVIRT_PROVIDERS_SAVED_CONFIGS_H_
#define LABVIRT_PROVIDERS_SAVED_CONFIGS_H_

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "reactor/base/status.h"

namespace labvirt::providers {

inline constexpr size_t kMaxSavedVersions = 20;

struct SavedConfig {
  std::string path;     // the version's file
  std::string version;  // its name without ".cfg"
  int64_t bytes = 0;
  std::string sha256;  // lower-case hex
  std::string text;    // filled by LoadSavedConfig only
};

// SHA-256 of `data`, lower-case hex.
std::string Sha256Hex(std::string_view data);

// Stores `text` as a new version made at `now` and points `latest` at it; older versions beyond
// kMaxSavedVersions are removed. Internal naming the file and errno on failure (e.g. ENOSPC).
Result<SavedConfig> StoreSavedConfig(const std::string& state_dir, const std::string& lab,
                                     const std::string& node, std::string_view text,
                                     std::time_t now);

// A saved version ("" or "latest": the newest). NotFound when the node has none (or not that
// one); InvalidArgument for a version that is not a saved version's name.
Result<SavedConfig> LoadSavedConfig(const std::string& state_dir, const std::string& lab,
                                    const std::string& node, const std::string& version);

// The node's versions, oldest first.
std::vector<std::string> ListSavedVersions(const std::string& state_dir, const std::string& lab,
                                           const std::string& node);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_SAVED_CONFIGS_H_
