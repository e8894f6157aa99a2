// ValidateDay0 (engine/catalog/catalog_validate.h): the day-0 config part of a catalog entry. The
// medium's name rules match the builders' (providers/config_medium.h), so a deploy never meets a
// kind whose medium cannot be built.
#include <set>

#include "engine/catalog/catalog_validate.h"
#include "providers/config_medium.h"
#include "providers/config_tgz.h"

namespace labvirt::engine {
namespace {

Status Bad(std::string_view field, const std::string& what) {
  return InvalidArgument(std::string(field) + ": " + what);
}

Status OneOf(std::string_view field, const std::string& value,
             const std::set<std::string>& allowed) {
  if (allowed.count(value)) return Status::Ok();
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  return Bad(field, "'" + value + "' is not one of " + list);
}

Status MaxBytes(int value, long long hi) {
  if (value >= 1 && value <= hi) return Status::Ok();
  return Bad("day0.max_bytes", std::to_string(value) + " is out of range 1.." + std::to_string(hi));
}

bool NameChar(char c, std::string_view extra) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         extra.find(c) != std::string_view::npos;
}

Status ValidateMediumNames(const providers::Day0Spec& d) {
  bool fat = d.method == "fat";
  size_t max_label = fat ? 11 : 32;
  if (d.volume_label.empty() || d.volume_label.size() > max_label) {
    return Bad("day0.volume_label",
               "must have 1.." + std::to_string(max_label) + " characters for " + d.method);
  }
  for (char c : d.volume_label) {
    if (!NameChar(c, fat ? "_- " : "_-")) {
      return Bad("day0.volume_label", "'" + d.volume_label + "' has a character outside " +
                                          (fat ? "A-Z a-z 0-9 _ - space" : "A-Z a-z 0-9 _ -"));
    }
  }
  if (d.file.empty() || d.file.size() > 64 || d.file.front() == '.') {
    return Bad("day0.file", "must be a 1..64 character name not starting with '.'");
  }
  for (char c : d.file) {
    if (!NameChar(c, "_-.")) {
      return Bad("day0.file", "'" + d.file + "' has a character outside A-Z a-z 0-9 _ - .");
    }
  }
  return Status::Ok();
}

Status ValidateCredentials(const providers::Credentials& c) {
  if (c.username.empty() && c.password.empty()) return Status::Ok();
  if (c.username.empty()) return Bad("credentials.username", "is empty");
  for (const auto& [field, value, max] :
       {std::tuple{"credentials.username", &c.username, size_t{64}},
        std::tuple{"credentials.password", &c.password, size_t{128}}}) {
    if (value->size() > max) return Bad(field, "is longer than " + std::to_string(max));
    for (char ch : *value) {
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
        return Bad(field, "contains a control character");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateDay0(const providers::DeviceKind& k) {
  LABVIRT_RETURN_IF_ERROR(ValidateCredentials(k.credentials));
  const providers::Day0Spec& d = k.day0;
  if (d.method.empty()) return Status::Ok();
  LABVIRT_RETURN_IF_ERROR(OneOf("day0.method", d.method, {"iso", "fat", "console"}));
  LABVIRT_RETURN_IF_ERROR(OneOf("day0.wrapper", d.wrapper, {"none", "tgz"}));
  if (d.wrapper == "tgz") {
    if (d.method != "fat" && d.method != "iso") return Bad("day0.wrapper", "tgz needs a medium");
    if (Status st = providers::CheckArchivePath(d.archive_path); !st.ok()) {
      return Bad("day0.archive_path", st.message());
    }
  } else if (!d.archive_path.empty()) {
    return Bad("day0.archive_path", "is only for wrapper tgz");
  }
  if (d.method == "console") {
    if (!d.attach.empty() || !d.volume_label.empty() || !d.file.empty()) {
      return Bad("day0", "a console paste has no attach, volume_label or file");
    }
    return MaxBytes(d.max_bytes, kMaxConsoleConfigBytes);
  }
  LABVIRT_RETURN_IF_ERROR(OneOf(
      "day0.attach", d.attach,
      d.method == "iso" ? std::set<std::string>{"cdrom"} : std::set<std::string>{"disk", "usb"}));
  LABVIRT_RETURN_IF_ERROR(ValidateMediumNames(d));
  return MaxBytes(d.max_bytes,
                  d.method == "iso" ? providers::kIsoMaxFileBytes : providers::kFatMaxFileBytes);
}

}  // namespace labvirt::engine
