#include "providers/image_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

namespace labvirt::providers {
namespace {

bool At(std::string_view header, size_t offset, std::string_view magic) {
  return header.size() >= offset + magic.size() && header.substr(offset, magic.size()) == magic;
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A repository path component: [a-z0-9]+ with single separators [._-] (or "__") between runs.
bool IsPathComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  for (size_t i = 0; i < c.size(); ++i) {
    char ch = c[i];
    if (IsLowerAlnum(ch)) continue;
    if (ch != '.' && ch != '_' && ch != '-') return false;
  }
  return true;
}

// A registry host: letters, digits, '.', '-', optional ":port"; must look like a host (has a
// '.' or a port, or is "localhost") so that "library/alpine" keeps "library" as a path.
bool IsRegistry(std::string_view c) {
  size_t colon = c.find(':');
  std::string_view host = c.substr(0, colon);
  auto alnum = [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
  };
  if (host.empty() || !alnum(host.front()) || !alnum(host.back())) return false;
  for (char ch : host) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-';
    if (!ok) return false;
  }
  if (colon != std::string_view::npos) {
    std::string_view port = c.substr(colon + 1);
    if (port.empty() || port.size() > 5) return false;
    for (char ch : port) {
      if (ch < '0' || ch > '9') return false;
    }
    return true;
  }
  return host.find('.') != std::string_view::npos || host == "localhost";
}

bool IsTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    char ch = t[i];
    bool word = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                ch == '_';
    if (!word && (i == 0 || (ch != '.' && ch != '-'))) return false;
  }
  return true;
}

bool IsDigest(std::string_view d) {
  if (d.rfind("sha256:", 0) != 0 || d.size() != 7 + 64) return false;
  for (char ch : d.substr(7)) {
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  }
  return true;
}

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};

// True when `path` is strictly below directory `root` (both normalised, no trailing '/').
bool IsUnder(const std::string& path, std::string root) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root == "/") return path.size() > 1 && path[0] == '/';
  return path.size() > root.size() + 1 && path.compare(0, root.size(), root) == 0 &&
         path[root.size()] == '/';
}

Result<std::string> RealPath(const std::string& path) {
  std::unique_ptr<char, FreeDeleter> resolved(::realpath(path.c_str(), nullptr));
  if (!resolved) return Status::FromErrno(errno, "realpath " + path);
  return std::string(resolved.get());
}

}  // namespace

std::string_view ProviderKindName(ProviderKind kind) {
  return kind == ProviderKind::kDocker ? "docker" : "libvirt";
}

std::string_view DiskFormatName(DiskFormat format) {
  return format == DiskFormat::kRaw ? "raw" : "qcow2";
}

Result<ResolvedImage> DetectDiskFormatFromHeader(std::string_view h, std::string_view name) {
  if (At(h, 0, "QFI\xfb")) return ResolvedImage{"", DiskFormat::kQcow2, "qcow2"};
  struct Foreign {
    size_t offset;
    std::string_view magic;
    const char* what;
  };
  for (const Foreign& f : {Foreign{0, "KDMV", "VMDK"}, Foreign{0, "# Disk DescriptorFile", "VMDK"},
                           Foreign{64, "\x7f\x10\xda\xbe", "VDI"}, Foreign{0, "vhdxfile", "VHDX"},
                           Foreign{0, "conectix", "VHD"}, Foreign{0, "QED\0", "QED"}}) {
    if (At(h, f.offset, f.magic)) {
      return InvalidArgument("image " + std::string(name) + " is a " + f.what +
                             " image; convert it with `qemu-img convert -O qcow2`");
    }
  }
  if (At(h, 512, "EFI PART")) return ResolvedImage{"", DiskFormat::kRaw, "gpt"};
  if (At(h, 32769, "CD001")) return ResolvedImage{"", DiskFormat::kRaw, "iso9660"};
  if (At(h, 510, "\x55\xaa")) return ResolvedImage{"", DiskFormat::kRaw, "mbr"};
  return InvalidArgument("image " + std::string(name) +
                         " is not a disk image (no qcow2 magic, GPT, MBR or ISO 9660 signature)");
}

