#include "bench/protocol_servers.h"

namespace labvirt::bench {

ReactorLineServer::ReactorLineServer(std::string path) : path_(std::move(path)) {
  ::unlink(path_.c_str());
  listen_fd_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_.get(), 512) != 0) {
    std::abort();
  }
  std::promise<void> ready;
  thread_ = std::thread([this, &ready] { Main(ready); });
  ready.get_future().wait();
}

ReactorLineServer::~ReactorLineServer() {
  reactor_->Post([r = reactor_.get()] { r->Stop(); });
  thread_.join();
  ::unlink(path_.c_str());
}

double ReactorLineServer::CpuSeconds() {
  std::promise<double> p;
  reactor_->Post([&p] { p.set_value(ThreadCpuSeconds()); });
  return p.get_future().get();
}

void ReactorLineServer::PublishOne() {
  reactor_->Post([this] {
    const std::string line = answerer_.EventLine(NowNs());
    for (int fd : subscribers_) {
      reactor_
          ->Send(
              fd, line, [](Result<size_t>) {}, MSG_NOSIGNAL | MSG_WAITALL)
          .Detach();
    }
  });
}

// The reactor is created, run and destroyed on this thread (its ring belongs to it).
void ReactorLineServer::Main(std::promise<void>& ready) {
  PinServer();
  reactor_ = std::move(reactor::Reactor::Create(BenchReactorOptions())).value();
  accept_ = reactor_->Accept(
      listen_fd_.get(),
      [this](Result<UniqueFd> accepted) {
        if (!accepted.ok()) return;
        auto c = std::make_unique<Client>();
        c->fd = std::move(accepted).value();
        const int fd = c->fd.get();
        c->recv = reactor_->RecvMultishot(fd, [this, fd](Result<std::span<const char>> d) {
          if (d.ok() && !d->empty()) return OnData(fd, *d);
          std::erase(subscribers_, fd);
          reactor_->Defer([this, fd] { clients_.erase(fd); });  // we are in its callback
        });
        clients_[fd] = std::move(c);
      },
      /*multishot=*/true);
  ready.set_value();
  reactor_->Run();
  accept_.Cancel();
  clients_.clear();
  reactor_.reset();
}

void ReactorLineServer::OnData(int fd, std::span<const char> data) {
  Client& c = *clients_.at(fd);
  c.in.append(data.data(), data.size());
  size_t start = 0, nl;
  std::string out;
  while ((nl = c.in.find('\n', start)) != std::string::npos) {
    out += answerer_.Answer(std::string_view(c.in).substr(start, nl - start),
                            [this, fd] { subscribers_.push_back(fd); });
    start = nl + 1;
  }
  c.in.erase(0, start);
  if (out.empty()) return;
  c.send = reactor_->Send(
      fd, std::move(out), [](Result<size_t>) {}, MSG_NOSIGNAL | MSG_WAITALL);
}

}  // namespace labvirt::bench
