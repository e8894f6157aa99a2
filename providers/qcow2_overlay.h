// A qcow2 overlay written by labvirt itself: the same bytes `qemu-img create -f qcow2 -F FMT
// -b BASE` writes (QEMU 7.2: version 3, 64 KiB clusters, 16-bit refcounts, no data, every guest
// read going to the backing file), without running qemu-img.
//
// Why: a deploy makes one overlay per node, and qemu-img spent ~20 ms of CPU on each, nearly all
// of it its own start-up (the dynamic loader relocating QEMU's libraries, page faults): 90 % of
// labvirtd's CPU in a 300-node deploy, and most of its lead-in before the first start. An empty
// overlay is a header, one refcount table, one refcount block and an L1 table of zeros: writing
// them takes microseconds. tests/unit/providers/qcow2_overlay_test.cc checks the bytes against
// qemu-img's for several sizes and both backing formats.
#ifndef LABVIRT_PROVIDERS_QCOW2_OVERLAY_H_
#define LABVIRT_PROVIDERS_QCOW2_OVERLAY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "providers/image_check.h"
#include "reactor/base/status.h"

namespace labvirt::providers {

// The longest backing file name QEMU accepts in a qcow2 header.
inline constexpr size_t kQcow2MaxBackingName = 1023;

// The whole overlay file: `backing` (its path as written in the header), `backing_format`
// ("qcow2" | "raw"), `virtual_size` bytes (the backing image's). Holes are zero bytes: the file
// may be written sparse (WriteQcow2Overlay). InvalidArgument for an empty or too long name, or a
// size of 0.
Result<std::string> Qcow2OverlayBytes(std::string_view backing, std::string_view backing_format,
                                      uint64_t virtual_size);

// The virtual size QEMU gives `image` as a backing file: a qcow2 image's header size, a raw
// image's length rounded up to 512-byte sectors. Blocking (reads the file).
Result<uint64_t> BackingVirtualSize(const ResolvedImage& image);

// The backing file named in a qcow2 header (empty when it has none). InvalidArgument when the
// file is not qcow2. Blocking.
Result<std::string> ReadQcow2BackingFile(const std::string& path);

// Writes the overlay of `image` to `path` (which must not exist: O_EXCL), sparse. Blocking.
Status WriteQcow2Overlay(const ResolvedImage& image, const std::string& path);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_QCOW2_OVERLAY_H_
