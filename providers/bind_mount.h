// A host directory or file mounted into a container node (containerlab's `binds:`), written
// "SRC:DST[:ro|:rw]". SRC is under labvirtd's bind root (--bind-root) and confined there as disk
// images are under the image root (image_check.h): `..` or an absolute path leaving it, a symlink
// pointing out, a device, FIFO or socket are refused. DST is an absolute path in the container
// without `..`.
//
// ParseBind is pure (any thread); ResolveBindSource reads the file system (realpath, stat):
// blocking, call it on the worker pool.
#ifndef LABVIRT_PROVIDERS_BIND_MOUNT_H_
#define LABVIRT_PROVIDERS_BIND_MOUNT_H_

#include <string>
#include <string_view>

#include "reactor/base/status.h"

namespace labvirt::providers {

struct BindMount {
  std::string source;  // as given (relative to the bind root); after ResolveBindSource: absolute
  std::string target;  // absolute path inside the container
  bool read_only = false;
  bool operator==(const BindMount&) const = default;
};

// Reads "SRC:DST[:ro|:rw]" (rw when no mode). InvalidArgument saying what is wrong: an empty
// part, a control character, DST not absolute or with a `..` component, a mode other than ro|rw.
// SRC is only checked to be non-empty and printable here; ResolveBindSource confines it.
Result<BindMount> ParseBind(std::string_view text);

// `bind` with its source resolved under `bind_root`: the canonical (realpath) host path of a
// directory or regular file strictly below the root. FailedPrecondition "… outside the bind root"
// for a source that leaves it (lexically or through a symlink), or an unusable root; NotFound for
// a missing one; InvalidArgument for anything but a directory or regular file.
Result<BindMount> ResolveBindSource(const std::string& bind_root, const BindMount& bind);

// "SRC:DST:ro" or "SRC:DST:rw", as Docker's HostConfig.Binds takes it.
std::string BindText(const BindMount& bind);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_BIND_MOUNT_H_
