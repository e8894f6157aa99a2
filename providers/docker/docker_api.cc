// The Docker API's text conventions: error replies and query encoding.
#include <simdjson.h>

#include "providers/docker/docker_client.h"

namespace labvirt::providers::docker {

std::string DockerErrorMessage(const HttpResponse& response) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view message;
  if (parser.parse(response.body).get(doc) == simdjson::SUCCESS &&
      doc["message"].get_string().get(message) == simdjson::SUCCESS && !message.empty()) {
    return std::string(message);
  }
  return "HTTP " + std::to_string(response.status);
}

Status DockerStatus(const HttpResponse& response, std::string_view what) {
  std::string message = std::string(what) + ": " + DockerErrorMessage(response);
  switch (response.status) {
    case 400:
      return InvalidArgument(std::move(message));
    case 404:
      return NotFound(std::move(message));
    case 409:
      // 409 is both "name already in use" and "container is not running / is paused".
      if (message.find("already in use") != std::string::npos) {
        return Status(StatusCode::kAlreadyExists, std::move(message));
      }
      return FailedPrecondition(std::move(message));
    default:
      return Unavailable(std::move(message));
  }
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

}  // namespace labvirt::providers::docker
