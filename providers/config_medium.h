// Day-0 configuration media: the disk images a device reads its startup configuration from at
// boot (docs/catalog.md "Day-0 configuration"). Both builders are pure (bytes in, bytes out) and
// fork nothing; WriteMediumFile puts the result on disk atomically. Any thread; the engine calls
// them on the worker pool.
#ifndef LABVIRT_PROVIDERS_CONFIG_MEDIUM_H_
#define LABVIRT_PROVIDERS_CONFIG_MEDIUM_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "providers/device_kind.h"
#include "reactor/base/status.h"

namespace labvirt::providers {

// The FAT image's fixed geometry: 8 MiB (stored sparsely), 4 KiB clusters, FAT12, one file in the
// root directory. The file's clusters are contiguous from cluster 2.
inline constexpr uint32_t kFatImageBytes = 8u << 20;
inline constexpr uint32_t kFatMaxFileBytes = 4u << 20;  // well inside the data area
inline constexpr uint32_t kIsoMaxFileBytes = 4u << 20;

// A FAT12 volume labelled `label` (1..11 of A-Z a-z 0-9 _ - space; stored as given) holding one
// file `file_name` (1..64 of A-Z a-z 0-9 _ - .; a name that is not upper-case 8.3 gets a VFAT
// long name) with `content`. InvalidArgument naming "volume_label", "file" or the size.
// Deterministic: the same inputs give the same bytes.
Result<std::string> BuildFatImage(std::string_view label, std::string_view file_name,
                                  std::string_view content);

// An ISO 9660 image (with Rock Ridge and Joliet, so the file keeps its case and long name) with
// volume id `label` and one file `file_name` holding `content`, built with libisofs.
// InvalidArgument naming the bad input; Internal for a libisofs failure (its message).
Result<std::string> BuildIsoImage(std::string_view label, std::string_view file_name,
                                  std::string_view content);

// Writes `bytes` to `path` through a temporary file in the same directory (fsync, rename), so a
// crash leaves either the old file or the new one, never half of one. Creates the directory.
Status WriteFileAtomically(const std::string& path, std::string_view bytes);

// A node's day-0 files: `text` to `text_path`, then the medium `spec` describes to
// `medium_path`, each atomically (the text first: a medium never exists without the text it was
// made from, so a wipe can rebuild it); for a console paste (no medium) only the text.
// InvalidArgument for a medium the text does not fit.
Status WriteDay0Files(const Day0Spec& spec, std::string_view text, const std::string& text_path,
                      const std::string& medium_path);

// A node's startup config text as WriteDay0Files stored it. NotFound when it is gone.
Result<std::string> ReadDay0Text(const std::string& text_path);

// The medium made again from the text at `text_path` (a wipe: the guest may have written to a FAT
// disk). NotFound when the text is gone.
Status RebuildDay0Medium(const Day0Spec& spec, const std::string& text_path,
                         const std::string& medium_path);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_CONFIG_MEDIUM_H_
