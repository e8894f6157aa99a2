// BootLog: a node's console log bounded to its current boot, for a labvirtd that adopts a VM it
// started before it was restarted (engine/lab/reconcile.cc): what the guest printed while
// labvirtd was down is in the log only, and the readiness text of this boot may be among it.
//
// Why a mark taken at the start: virtlogd appends every start's output to the same file
// (<log append='on'/>) and writes no boundary of its own, and a log byte carries no time, so
// neither the domain's start time nor the file's dates locate where this boot began. labvirt
// starts each VM paused, so the log's size at that moment is exactly where the boot's output
// will begin; the mark (providers::BootMark) holds it with the log's inode (virtlogd rotates
// FILE to FILE.0 by renaming it) and libvirt's id of that run of the domain (a start made
// outside labvirt has another id, and its log is not read). A line labvirt wrote into the log
// as a marker would show in console.tail and could not tell such a start from labvirt's own.
//
// Blocking file I/O: worker threads only (or tests).
#ifndef LABVIRT_ENGINE_CONSOLE_BOOT_LOG_H_
#define LABVIRT_ENGINE_CONSOLE_BOOT_LOG_H_

#include <string>

#include "providers/domain_xml.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

// The mark of a boot about to begin on the running domain `domain_id`: the log's inode and size
// now (0 and 0 when it does not exist yet). An error only when `path` exists but cannot be
// stat'ed.
Result<providers::BootMark> MarkBootLog(const std::string& path, const std::string& domain_id);

// The last `max_bytes` bytes the boot marked by `mark` has printed to the log at `path`:
//   - the marked file is still `path` (same inode): its bytes from the mark's offset on;
//   - else the log was rotated or made anew since: all of `path`, after the marked file's bytes
//     from the offset when the marked file is now `path`.0 (rotated once).
// Rotated more than once, the older part is in `path`.1…, which is not read: a boot that printed
// that much has its readiness text, if any, near the end. A log deleted and made anew on a freed
// inode number of the marked file is read from the marked offset: some of this boot may be
// missed (the node then waits for new output), an earlier boot's output never taken. Empty when
// the log does not exist (the boot printed nothing). An error for an I/O failure.
Result<std::string> ReadBootLog(const std::string& path, const providers::BootMark& mark,
                                size_t max_bytes);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONSOLE_BOOT_LOG_H_
