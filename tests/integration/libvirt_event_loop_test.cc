// libvirt's event loop on the reactor, against the real libvirtd: lifecycle events arrive on the
// reactor thread, keepalive holds an idle connection, and killing libvirtd fires the close
// callback, after which LibvirtConnection reconnects by itself.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "providers/libvirt_connection.h"
#include "providers/libvirt_event_impl.h"
#include "reactor/reactor.h"
#include "reactor/worker_pool.h"
#include "tests/support/fixture_domain.h"
#include "tests/support/host_view.h"
#include "tests/support/prereq.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;

// One reactor for the whole process (libvirt's event impl is global), run on its own thread.
class ReactorEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    std::mutex mu;
    std::condition_variable cv;
    bool ready = false;
    thread_ = std::thread([&] {
      reactor_ = std::move(reactor::Reactor::Create()).value();
      pool_ = std::make_unique<reactor::WorkerPool>(*reactor_, 2, 64);
      ASSERT_TRUE(reactor::LibvirtEventImpl::Install(*reactor_).ok());
      providers::LibvirtConnection::SilenceDefaultErrorPrinting();
      {
        std::lock_guard<std::mutex> lock(mu);
        thread_id_ = std::this_thread::get_id();
        ready = true;
      }
      cv.notify_all();
      reactor_->Run();
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return ready; });
  }
  void TearDown() override {
    reactor_->Post([this] { reactor_->Stop(); });
    thread_.join();
  }
  static reactor::Reactor& reactor() { return *reactor_; }
  static reactor::WorkerPool& pool() { return *pool_; }
  static std::thread::id thread_id() { return thread_id_; }

 private:
  std::thread thread_;
  static inline std::unique_ptr<reactor::Reactor> reactor_;
  static inline std::unique_ptr<reactor::WorkerPool> pool_;
  static inline std::thread::id thread_id_;
};

// Waits (polling a predicate under `mu`) up to `timeout`.
template <typename Pred>
bool WaitFor(std::mutex& mu, std::condition_variable& cv, std::chrono::milliseconds timeout,
             Pred pred) {
  std::unique_lock<std::mutex> lock(mu);
  return cv.wait_for(lock, timeout, pred);
}

struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> events;
  std::vector<std::thread::id> threads;
  int closes = 0;
};

int OnLifecycle(virConnectPtr, virDomainPtr, int event, int, void* opaque) {
  auto* rec = static_cast<Recorder*>(opaque);
  std::lock_guard<std::mutex> lock(rec->mu);
  rec->events.push_back(event);
  rec->threads.push_back(std::this_thread::get_id());
  rec->cv.notify_all();
  return 0;
}

void OnClose(virConnectPtr, int, void* opaque) {
  auto* rec = static_cast<Recorder*>(opaque);
  std::lock_guard<std::mutex> lock(rec->mu);
  ++rec->closes;
  rec->threads.push_back(std::this_thread::get_id());
  rec->cv.notify_all();
}

std::string DiskLessDomainXml(const std::string& name) {
  const bool kvm = ::access("/dev/kvm", R_OK | W_OK) == 0;
  return std::string("<domain type='") + (kvm ? "kvm" : "qemu") + "'><name>" + name +
         "</name><memory unit='MiB'>16</memory><vcpu>1</vcpu>"
         "<os><type arch='x86_64' machine='pc'>hvm</type></os>"
         "<devices><serial type='pty'/></devices></domain>";
}

virConnectPtr OpenOrNull() {
  virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
  return virConnectOpen("qemu:///system");
}

TEST(LibvirtEventLoopTest, LifecycleEventsArriveOnTheReactorThread) {
  virConnectPtr conn = OpenOrNull();
  LABVIRT_REQUIRE(conn != nullptr, "libvirtd at qemu:///system");
  Recorder rec;
  int cb = virConnectDomainEventRegisterAny(conn, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                            VIR_DOMAIN_EVENT_CALLBACK(OnLifecycle), &rec, nullptr);
  ASSERT_GE(cb, 0);
  std::string name = "lvtest-" + std::to_string(::getpid()) + "-evloop";
  virDomainPtr dom =
      virDomainCreateXML(conn, DiskLessDomainXml(name).c_str(), VIR_DOMAIN_START_PAUSED);
  ASSERT_NE(dom, nullptr) << virGetLastErrorMessage();
  EXPECT_EQ(virDomainResume(dom), 0);
  EXPECT_EQ(virDomainDestroy(dom), 0);
  virDomainFree(dom);
  // started, suspended (start paused), resumed, stopped; QEMU may add a shutdown event.
  auto seen = [&](int ev) {
    return std::find(rec.events.begin(), rec.events.end(), ev) != rec.events.end();
  };
  bool got = WaitFor(rec.mu, rec.cv, 30s, [&] { return seen(VIR_DOMAIN_EVENT_STOPPED); });
  EXPECT_TRUE(got) << "no STOPPED event within 30 s";
  {
    std::lock_guard<std::mutex> lock(rec.mu);
    for (int ev : {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_RESUMED,
                   VIR_DOMAIN_EVENT_STOPPED}) {
      EXPECT_TRUE(seen(ev)) << "missing lifecycle event " << ev;
    }
    EXPECT_EQ(rec.events.front(), VIR_DOMAIN_EVENT_STARTED);
    for (auto id : rec.threads) EXPECT_EQ(id, ReactorEnvironment::thread_id());
  }
  EXPECT_EQ(virConnectDomainEventDeregisterAny(conn, cb), 0);
  EXPECT_EQ(virConnectClose(conn), 0);
}

