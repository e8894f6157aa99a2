// Client: labvirtctl's blocking connection to labvirtd's control socket. A CLI does one thing at a
// time, so plain blocking sockets are the right tool here (the daemon is the one on io_uring).
#ifndef LABVIRT_TOOLS_CTL_CLIENT_H_
#define LABVIRT_TOOLS_CTL_CLIENT_H_

#include <limits>
#include <string>

#include "engine/control/jsonrpc.h"
#include "reactor/base/status.h"
#include "reactor/base/unique_fd.h"

namespace labvirt::ctl {

class Client {
 public:
  // Connects to `socket_path`; Unavailable with a hint when nothing listens there.
  static Result<Client> Connect(const std::string& socket_path);

  // Sends one request line {"jsonrpc":"2.0","id":N,"method":…,"params":…}; returns its id.
  Status Send(const std::string& method, const std::string& params_json, int id);
  // Reads the next line (a response or a notification). Unavailable at end of stream.
  Result<std::string> ReadLine();
  // Send + read lines until the response with that id; notifications before it are dropped.
  Result<std::string> Call(const std::string& method, const std::string& params_json);
  int fd() const { return fd_.get(); }
  // Bytes already read past the last line (raw console bytes after console.attach's answer).
  std::string TakeBuffered();

 private:
  explicit Client(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
  // Answers are as long as labvirtd makes them: the client sets no line limit of its own.
  engine::LineFramer framer_{std::numeric_limits<size_t>::max()};
  std::string chunk_;    // the last bytes received
  size_t unframed_ = 0;  // where in chunk_ the bytes the framer has not taken yet start
  engine::ResponseDecoder decoder_;
  int next_id_ = 1000;
};

}  // namespace labvirt::ctl

#endif  // LABVIRT_TOOLS_CTL_CLIENT_H_
