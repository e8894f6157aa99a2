// The servers protocol_bench measures labvirt against, and what they share with it: the thread
// helpers, the Server interface, and LineAnswerer — the work a hand-written JSON-RPC line server
// does per request (simdjson parse, the same answer bytes as labvirt's node.get). EpollServer does
// it on a plain epoll loop (the baseline a user would write); ReactorLineServer does exactly the
// same work on labvirt's reactor, so the pair measures the loop alone, without labvirt's engine.
// Benchmarks only.
#ifndef LABVIRT_BENCH_PROTOCOL_SERVERS_H_
#define LABVIRT_BENCH_PROTOCOL_SERVERS_H_

#include <pthread.h>
#include <sched.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/epoll_loop.h"
#include "bench/reactor_options.h"
#include "reactor/reactor.h"

namespace labvirt::bench {

using Clock = std::chrono::steady_clock;

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

inline double ThreadCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// The server owns CPU 0; clients get the others (when there is only one CPU, everyone shares it).
inline void PinServer() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  pthread_setname_np(pthread_self(), "bench-server");  // for `perf report --comm bench-server`
}

// A server under test: serves `socket` on its own pinned thread until destroyed.
class Server {
 public:
  virtual ~Server() = default;
  // CPU seconds the server thread has used so far.
  virtual double CpuSeconds() = 0;
  // Publishes one event to every subscriber from the server's thread (posted, so any thread may
  // call it), with "ts" (steady ns, taken at publishing) in its data.
  virtual void PublishOne() = 0;
};

// The image a node.get answers about: labvirt's real node object, taken from labvirt's server so
// both servers send the same bytes.
inline std::string g_node_json;

// What a hand-written line server does with one request line, and the event lines it publishes.
class LineAnswerer {
 public:
  // The answer line (with its newline) to `line`, or "" for a notification. `subscribe` is called
  // for events.subscribe.
  std::string Answer(std::string_view line, const std::function<void()>& subscribe) {
    simdjson::dom::element doc;
    if (parser_.parse(line.data(), line.size()).get(doc)) {
      return R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}})"
             "\n";
    }
    std::string id = simdjson::minify(doc["id"]);
    std::string_view method;
    if (doc["method"].get(method)) return "";
    if (method == "events.subscribe") {
      subscribe();
      return R"({"jsonrpc":"2.0","id":)" + id + R"(,"result":{"subscribed":true}})" + "\n";
    }
    std::string_view lab, node;
    if (method != "node.get" || doc["params"]["lab"].get(lab) || doc["params"]["node"].get(node) ||
        lab != "bench" || (node != "r1" && node != "r2")) {
      return R"({"jsonrpc":"2.0","id":)" + id + R"(,"error":{"code":-32602}})" + "\n";
    }
    return R"({"jsonrpc":"2.0","id":)" + id + R"(,"result":)" + g_node_json + "}\n";
  }
  // One event line stamped with `ts_ns` (steady ns at publishing).
  std::string EventLine(int64_t ts_ns) {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    return R"({"jsonrpc":"2.0","method":"event","params":{"seq":)" + std::to_string(++seq_) +
           R"(,"type":"node.state","time_ms":)" +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) +
           R"(,"lab":"bench","node":"r1","data":{"ts":)" + std::to_string(ts_ns) + "}}}\n";
  }

 private:
  simdjson::dom::parser parser_;
  uint64_t seq_ = 0;
};

// The hand-written baseline: epoll, non-blocking sockets, read() into a per-client buffer, one
// simdjson parse per line, the answer built by string concatenation and written with write().
class EpollServer final : public Server {
 public:
  explicit EpollServer(std::string path) : path_(std::move(path)) {
    ::unlink(path_.c_str());
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 512) != 0) {
      std::abort();
    }
    thread_ = std::thread([this] {
      PinServer();
      loop_.Watch(listen_fd_, [this] { OnAccept(); });
      while (!stop_) loop_.RunOnce();
      for (auto& [fd, c] : clients_) ::close(fd);
    });
  }
  ~EpollServer() override {
    loop_.Post([this] { stop_ = true; });
    thread_.join();
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
  double CpuSeconds() override {
    std::promise<double> p;
    loop_.Post([&p] { p.set_value(ThreadCpuSeconds()); });
    return p.get_future().get();
  }
  void PublishOne() override {
    loop_.Post([this] { Publish(); });
  }

 private:
  struct Client {
    std::string in;
  };
  void OnAccept() {
    int fd;
    while ((fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
      clients_[fd] = Client{};
      loop_.Watch(fd, [this, fd] { OnReadable(fd); });
    }
  }
  void OnReadable(int fd) {
    Client& c = clients_[fd];
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) c.in.append(buf, static_cast<size_t>(n));
    size_t start = 0, nl;
    std::string out;
    while ((nl = c.in.find('\n', start)) != std::string::npos) {
      out += Answer(fd, std::string_view(c.in).substr(start, nl - start));
      start = nl + 1;
    }
    c.in.erase(0, start);
    WriteAll(fd, out);
    if (n == 0) {
      subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), fd),
                         subscribers_.end());
      clients_.erase(fd);
      ::close(fd);  // epoll forgets a closed fd; the stale handler is never called again
    }
  }
  std::string Answer(int fd, std::string_view line) {
    return answerer_.Answer(line, [this, fd] { subscribers_.push_back(fd); });
  }
  static void WriteAll(int fd, std::string_view out) {
    while (!out.empty()) {
      ssize_t w = ::write(fd, out.data(), out.size());
      if (w > 0) out.remove_prefix(static_cast<size_t>(w));
      if (w < 0 && errno != EAGAIN) return;
    }
  }
  void Publish() {
    const std::string line = answerer_.EventLine(NowNs());
    for (int fd : subscribers_) WriteAll(fd, line);
  }

  std::string path_;
  int listen_fd_ = -1;
  EpollLoop loop_;
  LineAnswerer answerer_;
  std::map<int, Client> clients_;
  std::vector<int> subscribers_;
  bool stop_ = false;
  std::thread thread_;
};

// LineAnswerer's work on labvirt's reactor, served the way labvirt's control server serves a
// client: one multishot recv per client into the reactor's buffer ring, every complete line
// answered, the answers of one recv sent with one Send (MSG_WAITALL).
class ReactorLineServer final : public Server {
 public:
  explicit ReactorLineServer(std::string path);
  ~ReactorLineServer() override;
  double CpuSeconds() override;
  void PublishOne() override;

 private:
  struct Client {
    UniqueFd fd;
    std::string in;
    reactor::OpHandle recv;
    reactor::OpHandle send;
  };
  void Main(std::promise<void>& ready);
  void OnData(int fd, std::span<const char> data);

  std::string path_;
  UniqueFd listen_fd_;
  std::unique_ptr<reactor::Reactor> reactor_;
  reactor::OpHandle accept_;
  LineAnswerer answerer_;
  std::map<int, std::unique_ptr<Client>> clients_;
  std::vector<int> subscribers_;
  std::thread thread_;
};

}  // namespace labvirt::bench

#endif  // LABVIRT_BENCH_PROTOCOL_SERVERS_H_
