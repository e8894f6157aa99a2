// Image checks and provider routing: which provider runs an image, and where a disk image really
// is. Base disk images come only from under the configured image root: a reference that escapes
// it (`..`, a symlink pointing out, an absolute path elsewhere) or a file that is not a disk
// image is refused with an error saying so.
//
// Functions that take a path read the file system (realpath, stat, a 34 KiB header read):
// blocking, call them on the worker pool. DetectDiskFormatFromHeader and IsContainerReference
// are pure.
#ifndef LABVIRT_PROVIDERS_IMAGE_CHECK_H_
#define LABVIRT_PROVIDERS_IMAGE_CHECK_H_

#include <string>
#include <string_view>
#include <vector>

#include "reactor/base/status.h"

namespace labvirt::providers {

enum class ProviderKind {
  kLibvirt,  // a qcow2 or raw disk image under the image root
  kDocker,   // a container image reference; no provider yet: the engine refuses it per node
};
std::string_view ProviderKindName(ProviderKind kind);  // "libvirt" | "docker"

enum class DiskFormat { kQcow2, kRaw };
std::string_view DiskFormatName(DiskFormat format);  // "qcow2" | "raw" (qemu-img's names)

// Rewrites a path prefix before the root check: the seed's container-path → host-path
// translation (a controller may name /images/x.qcow2 that the host has at /srv/images/x.qcow2).
struct PathTranslation {
  std::string from;
  std::string to;
};

struct ImageConfig {
  std::string image_root;                     // absolute
  std::vector<PathTranslation> translations;  // first matching prefix wins
};

struct ResolvedImage {
  std::string path;  // canonical (realpath) host path under the root
  DiskFormat format = DiskFormat::kQcow2;
  std::string signature;  // what was recognised: "qcow2", "gpt", "mbr", "iso9660"
};

// Bytes DetectDiskFormatFromHeader wants (the ISO 9660 descriptor sits at 32769).
inline constexpr size_t kDiskHeaderBytes = 34816;

// Recognises a disk image from its first bytes: qcow2 magic "QFI\xfb" at 0; raw with a GPT header
// ("EFI PART" at 512), an MBR boot signature (55 AA at 510) or an ISO 9660 volume descriptor
// ("CD001" at 32769). Known formats QEMU could read but labvirt does not take (VMDK, VDI, VHDX,
// VHD, QED) get an InvalidArgument that says to convert them; anything else is InvalidArgument
// "not a disk image". `name` is used in messages.
Result<ResolvedImage> DetectDiskFormatFromHeader(std::string_view header, std::string_view name);

// True when `ref` has the form of a container image reference with a tag or digest:
// [registry[:port]/]path[:tag][@sha256:<64 hex>], with at least one of tag and digest.
bool IsContainerReference(std::string_view ref);

// Applies the first matching translation to an absolute `ref` (prefix match on whole path
// components). Pure.
std::string TranslatePath(const std::vector<PathTranslation>& translations, std::string_view ref);

// The canonical (realpath) path of `ref` strictly below directory `root`: a relative `ref` is
// taken as relative to the root. FailedPrecondition "WHAT REF … outside the ROOT_NAME ROOT" when
// it leaves the root (`..`, another absolute path, a symlink pointing out) or the root is not
// usable; NotFound when it does not exist; InvalidArgument for an empty ref or a NUL byte. The
// file's type is the caller's to check. `what` ("image") and `root_name` ("image root") name
// them in messages.
Result<std::string> ResolveUnderRoot(const std::string& root, std::string_view ref,
                                     std::string_view what, std::string_view root_name);

// Finds and checks a disk image: translates `ref`, takes a relative ref as relative to the root,
// resolves symlinks, refuses a result outside the root (FailedPrecondition … "outside the image
// root"), a missing file (NotFound), a non-regular file or a non-disk (InvalidArgument).
Result<ResolvedImage> ResolveImage(const ImageConfig& config, std::string_view ref);

// The provider for `ref`: kLibvirt when it names a file (which must then pass ResolveImage),
// kDocker when no such file exists and `ref` is a container reference, else NotFound saying
// neither matched.
Result<ProviderKind> RouteImage(const ImageConfig& config, std::string_view ref);
Result<ProviderKind> RouteImage(const std::string& image_root, std::string_view ref);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_IMAGE_CHECK_H_
