// BuildFatImage: a FAT12 volume with one file, written by hand. Debian 12 has no library that
// writes a FAT image in-process (dosfstools and mtools are programs, libguestfs boots a VM), and a
// volume with one contiguous file in the root directory is ~150 lines: boot sector with BPB, two
// FAT copies, a root directory (label, VFAT long-name entries, the 8.3 entry), the data.
#include <cstring>

#include "providers/config_medium.h"

namespace labvirt::providers {
namespace {

constexpr uint32_t kSector = 512;
constexpr uint32_t kTotalSectors = kFatImageBytes / kSector;  // 16384
constexpr uint32_t kSectorsPerCluster = 8;                    // 4 KiB clusters
constexpr uint32_t kReserved = 1;
constexpr uint32_t kFats = 2;
constexpr uint32_t kRootEntries = 512;  // 32 sectors
constexpr uint32_t kRootSectors = kRootEntries * 32 / kSector;
// FAT12 holds < 4085 clusters (the cluster count alone decides FAT12 vs FAT16 for every reader):
// (16384 - 1 - 2*6 - 32) / 8 = 2042 clusters; 2044 entries * 1.5 bytes fit in 6 sectors.
constexpr uint32_t kSectorsPerFat = 6;
constexpr uint32_t kDataStart = kReserved + kFats * kSectorsPerFat + kRootSectors;
constexpr uint32_t kClusterBytes = kSectorsPerCluster * kSector;
constexpr uint16_t kFixedDate = ((2024 - 1980) << 9) | (1 << 5) | 1;  // deterministic images

void Put16(std::string& b, size_t at, uint16_t v) {
  b[at] = static_cast<char>(v & 0xff);
  b[at + 1] = static_cast<char>(v >> 8);
}

void Put32(std::string& b, size_t at, uint32_t v) {
  Put16(b, at, static_cast<uint16_t>(v & 0xffff));
  Put16(b, at + 2, static_cast<uint16_t>(v >> 16));
}

bool LabelChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == ' ';
}

bool NameChar(char c) { return c == '.' || (LabelChar(c) && c != ' '); }

// The 11-byte 8.3 name, and whether `name` is exactly that (upper case, 8.3): then no long name
// is needed. Otherwise an upper-case basis "BASIS~1.EXT" that stands beside the long name.
std::string ShortName(std::string_view name, bool* exact) {
  size_t dot = name.rfind('.');
  std::string_view base = dot == std::string_view::npos ? name : name.substr(0, dot);
  std::string_view ext = dot == std::string_view::npos ? "" : name.substr(dot + 1);
  bool upper = true;
  for (char c : name) upper &= !(c >= 'a' && c <= 'z');
  *exact = upper && !base.empty() && base.size() <= 8 && ext.size() <= 3 &&
           base.find('.') == std::string_view::npos;
  std::string out(11, ' ');
  auto up = [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; };
  std::string b;
  for (char c : base) {
    if (c != '.' && c != ' ') b += up(c);
  }
  if (!*exact) b = b.substr(0, 6) + "~1";
  for (size_t i = 0; i < b.size() && i < 8; ++i) out[i] = b[i];
  for (size_t i = 0; i < ext.size() && i < 3; ++i) out[8 + i] = up(ext[i]);
  return out;
}

uint8_t LfnChecksum(const std::string& short_name) {
  uint8_t sum = 0;
  for (char c : short_name) {
    sum = static_cast<uint8_t>(((sum & 1) ? 0x80 : 0) + (sum >> 1) + static_cast<uint8_t>(c));
  }
  return sum;
}

// VFAT long-name entries for `name`, last part first (the order they sit on disk).
std::string LongNameEntries(std::string_view name, uint8_t checksum) {
  static constexpr int kOffsets[13] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};
  size_t parts = (name.size() + 12) / 13;
  std::string out;
  for (size_t p = parts; p-- > 0;) {
    std::string e(32, '\0');
    e[0] = static_cast<char>((p + 1) | (p + 1 == parts ? 0x40 : 0));
    e[11] = 0x0f;
    e[13] = static_cast<char>(checksum);
    for (size_t i = 0; i < 13; ++i) {
      size_t at = p * 13 + i;
      uint16_t ch = at < name.size()    ? static_cast<uint8_t>(name[at])
                    : at == name.size() ? 0
                                        : 0xffff;
      Put16(e, kOffsets[i], ch);
    }
    out += e;
  }
  return out;
}

std::string DirEntry(const std::string& short_name, uint8_t attr, uint16_t cluster, uint32_t size) {
  std::string e(32, '\0');
  std::memcpy(e.data(), short_name.data(), 11);
  e[11] = static_cast<char>(attr);
  Put16(e, 16, kFixedDate);  // created
  Put16(e, 18, kFixedDate);  // accessed
  Put16(e, 24, kFixedDate);  // modified
  Put16(e, 26, cluster);
  Put32(e, 28, size);
  return e;
}

