#include "providers/qcow2_overlay.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace labvirt::providers {
namespace {

constexpr uint32_t kClusterBits = 16;
constexpr uint64_t kCluster = uint64_t{1} << kClusterBits;
// Bytes of guest disk one L1 entry maps: an L2 table of kCluster / 8 entries, a cluster each.
constexpr uint64_t kL1Span = kCluster * (kCluster / 8);
constexpr uint32_t kHeaderLength = 112;  // version 3 with the compression type byte, padded
// Where qemu-img puts the tables: header in cluster 0, then the refcount table, the refcount
// block and the L1 table, a cluster each (the L1 table more if the disk is over 4 TiB).
constexpr uint64_t kRefcountTable = 1 * kCluster;
constexpr uint64_t kRefcountBlock = 2 * kCluster;
constexpr uint64_t kL1Table = 3 * kCluster;

void Put32(std::string& out, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[at + i] = static_cast<char>(v >> (24 - 8 * i));
}
void Put64(std::string& out, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[at + i] = static_cast<char>(v >> (56 - 8 * i));
}
uint64_t Be64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
uint32_t Be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// A header extension: type, length, data padded to 8 bytes.
void PutExtension(std::string& out, uint32_t type, std::string_view data) {
  size_t at = out.size();
  out.resize(at + 8 + (data.size() + 7) / 8 * 8, '\0');
  Put32(out, at, type);
  Put32(out, at + 4, static_cast<uint32_t>(data.size()));
  std::memcpy(out.data() + at + 8, data.data(), data.size());
}

// The feature name table qemu-img writes: (type, bit, name) for each feature it knows.
std::string FeatureNames() {
  struct Feature {
    uint8_t type, bit;
    const char* name;
  };
  static constexpr Feature kFeatures[] = {
      {0, 0, "dirty bit"},        {0, 1, "corrupt bit"},         {0, 2, "external data file"},
      {0, 3, "compression type"}, {0, 4, "extended L2 entries"}, {1, 0, "lazy refcounts"},
      {2, 0, "bitmaps"},          {2, 1, "raw external data"}};
  std::string table;
  for (const auto& f : kFeatures) {
    char entry[48] = {};
    entry[0] = static_cast<char>(f.type);
    entry[1] = static_cast<char>(f.bit);
    std::memcpy(entry + 2, f.name, std::strlen(f.name));  // each name < 46 bytes: NUL-padded
    table.append(entry, sizeof entry);
  }
  return table;
}

}  // namespace

Result<std::string> Qcow2OverlayBytes(std::string_view backing, std::string_view backing_format,
                                      uint64_t virtual_size) {
  if (backing.empty() || backing.size() > kQcow2MaxBackingName) {
    return InvalidArgument("a qcow2 backing file name is 1 to " +
                           std::to_string(kQcow2MaxBackingName) + " bytes, not " +
                           std::to_string(backing.size()));
  }
  if (virtual_size == 0) return InvalidArgument("the backing image has a size of 0");
  const uint64_t l1_entries = virtual_size / kL1Span + (virtual_size % kL1Span != 0);
  // QEMU's limit on the L1 table (QCOW_MAX_L1_SIZE, 32 MiB: a 2 PiB disk); one refcount block
  // then counts every cluster the tables take.
  if (l1_entries * 8 > (uint64_t{32} << 20)) {
    return InvalidArgument("a " + std::to_string(virtual_size) + "-byte disk is too large");
  }
  const uint64_t l1_clusters = (l1_entries * 8 + kCluster - 1) / kCluster;

  std::string out(kHeaderLength, '\0');
  std::memcpy(out.data(), "QFI\xfb", 4);
  Put32(out, 4, 3);  // version
  Put32(out, 16, static_cast<uint32_t>(backing.size()));
  Put32(out, 20, kClusterBits);
  Put64(out, 24, virtual_size);
  Put32(out, 36, static_cast<uint32_t>(l1_entries));
  Put64(out, 40, kL1Table);
  Put64(out, 48, kRefcountTable);
  Put32(out, 56, 1);  // refcount table clusters
  Put32(out, 96, 4);  // refcount order: 16-bit refcounts
  Put32(out, 100, kHeaderLength);
  PutExtension(out, 0xE2792ACA, backing_format);  // the backing file's format
  PutExtension(out, 0x6803F857, FeatureNames());
  out.append(8, '\0');        // end of the extensions
  Put64(out, 8, out.size());  // the backing file name follows them
  out.append(backing);

  out.resize(kL1Table + l1_entries * 8, '\0');  // the L1 table: every entry 0 (all unallocated)
  Put64(out, kRefcountTable, kRefcountBlock);
  for (uint64_t c = 0; c < 3 + l1_clusters; ++c) {  // header, the two refcount clusters, L1
    out[kRefcountBlock + 2 * c + 1] = 1;
  }
  return out;
}