bool IsContainerReference(std::string_view ref) {
  if (ref.empty() || ref.size() > 512) return false;
  std::string_view rest = ref;
  bool has_digest = false, has_tag = false;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    if (!IsDigest(rest.substr(at + 1))) return false;
    has_digest = true;
    rest = rest.substr(0, at);
  }
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    if (!IsTag(rest.substr(colon + 1))) return false;
    has_tag = true;
    rest = rest.substr(0, colon);
  }
  if (!has_tag && !has_digest) return false;
  // Split into components; the first may be a registry.
  size_t start = 0;
  bool first = true;
  while (start <= rest.size()) {
    size_t slash = rest.find('/', start);
    std::string_view comp =
        rest.substr(start, slash == std::string_view::npos ? slash : slash - start);
    bool more = slash != std::string_view::npos;
    if (!(first && more && IsRegistry(comp)) && !IsPathComponent(comp)) return false;
    first = false;
    if (!more) break;
    start = slash + 1;
  }
  return true;
}

std::string TranslatePath(const std::vector<PathTranslation>& translations, std::string_view ref) {
  for (const auto& t : translations) {
    std::string_view from = t.from;
    while (from.size() > 1 && from.back() == '/') from.remove_suffix(1);
    if (from.empty() || ref.rfind(from, 0) != 0) continue;
    if (ref.size() != from.size() && ref[from.size()] != '/' && from != "/") continue;
    return t.to + std::string(ref.substr(from.size()));
  }
  return std::string(ref);
}

Result<std::string> ResolveUnderRoot(const std::string& root_dir, std::string_view ref,
                                     std::string_view what, std::string_view root_name) {
  const std::string w(what);
  const std::string rn(root_name);
  if (ref.empty()) return InvalidArgument(w + " is empty");
  if (ref.find('\0') != std::string_view::npos) return InvalidArgument(w + " contains a NUL byte");
  auto root = RealPath(root_dir);
  if (!root.ok()) {
    return FailedPrecondition(rn + " " + root_dir + " is not usable: " + root.status().message());
  }
  std::string path(ref);
  if (path[0] != '/') path = *root + "/" + path;
  // Refuse a path that leaves the root lexically ("..", another absolute path) before looking at
  // the file system, so a missing file outside the root is reported as outside, not as missing.
  std::string lexical = std::filesystem::path(path).lexically_normal().string();
  std::string lexical_root = std::filesystem::path(root_dir).lexically_normal().string();
  if (!IsUnder(lexical, *root) && !IsUnder(lexical, lexical_root)) {
    return FailedPrecondition(w + " " + std::string(ref) + " (" + lexical + ") is outside the " +
                              rn + " " + root_dir);
  }
  std::unique_ptr<char, FreeDeleter> resolved(::realpath(path.c_str(), nullptr));
  if (!resolved) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return NotFound(w + " " + std::string(ref) + " not found (looked for " + path + ")");
    }
    return InvalidArgument(w + " " + std::string(ref) + ": " + std::strerror(err));
  }
  std::string real(resolved.get());
  if (!IsUnder(real, *root)) {
    return FailedPrecondition(w + " " + std::string(ref) + " resolves to " + real +
                              ", outside the " + rn + " " + *root);
  }
  return real;
}

Result<ResolvedImage> ResolveImage(const ImageConfig& config, std::string_view ref) {
  if (ref.empty()) return InvalidArgument("image is empty");
  auto resolved = ResolveUnderRoot(config.image_root, TranslatePath(config.translations, ref),
                                   "image", "image root");
  if (!resolved.ok()) return resolved.status();
  auto real = std::make_unique<std::string>(std::move(resolved).value());
  struct stat st {};
  if (::stat(real->c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + *real);
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgument("image " + std::string(ref) + " (" + *real + ") is not a regular file");
  }
  int fd = ::open(real->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open image " + *real);
  std::string header(kDiskHeaderBytes, '\0');
  size_t got = 0;
  while (got < header.size()) {
    ssize_t n = ::pread(fd, header.data() + got, header.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  header.resize(got);
  auto detected = DetectDiskFormatFromHeader(header, ref);
  if (!detected.ok()) return detected.status();
  detected->path = *real;
  return detected;
}

Result<ProviderKind> RouteImage(const ImageConfig& config, std::string_view ref) {
  auto image = ResolveImage(config, ref);
  if (image.ok()) return ProviderKind::kLibvirt;
  if (image.status().code() != StatusCode::kNotFound) return image.status();
  if (IsContainerReference(ref)) return ProviderKind::kDocker;
  return NotFound("image '" + std::string(ref) + "' is neither a disk image under " +
                  config.image_root + " nor a container reference (name:tag or name@sha256:…)");
}

Result<ProviderKind> RouteImage(const std::string& image_root, std::string_view ref) {
  return RouteImage(ImageConfig{image_root, {}}, ref);
}

}  // namespace labvirt::providers
