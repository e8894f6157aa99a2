#include "engine/catalog/startup_config.h"

#include "reactor/base/json_writer.h"

namespace labvirt::engine {
// JSON-RPC params are UTF-8 already; this is the engine's own check all the same, and labvirtctl
// checks a startup-config file with it before JSON would turn bad bytes into U+FFFD.
size_t FirstInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > s.size()) return i;
    uint32_t cp = len == 1 ? c : c & (0xff >> (len + 1));
    for (int k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += static_cast<size_t>(len);
  }
  return std::string_view::npos;
}

namespace {

// A pasted config is typed line by line; a device's line editor takes lines of bounded length.
Status CheckConsoleLines(const providers::DeviceKind& kind, const std::string& who,
                         std::string_view text) {
  size_t line = 1, start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != '\n') continue;
    if (i - start > kMaxPastedLineBytes) {
      return InvalidArgument(who + "startup config line " + std::to_string(line) + " is " +
                             std::to_string(i - start) + " bytes; kind " + kind.name +
                             " takes its config by console paste, at most " +
                             std::to_string(kMaxPastedLineBytes) + " bytes a line");
    }
    ++line;
    start = i + 1;
  }
  return Status::Ok();
}

}  // namespace

Status CheckStartupConfig(const providers::DeviceKind& kind, const std::string& node,
                          std::string_view text) {
  const std::string who = "node " + node + ": ";
  const providers::Day0Spec& d = kind.day0;
  if (d.method.empty()) {
    return InvalidArgument(who + "kind " + kind.name +
                           " takes no startup config (its catalog entry has no day0 method)");
  }
  if (text.empty()) {
    return InvalidArgument(who + "startup config is empty (leave it out for none)");
  }
  if (size_t at = FirstInvalidUtf8(text); at != std::string_view::npos) {
    return InvalidArgument(who + "startup config is not UTF-8 text (invalid byte at offset " +
                           std::to_string(at) + ")");
  }
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f) {
      return InvalidArgument(who + "startup config holds control byte " + std::to_string(c) +
                             " at offset " + std::to_string(i) + ": binary, not text");
    }
  }
  if (d.method == "console") LABVIRT_RETURN_IF_ERROR(CheckConsoleLines(kind, who, text));
  if (text.size() > static_cast<size_t>(d.max_bytes)) {
    return InvalidArgument(who + "startup config is " + std::to_string(text.size()) +
                           " bytes; kind " + kind.name + " takes at most " +
                           std::to_string(d.max_bytes) + " (" + d.method + " " + d.file + ")");
  }
  return Status::Ok();
}

std::string StartupConfigJson(const providers::DeviceKind& kind, const ConfigStatus& status) {
  JsonWriter w;
  w.BeginObject().Key("method").String(kind.day0.method).Key("state").String(status.state);
  w.Key("bytes").Int(status.bytes);
  if (status.lines > 0) w.Key("lines").Int(status.lines).Key("lines_done").Int(status.lines_done);
  // Only when there is one: clients (and this project's tests) take a member named "error" in an
  // answer for a JSON-RPC error.
  if (!status.error.empty()) w.Key("error").String(status.error);
  w.EndObject();
  return w.Take();
}

std::string Day0SpecJson(const providers::DeviceKind& kind) {
  const providers::Day0Spec& d = kind.day0;
  JsonWriter w;
  w.BeginObject().Key("method").String(d.method);
  if (!d.method.empty()) {
    w.Key("attach").String(d.attach).Key("volume_label").String(d.volume_label);
    w.Key("file").String(d.file).Key("wrapper").String(d.wrapper);
    if (d.wrapper == "tgz") w.Key("archive_path").String(d.archive_path);
    w.Key("max_bytes").Int(d.max_bytes);
  }
  w.Key("username").String(kind.credentials.username);
  w.Key("password_set").Bool(!kind.credentials.password.empty());
  w.EndObject();
  return w.Take();
}

}  // namespace labvirt::engine