Result<uint64_t> BackingVirtualSize(const ResolvedImage& image) {
  if (image.format == DiskFormat::kRaw) {
    struct stat st {};
    if (::stat(image.path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + image.path);
    return (static_cast<uint64_t>(st.st_size) + 511) / 512 * 512;
  }
  int fd = ::open(image.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + image.path);
  unsigned char header[32] = {};
  ssize_t n = ::pread(fd, header, sizeof header, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof header) || std::memcmp(header, "QFI\xfb", 4) != 0) {
    return InvalidArgument(image.path + " is not a qcow2 file");
  }
  return Be64(header + 24);
}

Result<std::string> ReadQcow2BackingFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  unsigned char header[20] = {};
  ssize_t n = ::pread(fd, header, sizeof header, 0);
  if (n != static_cast<ssize_t>(sizeof header) || std::memcmp(header, "QFI\xfb", 4) != 0) {
    ::close(fd);
    return InvalidArgument(path + " is not a qcow2 file");
  }
  uint64_t offset = Be64(header + 8);
  uint32_t size = Be32(header + 16);
  if (offset == 0 || size == 0) {
    ::close(fd);
    return std::string();
  }
  if (size > 4096) {
    ::close(fd);
    return InvalidArgument(path + ": qcow2 backing file name is " + std::to_string(size) +
                           " bytes long");
  }
  std::string name(size, '\0');
  n = ::pread(fd, name.data(), size, static_cast<off_t>(offset));
  ::close(fd);
  if (n != static_cast<ssize_t>(size)) return InvalidArgument(path + ": truncated qcow2 header");
  return name;
}

Status WriteQcow2Overlay(const ResolvedImage& image, const std::string& path) {
  auto size = BackingVirtualSize(image);
  if (!size.ok()) return size.status();
  auto bytes = Qcow2OverlayBytes(image.path, DiskFormatName(image.format), *size);
  if (!bytes.ok()) return bytes.status();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "create " + path);
  // Only the non-zero runs are written (the header, the two refcount entries' clusters); the
  // rest stays a hole, as qemu-img leaves it.
  const std::string& b = *bytes;
  Status st = Status::Ok();
  for (uint64_t at : {uint64_t{0}, kRefcountTable, kRefcountBlock}) {
    uint64_t end = std::min<uint64_t>(b.size(), at + kCluster);
    while (end > at && b[end - 1] == '\0') --end;
    if (end > at && ::pwrite(fd, b.data() + at, end - at, static_cast<off_t>(at)) !=
                        static_cast<ssize_t>(end - at)) {
      st = Status::FromErrno(errno, "write " + path);
      break;
    }
  }
  if (st.ok() && ::ftruncate(fd, static_cast<off_t>(b.size())) != 0) {
    st = Status::FromErrno(errno, "truncate " + path);
  }
  if (::close(fd) != 0 && st.ok()) st = Status::FromErrno(errno, "close " + path);
  if (!st.ok()) ::unlink(path.c_str());
  return st;
}

}  // namespace labvirt::providers
