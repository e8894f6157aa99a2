// BuildIsoImage on libisofs (Debian's libisofs-dev, the library behind xorriso): it writes ISO
// 9660 with Rock Ridge and Joliet in-process, so building a medium forks no genisoimage/xorriso
// (the seed agent's way) and needs no temporary directory tree. libisofs writes the image on a
// thread of its own and hands it out through a burn_source, read here sector by sector.
// libisofs.h uses uint32_t and off_t without including their headers.
#include <sys/types.h>

#include <cstdint>
// Without libburn's header, libisofs declares struct burn_source itself when asked to.
#define LIBISOFS_WITHOUT_LIBBURN 1
// clang-format off
#include <libisofs/libisofs.h>
// clang-format on

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "providers/config_medium.h"

namespace labvirt::providers {
namespace {

// iso_init sets up process-wide state (message queue, filesystem registry): once, never torn
// down (iso_finish would pull it from under a build on another worker).
int InitOnce() {
  static std::once_flag once;
  static int result = 0;
  std::call_once(once, [] {
    result = iso_init();
    // Keep libisofs quiet on stderr: its errors come back as return codes.
    char never[] = "NEVER";
    char fatal[] = "FATAL";
    char empty[] = "";
    if (result == 1) iso_set_msgs_severities(never, fatal, empty);
  });
  return result;
}

Status IsoError(const char* step, int code) {
  return Internal(std::string("libisofs ") + step + ": " + iso_error_to_msg(code));
}

Status CheckInputs(std::string_view label, std::string_view file_name, size_t size) {
  if (label.empty() || label.size() > 32) {
    return InvalidArgument("volume_label: an ISO 9660 volume id has 1..32 characters, got " +
                           std::to_string(label.size()));
  }
  for (char c : label) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) {
      return InvalidArgument("volume_label: '" + std::string(label) +
                             "' has a character outside A-Z a-z 0-9 _ -");
    }
  }
  if (file_name.empty() || file_name.size() > 64 || file_name.front() == '.' ||
      file_name.find('/') != std::string_view::npos) {
    return InvalidArgument("file: '" + std::string(file_name) + "' is not a 1..64 character name");
  }
  if (size > kIsoMaxFileBytes) {
    return InvalidArgument("config is " + std::to_string(size) +
                           " bytes; a config ISO holds at most " +
                           std::to_string(kIsoMaxFileBytes));
  }
  return Status::Ok();
}

// Reads the whole image out of `src` (2048-byte blocks until the writer's end).
Result<std::string> Drain(burn_source* src) {
  std::string out;
  unsigned char block[2048];
  for (;;) {
    int n = src->read_xt != nullptr ? src->read_xt(src, block, sizeof(block))
                                    : src->read(src, block, sizeof(block));
    if (n < 0) return Internal("libisofs: writing the image failed");
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(block), static_cast<size_t>(n));
    if (n < static_cast<int>(sizeof(block))) break;
  }
  return out;
}

}  // namespace

Result<std::string> BuildIsoImage(std::string_view label, std::string_view file_name,
                                  std::string_view content) {
  LABVIRT_RETURN_IF_ERROR(CheckInputs(label, file_name, content.size()));
  if (int rc = InitOnce(); rc != 1) return IsoError("init", rc);
  IsoImage* image = nullptr;
  std::string volid(label);
  if (int rc = iso_image_new(volid.c_str(), &image); rc != 1) return IsoError("image", rc);
  // The memory stream takes ownership of a malloc'd copy.
  auto* buf = static_cast<unsigned char*>(std::malloc(content.size() + 1));
  std::memcpy(buf, content.data(), content.size());
  IsoStream* stream = nullptr;
  Status st;
  if (int rc = iso_memory_stream_new(buf, content.size(), &stream); rc != 1) {
    std::free(buf);
    st = IsoError("stream", rc);
  }
  std::string name(file_name);
  if (st.ok()) {
    // The new file takes over our reference to the stream; on failure it stays ours.
    int rc = iso_tree_add_new_file(iso_image_get_root(image), name.c_str(), stream, nullptr);
    if (rc < 0) {
      iso_stream_unref(stream);
      st = IsoError("add file", rc);
    }
  }
  IsoWriteOpts* opts = nullptr;
  burn_source* src = nullptr;
  if (st.ok()) {
    if (int rc = iso_write_opts_new(&opts, 0); rc != 1) st = IsoError("options", rc);
  }
  if (st.ok()) {
    // Level 2: the plain ISO 9660 name keeps up to 31 characters (IOSXE_CONFIG.TXT, as
    // genisoimage -l writes it) for a reader that ignores Rock Ridge and Joliet.
    iso_write_opts_set_iso_level(opts, 2);
    iso_write_opts_set_rockridge(opts, 1);
    iso_write_opts_set_joliet(opts, 1);
    // Keep the volume id as the catalog spells it ("config"), as genisoimage -V does; strict
    // ISO 9660 would upper-case it.
    iso_write_opts_set_relaxed_vol_atts(opts, 1);
    if (int rc = iso_image_create_burn_source(image, opts, &src); rc != 1) {
      st = IsoError("write", rc);
    }
  }
  Result<std::string> out = Internal("not written");
  if (st.ok()) {
    out = Drain(src);
    src->free_data(src);
    std::free(src);
  }
  if (opts) iso_write_opts_free(opts);
  iso_image_unref(image);
  if (!st.ok()) return st;
  return out;
}

}  // namespace labvirt::providers
