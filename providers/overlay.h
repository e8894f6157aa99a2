// Overlay disks: each node runs on its own qcow2 overlay backed by the (read-only, shared) base
// image: what `qemu-img create -f qcow2 -F FMT -b BASE OVERLAY` makes (written by labvirt itself,
// providers/qcow2_overlay.h). The overlay is kept across stop/start (the node keeps its disk
// state) and recreated only by a wipe.
//
// Every function here runs a subprocess or touches the file system: blocking, call on the
// reactor::WorkerPool, never on the reactor thread.
#ifndef LABVIRT_PROVIDERS_OVERLAY_H_
#define LABVIRT_PROVIDERS_OVERLAY_H_

#include <string>

#include "providers/image_check.h"
#include "providers/qcow2_overlay.h"  // ReadQcow2BackingFile
#include "reactor/base/status.h"

namespace labvirt::providers {

// How an overlay is made: by labvirt itself (qcow2_overlay.h) unless `native` is false or the
// disk is of a shape it does not write, else by the program `qemu_img` (tests may point it
// elsewhere; default "qemu-img", found on PATH).
struct OverlayTool {
  std::string qemu_img = "qemu-img";
  bool native = true;
};

// Creates `overlay_path` backed by `base` unless it exists. An existing overlay is kept only if
// it is qcow2 and backed by base.path; otherwise FailedPrecondition telling to wipe the node.
// Parent directories are created. Returns true when a new overlay was created. The new file is
// written under a temporary name and renamed, so a crash never leaves a half-made overlay.
Result<bool> EnsureOverlay(const ResolvedImage& base, const std::string& overlay_path,
                           const OverlayTool& tool = {});

// Deletes any existing overlay and creates a fresh one (the node's "wipe").
Status RecreateOverlay(const ResolvedImage& base, const std::string& overlay_path,
                       const OverlayTool& tool = {});

// Removes the overlay; OK if it does not exist.
Status DeleteOverlay(const std::string& overlay_path);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_OVERLAY_H_