TEST(LibvirtEventLoopTest, KeepaliveHoldsAnIdleConnection) {
  virConnectPtr conn = OpenOrNull();
  LABVIRT_REQUIRE(conn != nullptr, "libvirtd at qemu:///system");
  // 1 s interval, 2 missed answers: a loop that failed to run libvirt's keepalive timer and
  // socket would lose the connection within ~3 s.
  ASSERT_EQ(virConnectSetKeepAlive(conn, 1, 2), 0);
  Recorder rec;
  ASSERT_EQ(virConnectRegisterCloseCallback(conn, OnClose, &rec, nullptr), 0);
  std::this_thread::sleep_for(6s);
  EXPECT_EQ(virConnectIsAlive(conn), 1);
  unsigned long version = 0;
  EXPECT_EQ(virConnectGetLibVersion(conn, &version), 0);
  {
    std::lock_guard<std::mutex> lock(rec.mu);
    EXPECT_EQ(rec.closes, 0);
  }
  virConnectUnregisterCloseCallback(conn, OnClose);
  virConnectClose(conn);
}

TEST(LibvirtEventLoopTest, KilledLibvirtdFiresCloseCallbackThenReconnects) {
  pid_t pid = testing::LibvirtdPid();
  LABVIRT_REQUIRE(pid > 0, "a running libvirtd with /run/libvirtd.pid");
  std::mutex mu;
  std::condition_variable cv;
  int connected = 0;
  std::vector<std::string> lost;
  std::thread::id callback_thread;
  std::unique_ptr<providers::LibvirtConnection> conn;
  auto& reactor = ReactorEnvironment::reactor();
  reactor.Post([&] {
    conn = std::make_unique<providers::LibvirtConnection>(
        reactor, ReactorEnvironment::pool(), "qemu:///system",
        providers::LibvirtConnectionEvents{.on_connected =
                                               [&] {
                                                 std::lock_guard<std::mutex> lock(mu);
                                                 ++connected;
                                                 callback_thread = std::this_thread::get_id();
                                                 cv.notify_all();
                                               },
                                           .on_lost =
                                               [&](const std::string& reason) {
                                                 std::lock_guard<std::mutex> lock(mu);
                                                 lost.push_back(reason);
                                                 cv.notify_all();
                                               }});
    conn->Start();
  });
  ASSERT_TRUE(WaitFor(mu, cv, 30s, [&] { return connected == 1; }));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  bool saw_loss = WaitFor(mu, cv, 30s, [&] { return !lost.empty(); });
  // Bring libvirtd back whatever happened, so later tests have it.
  std::string setup = testing::SourcePath("tools/setup-host") + " >/dev/null 2>&1";
  int rc = std::system(setup.c_str());
  EXPECT_TRUE(saw_loss) << "close callback did not fire after SIGKILL of libvirtd";
  EXPECT_EQ(rc, 0) << "tools/setup-host could not restart libvirtd";
  bool back = WaitFor(mu, cv, 60s, [&] { return connected == 2; });
  EXPECT_TRUE(back) << "no reconnect within 60 s";
  EXPECT_EQ(callback_thread, ReactorEnvironment::thread_id());
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  uint64_t reconnects = 0;
  reactor.Post([&] {
    reconnects = conn->reconnects();
    conn.reset();
    std::lock_guard<std::mutex> lock(done_mu);
    done = true;
    done_cv.notify_all();
  });
  ASSERT_TRUE(WaitFor(done_mu, done_cv, 10s, [&] { return done; }));
  EXPECT_EQ(reconnects, 1u);
}

}  // namespace
}  // namespace labvirt

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new labvirt::ReactorEnvironment);
  return RUN_ALL_TESTS();
}
