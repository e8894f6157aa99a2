// WriteDay0Files and RebuildDay0Medium (providers/config_medium.h): a node's day-0 text and the
// medium made from it, written atomically. Blocking file I/O: worker pool only.
#include <fstream>
#include <sstream>

#include "providers/config_medium.h"
#include "providers/config_tgz.h"

namespace labvirt::providers {
namespace {

Result<std::string> BuildMedium(const Day0Spec& spec, std::string_view text) {
  if (spec.wrapper == "tgz") {
    auto packed = BuildTgz(spec.archive_path, text);
    if (!packed.ok()) return packed.status();
    Day0Spec plain = spec;
    plain.wrapper = "none";
    return BuildMedium(plain, *packed);
  }
  if (spec.method == "fat") return BuildFatImage(spec.volume_label, spec.file, text);
  if (spec.method == "iso") return BuildIsoImage(spec.volume_label, spec.file, text);
  return InvalidArgument("day0 method '" + spec.method + "' has no medium");
}

}  // namespace

Status WriteDay0Files(const Day0Spec& spec, std::string_view text, const std::string& text_path,
                      const std::string& medium_path) {
  if (spec.method == "console") return WriteFileAtomically(text_path, text);  // typed, no medium
  auto medium = BuildMedium(spec, text);  // built first: a text that does not fit writes nothing
  if (!medium.ok()) return medium.status();
  LABVIRT_RETURN_IF_ERROR(WriteFileAtomically(text_path, text));
  return WriteFileAtomically(medium_path, *medium);
}

Result<std::string> ReadDay0Text(const std::string& text_path) {
  std::ifstream in(text_path, std::ios::binary);
  if (!in) return NotFound("startup config " + text_path + " is gone; deploy the node again");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Status RebuildDay0Medium(const Day0Spec& spec, const std::string& text_path,
                         const std::string& medium_path) {
  auto text = ReadDay0Text(text_path);
  if (!text.ok()) return text.status();
  auto medium = BuildMedium(spec, *text);
  if (!medium.ok()) return medium.status();
  return WriteFileAtomically(medium_path, *medium);
}

}  // namespace labvirt::providers
