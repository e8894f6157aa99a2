// Fuzz target: the control protocol's methods end to end. Each input is one client session: the
// bytes a client writes, over a real Unix socket, to labvirtd's ControlPlane (every method: the
// lab, node, link, console, catalog, event and capture methods, host.info and metrics) over the
// real LabEngine (the shipped catalog, the worker pool, overlays made by qemu-img) on the
// in-memory fake hypervisor of tests/support. Where control_fuzz stops at the params parsers,
// this one runs what the methods then do to the engine: a deploy followed by links, NIC changes,
// stops, restarts, wipes and destroys in any order and with any values.
//
// Per input, everything is made afresh (reactor, pool, engine, state dir), so a finding never
// depends on an earlier input. The loop runs until the engine is idle (nothing ready on the loop,
// no job on the pool): a request that waits for a boot (wait: true) is never answered by the
// fake's VMs, which print nothing, and that is fine. What must hold, besides no sanitizer finding,
// leak, hang (libFuzzer's -timeout) or CHECK: every line that comes back and looks like JSON is
// JSON, and a second client is still answered afterwards (one session cannot wedge the daemon).
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "engine/catalog/catalog.h"
#include "engine/control/control_plane.h"
#include "engine/lab/lab_engine.h"
#include "engine/lab/network_plumber.h"
#include "reactor/base/log.h"
#include "reactor/base/unique_fd.h"
#include "reactor/reactor.h"
#include "reactor/worker_pool.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/support/fake_hypervisor.h"

namespace labvirt::engine {
namespace {

namespace fs = std::filesystem;

// What every input shares: the catalog (Hyperscan compiles its patterns once) and an image root
// holding base.qcow2, a real qcow2 made by qemu-img.
struct Shared {
  std::unique_ptr<Catalog> catalog;
  fs::path dir;
};

Shared* MakeShared() {
  auto* s = new Shared;
  char tmpl[] = "/tmp/rpc-fuzz-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) __builtin_trap();
  s->dir = tmpl;
  fs::create_directories(s->dir / "images");
  std::string cmd =
      "qemu-img create -q -f qcow2 " + (s->dir / "images/base.qcow2").string() + " 1M";
  if (std::system(cmd.c_str()) != 0) __builtin_trap();  // needs qemu-img (tools/setup-host)
  auto catalog = LoadCatalog(std::string(LABVIRT_SOURCE_DIR) + "/engine/data/catalog.json");
  if (!catalog.ok()) __builtin_trap();
  s->catalog = std::make_unique<Catalog>(std::move(catalog).value());
  // libFuzzer ends a run with exit(); without this every run left its image root in /tmp.
  static fs::path dir_to_remove = s->dir;
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(dir_to_remove, ec);
  });
  return s;
}

UniqueFd ConnectTo(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) __builtin_trap();
  return fd;
}

// One session: labvirtd's parts as the daemon wires them, on the fake hypervisor.
class Session {
 public:
  Session(const Shared& shared, const fs::path& state_dir)
      : reactor_(std::move(reactor::Reactor::Create()).value()),
        pool_(std::make_unique<reactor::WorkerPool>(*reactor_, 2, 64)),
        hv_(std::make_unique<testing::FakeHypervisor>(*reactor_)) {
    EngineOptions options;
    options.image_root = (shared.dir / "images").string();
    options.state_dir = state_dir.string();
    engine_ =
        std::make_unique<LabEngine>(*reactor_, *pool_, *hv_, plumber_, *shared.catalog, options);
    plane_ = std::make_unique<ControlPlane>(*reactor_, *engine_, *shared.catalog, *pool_,
                                            DaemonHooks{[] { return std::string("{}"); },
                                                        [this] {
                                                          std::string out;
                                                          engine_->RenderMetrics(out);
                                                          return out;
                                                        }});
    socket_path_ = (state_dir / "control.sock").string();
    if (!plane_->Listen(socket_path_).ok()) __builtin_trap();
  }
  ~Session() {
    // As labvirtd's shutdown: the socket's methods, then the engine, then the pool's threads.
    plane_.reset();
    engine_.reset();
    pool_.reset();
  }

  const std::string& socket_path() const { return socket_path_; }

