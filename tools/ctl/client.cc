#include "tools/ctl/client.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace labvirt::ctl {

Result<Client> Client::Connect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return InvalidArgument("socket path must be 1-107 bytes: " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    return Unavailable("cannot reach labvirtd at " + path + ": " + std::strerror(errno) +
                       " (is it running? ./tools/demo starts one)");
  }
  return Client(std::move(fd));
}

Status Client::Send(const std::string& method, const std::string& params_json, int id) {
  std::string line = engine::RequestLine(id, method, params_json) + "\n";
  for (size_t off = 0; off < line.size();) {
    ssize_t n = ::send(fd_.get(), line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return Status::FromErrno(errno, "send to labvirtd");
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<std::string> Client::ReadLine() {
  while (true) {
    std::string_view rest = std::string_view(chunk_).substr(unframed_);
    auto frame = framer_.Next(rest);
    unframed_ = chunk_.size() - rest.size();
    if (frame) return std::string(frame->line);  // a kLine: the framer has no limit
    char buf[65536];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n <= 0) return Unavailable("labvirtd closed the connection");
    chunk_.assign(buf, static_cast<size_t>(n));
    unframed_ = 0;
  }
}

Result<std::string> Client::Call(const std::string& method, const std::string& params_json) {
  int id = next_id_++;
  LABVIRT_RETURN_IF_ERROR(Send(method, params_json, id));
  while (true) {
    auto line = ReadLine();
    if (!line.ok()) return line.status();
    if (decoder_.IsAnswerTo(*line, id)) return line;
  }
}

std::string Client::TakeBuffered() {
  std::string out = framer_.TakePartial();
  out.append(chunk_, unframed_);
  unframed_ = chunk_.size();
  return out;
}

}  // namespace labvirt::ctl
