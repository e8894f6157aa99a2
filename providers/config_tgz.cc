#include "providers/config_tgz.h"

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace labvirt::providers {
namespace {

constexpr size_t kBlock = 512;

// One ustar header block (POSIX.1-1988): name, mode, uid, gid, size, mtime in octal, checksum
// over the block with its own field as spaces, type, "ustar\000" magic and version.
std::string Header(const std::string& name, char type, size_t size) {
  std::string h(kBlock, '\0');
  std::memcpy(h.data(), name.data(), name.size());
  auto octal = [&h](size_t at, size_t width, unsigned long long v) {
    std::snprintf(h.data() + at, width, "%0*llo", static_cast<int>(width - 1), v);
  };
  octal(100, 8, type == '5' ? 0755 : 0644);
  octal(108, 8, 0);  // uid
  octal(116, 8, 0);  // gid
  octal(124, 12, size);
  octal(136, 12, 0);  // mtime
  h[156] = type;
  std::memcpy(h.data() + 257, "ustar", 6);  // magic with its NUL
  std::memcpy(h.data() + 263, "00", 2);     // version
  std::memcpy(h.data() + 265, "root", 4);
  std::memcpy(h.data() + 297, "root", 4);
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h.data() + 148, 8, "%06o", sum);  // six digits, NUL, then the space left
  return h;
}

Result<std::string> Gzip(const std::string& data) {
  z_stream z{};
  // windowBits 15 + 16: a gzip wrapper (header and CRC-32 trailer), as `tar z` writes.
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Internal("zlib: deflateInit2 failed");
  }
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END)
    return Internal("zlib: deflate did not finish (" + std::to_string(rc) + ")");
  return out;
}

}  // namespace

Status CheckArchivePath(std::string_view path) {
  if (path.empty() || path.size() > 99) return InvalidArgument("must have 1..99 characters");
  for (char c : path) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-' || c == '/';
    if (!ok)
      return InvalidArgument("'" + std::string(path) +
                             "' has a character outside A-Z a-z 0-9 _ . - /");
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return InvalidArgument("'" + std::string(path) +
                             "' must be relative, without empty, . or .. parts");
    }
    start = end + 1;
  }
  return Status::Ok();
}

Result<std::string> BuildTgz(std::string_view path, std::string_view content) {
  if (Status st = CheckArchivePath(path); !st.ok()) {
    return InvalidArgument("archive path: " + st.message());
  }
  std::string tar;
  // Each directory first (extractors that do not create parents still work).
  for (size_t slash = path.find('/'); slash != std::string_view::npos;
       slash = path.find('/', slash + 1)) {
    tar += Header(std::string(path.substr(0, slash + 1)), '5', 0);
  }
  tar += Header(std::string(path), '0', content.size());
  tar += content;
  tar.append((kBlock - content.size() % kBlock) % kBlock, '\0');
  tar.append(2 * kBlock, '\0');  // the end-of-archive marker
  return Gzip(tar);
}

}  // namespace labvirt::providers