  // Runs the loop until nothing is ready on it and no worker is busy, reading what `fd` is sent
  // meanwhile into `*in`. Bounded, so an engine that keeps itself busy forever is a hang report.
  void RunUntilIdle(int fd, std::string* in) {
    int quiet = 0;
    for (int pass = 0; pass < 200000 && quiet < 3; ++pass) {
      Drain(fd, in);
      if (reactor_->RunOnce(/*block=*/false) > 0) {
        quiet = 0;
      } else if (pool_->pending() > 0) {
        quiet = 0;
        ::usleep(100);  // a worker's result is on its way
      } else {
        ++quiet;
      }
    }
    Drain(fd, in);
  }

 private:
  static void Drain(int fd, std::string* in) {
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) in->append(buf, n);
  }

  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<reactor::WorkerPool> pool_;
  std::unique_ptr<testing::FakeHypervisor> hv_;
  NullPlumber plumber_;
  std::unique_ptr<LabEngine> engine_;
  std::unique_ptr<ControlPlane> plane_;
  std::string socket_path_;
};

// Every line that starts like a JSON object must parse (answers and events); a console attached
// by the session turns the rest of its stream into console bytes, which are not checked.
void CheckLines(const std::string& in) {
  static simdjson::dom::parser parser;
  size_t start = 0;
  while (start < in.size()) {
    size_t end = in.find('\n', start);
    if (end == std::string::npos) break;
    std::string line = in.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line[0] != '{') continue;
    simdjson::dom::element doc;
    LABVIRT_FUZZ_ASSERT(parser.parse(line).get(doc) == simdjson::SUCCESS);
    if (line.find(R"("stream":"raw")") != std::string::npos) return;
  }
}

}  // namespace
}  // namespace labvirt::engine

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace labvirt::engine;
  static Shared* shared = MakeShared();
  if (size > 16384) return -1;  // a session, not a flood (control_fuzz has the line limits)
  char tmpl[] = "/tmp/rpc-fuzz-state-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) __builtin_trap();
  fs::path state_dir = tmpl;
  {
    Session session(*shared, state_dir);
    labvirt::UniqueFd client = ConnectTo(session.socket_path());
    std::string in;
    // Written in the input's own chunks, the loop running between them. Bit 3 of the first byte
    // (SplitInput reads only its low 3 bits) picks how requests meet the engine's work: clear,
    // each line is sent only once the engine is idle after the one before (as labvirtctl waits
    // for each answer), so a session reaches deep states (a link change on a deployed lab); set,
    // a chunk's lines go at once (pipelined: a destroy meets the deploy before it in flight).
    const bool pipelined = size > 0 && (data[0] & 8) != 0;
    labvirt::fuzz::SplitInput input(data, size);
    bool closed = false;
    input.ForEachChunk([&](std::string_view chunk) {
      while (!chunk.empty() && !closed) {
        size_t line_end = pipelined ? std::string_view::npos : chunk.find('\n');
        size_t len = line_end == std::string_view::npos ? chunk.size() : line_end + 1;
        ssize_t n = ::send(client.get(), chunk.data(), len, MSG_NOSIGNAL);
        closed = n <= 0;  // labvirtd closed the connection (a line too long, a console)
        if (n > 0) chunk.remove_prefix(n);
        session.RunUntilIdle(client.get(), &in);
      }
    });
    session.RunUntilIdle(client.get(), &in);
    // To see what a session was answered (reproducing a finding, checking a seed).
    if (std::getenv("RPC_FUZZ_ECHO") != nullptr) std::fprintf(stderr, "%s", in.c_str());
    CheckLines(in);
    // Whatever the session did, another client is answered.
    labvirt::UniqueFd probe = ConnectTo(session.socket_path());
    std::string ask = R"({"jsonrpc":"2.0","id":"probe","method":"lab.list","params":{}})"
                      "\n";
    LABVIRT_FUZZ_ASSERT(::send(probe.get(), ask.data(), ask.size(), MSG_NOSIGNAL) ==
                        static_cast<ssize_t>(ask.size()));
    std::string answer;
    session.RunUntilIdle(probe.get(), &answer);
    LABVIRT_FUZZ_ASSERT(answer.find(R"("id":"probe","result")") != std::string::npos);
  }
  std::error_code ec;
  fs::remove_all(state_dir, ec);
  return 0;
}