void BootSector(std::string& img, std::string_view label, uint32_t volume_id) {
  const char head[] = "\xeb\x3c\x90LABVIRT ";
  std::memcpy(img.data(), head, 11);
  Put16(img, 11, kSector);
  img[13] = static_cast<char>(kSectorsPerCluster);
  Put16(img, 14, kReserved);
  img[16] = static_cast<char>(kFats);
  Put16(img, 17, kRootEntries);
  Put16(img, 19, static_cast<uint16_t>(kTotalSectors));
  img[21] = static_cast<char>(0xf8);  // fixed disk
  Put16(img, 22, kSectorsPerFat);
  Put16(img, 24, 32);  // sectors per track, heads: only for CHS-era readers
  Put16(img, 26, 64);
  img[36] = static_cast<char>(0x80);
  img[38] = 0x29;  // extended boot signature: volume id, label and type follow
  Put32(img, 39, volume_id);
  std::string padded(label);
  padded.resize(11, ' ');
  std::memcpy(img.data() + 43, padded.data(), 11);
  std::memcpy(img.data() + 54, "FAT12   ", 8);
  // Not bootable: a BIOS that boots it anyway is sent on to the next device (INT 18h).
  img[62] = static_cast<char>(0xcd);
  img[63] = 0x18;
  img[510] = 0x55;
  img[511] = static_cast<char>(0xaa);
}

void SetFat12(std::string& img, size_t fat_at, uint32_t cluster, uint16_t value) {
  size_t at = fat_at + cluster * 3 / 2;
  auto* p = reinterpret_cast<uint8_t*>(img.data() + at);
  if (cluster % 2 == 0) {
    p[0] = static_cast<uint8_t>(value & 0xff);
    p[1] = static_cast<uint8_t>((p[1] & 0xf0) | ((value >> 8) & 0x0f));
  } else {
    p[0] = static_cast<uint8_t>((p[0] & 0x0f) | ((value & 0x0f) << 4));
    p[1] = static_cast<uint8_t>(value >> 4);
  }
}

Status CheckInputs(std::string_view label, std::string_view file_name, size_t size) {
  if (label.empty() || label.size() > 11) {
    return InvalidArgument("volume_label: a FAT label has 1..11 characters, got " +
                           std::to_string(label.size()));
  }
  for (char c : label) {
    if (!LabelChar(c))
      return InvalidArgument("volume_label: '" + std::string(label) +
                             "' has a character outside A-Z a-z 0-9 _ - space");
  }
  if (file_name.empty() || file_name.size() > 64 || file_name.front() == '.') {
    return InvalidArgument("file: '" + std::string(file_name) + "' is not 1..64 characters");
  }
  for (char c : file_name) {
    if (!NameChar(c))
      return InvalidArgument("file: '" + std::string(file_name) +
                             "' has a character outside A-Z a-z 0-9 _ - .");
  }
  if (size > kFatMaxFileBytes) {
    return InvalidArgument("config is " + std::to_string(size) +
                           " bytes; a FAT config disk holds at most " +
                           std::to_string(kFatMaxFileBytes));
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> BuildFatImage(std::string_view label, std::string_view file_name,
                                  std::string_view content) {
  LABVIRT_RETURN_IF_ERROR(CheckInputs(label, file_name, content.size()));
  // The volume id is conventionally the format time; a hash of the inputs keeps images
  // reproducible (FNV-1a).
  uint32_t volume_id = 2166136261u;
  for (std::string_view part : {label, file_name, content}) {
    for (char c : part) volume_id = (volume_id ^ static_cast<uint8_t>(c)) * 16777619u;
  }
  std::string img(size_t{kDataStart} * kSector + content.size(), '\0');
  BootSector(img, label, volume_id);
  uint32_t clusters = static_cast<uint32_t>((content.size() + kClusterBytes - 1) / kClusterBytes);
  for (uint32_t f = 0; f < kFats; ++f) {
    size_t fat_at = size_t{kReserved + f * kSectorsPerFat} * kSector;
    SetFat12(img, fat_at, 0, 0xff8);  // media byte
    SetFat12(img, fat_at, 1, 0xfff);
    for (uint32_t c = 0; c < clusters; ++c) {
      SetFat12(img, fat_at, 2 + c, c + 1 == clusters ? 0xfff : static_cast<uint16_t>(3 + c));
    }
  }
  std::string padded_label(label);
  padded_label.resize(11, ' ');
  bool exact = false;
  std::string short_name = ShortName(file_name, &exact);
  std::string dir = DirEntry(padded_label, 0x08, 0, 0);
  if (!exact) dir += LongNameEntries(file_name, LfnChecksum(short_name));
  dir += DirEntry(short_name, 0x20, clusters ? 2 : 0, static_cast<uint32_t>(content.size()));
  size_t root_at = size_t{kReserved + kFats * kSectorsPerFat} * kSector;
  std::memcpy(img.data() + root_at, dir.data(), dir.size());
  std::memcpy(img.data() + size_t{kDataStart} * kSector, content.data(), content.size());
  img.resize(kFatImageBytes, '\0');  // written sparsely by WriteFileAtomically
  return img;
}

}  // namespace labvirt::providers
