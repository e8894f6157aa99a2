// ParseBind, ResolveBindSource and BindText (bind_mount.h). The confinement is image_check's
// ResolveUnderRoot, shared with disk images.
#include "providers/bind_mount.h"

#include <sys/stat.h>

#include "providers/image_check.h"

namespace labvirt::providers {
namespace {

Status CheckText(std::string_view what, std::string_view text) {
  if (text.empty()) return InvalidArgument(std::string(what) + " is empty");
  if (text.size() > 4096) return InvalidArgument(std::string(what) + " is longer than 4096 bytes");
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgument(std::string(what) + " has a control character");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<BindMount> ParseBind(std::string_view text) {
  size_t first = text.find(':');
  if (first == std::string_view::npos) {
    return InvalidArgument("'" + std::string(text) + "' is not SRC:DST[:ro|:rw]");
  }
  BindMount b;
  b.source = std::string(text.substr(0, first));
  std::string_view rest = text.substr(first + 1);
  size_t second = rest.find(':');
  std::string_view mode;
  if (second != std::string_view::npos) {
    mode = rest.substr(second + 1);
    rest = rest.substr(0, second);
    if (mode != "ro" && mode != "rw") {
      return InvalidArgument("mode '" + std::string(mode) + "' is not ro or rw");
    }
  }
  b.target = std::string(rest);
  b.read_only = mode == "ro";
  LABVIRT_RETURN_IF_ERROR(CheckText("the source", b.source));
  LABVIRT_RETURN_IF_ERROR(CheckText("the target", b.target));
  if (b.target[0] != '/') {
    return InvalidArgument("the target '" + b.target + "' is not an absolute path");
  }
  size_t start = 0;
  while (start <= b.target.size()) {
    size_t slash = b.target.find('/', start);
    if (slash == std::string::npos) slash = b.target.size();
    if (b.target.compare(start, slash - start, "..") == 0) {
      return InvalidArgument("the target '" + b.target + "' has a '..' component");
    }
    start = slash + 1;
  }
  if (b.target == "/") return InvalidArgument("the target is the container's root");
  return b;
}

Result<BindMount> ResolveBindSource(const std::string& bind_root, const BindMount& bind) {
  auto real = ResolveUnderRoot(bind_root, bind.source, "bind source", "bind root");
  if (!real.ok()) return real.status();
  struct stat st {};
  if (::stat(real->c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + *real);
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
    return InvalidArgument("bind source " + bind.source + " (" + *real +
                           ") is not a directory or regular file");
  }
  BindMount out = bind;
  out.source = std::move(real).value();
  return out;
}

std::string BindText(const BindMount& bind) {
  return bind.source + ":" + bind.target + (bind.read_only ? ":ro" : ":rw");
}

}  // namespace labvirt::providers
