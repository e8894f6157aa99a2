// A gzip-compressed tar archive holding one file, in-process (zlib, no `tar` process): the
// `tgz` wrapper of day-0 configs (docs/catalog.md "Day-0 configuration"), e.g. vJunos's
// vmm-config.tgz holding config/juniper.conf on its `vmm-data` FAT disk. Pure; any thread.
#ifndef LABVIRT_PROVIDERS_CONFIG_TGZ_H_
#define LABVIRT_PROVIDERS_CONFIG_TGZ_H_

#include <string>
#include <string_view>

#include "reactor/base/status.h"

namespace labvirt::providers {

// A POSIX ustar archive with `path`'s directories (mode 0755) and the file `path` (mode 0644)
// holding `content`, owned by root, dated 0 (the archive is the same for the same config),
// gzip-compressed. `path` is relative: 1..99 bytes of [A-Za-z0-9_.-/], no empty, `.` or `..`
// part. InvalidArgument naming what is wrong with `path`; Internal for a zlib failure.
Result<std::string> BuildTgz(std::string_view path, std::string_view content);

// Whether `path` is one BuildTgz takes (for the catalog's validation).
Status CheckArchivePath(std::string_view path);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_CONFIG_TGZ_H_
