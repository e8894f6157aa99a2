// LibvirtEventImpl against libvirt's in-process test driver: no daemon, but the real libvirt
// library calling our hooks (domain events are delivered through an interval-0 timeout).
#include "providers/libvirt_event_impl.h"

#include <libvirt/virterror.h>
#include <poll.h>

#include <thread>

#include "gtest/gtest.h"

namespace labvirt::reactor {
namespace {

TEST(LibvirtEventBitsTest, RoundTrip) {
  for (int ev : {VIR_EVENT_HANDLE_READABLE, VIR_EVENT_HANDLE_WRITABLE, VIR_EVENT_HANDLE_ERROR,
                 VIR_EVENT_HANDLE_HANGUP}) {
    EXPECT_EQ(PollToVirEvents(VirEventsToPoll(ev)), ev);
  }
  EXPECT_EQ(PollToVirEvents(POLLNVAL), VIR_EVENT_HANDLE_ERROR);
}

struct EventLog {
  std::vector<int> events;
  std::vector<std::thread::id> threads;
};

int OnLifecycle(virConnectPtr, virDomainPtr, int event, int, void* opaque) {
  auto* log = static_cast<EventLog*>(opaque);
  log->events.push_back(event);
  log->threads.push_back(std::this_thread::get_id());
  return 0;
}

TEST(LibvirtEventImplTest, TestDriverEventsArriveOnTheLoopThread) {
  auto reactor = std::move(Reactor::Create()).value();
  ASSERT_TRUE(LibvirtEventImpl::Install(*reactor).ok());
  EXPECT_FALSE(LibvirtEventImpl::Install(*reactor).ok());  // once per process
  virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
  virConnectPtr conn = virConnectOpen("test:///default");
  ASSERT_NE(conn, nullptr);
  EventLog log;
  int cb_id =
      virConnectDomainEventRegisterAny(conn, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                       VIR_DOMAIN_EVENT_CALLBACK(OnLifecycle), &log, nullptr);
  ASSERT_GE(cb_id, 0);
  virDomainPtr dom = virDomainLookupByName(conn, "test");
  ASSERT_NE(dom, nullptr);
  ASSERT_EQ(virDomainSuspend(dom), 0);
  ASSERT_EQ(virDomainResume(dom), 0);
  ASSERT_EQ(virDomainDestroy(dom), 0);
  for (int i = 0; i < 200 && log.events.size() < 3; ++i) reactor->RunOnce(false);
  ASSERT_EQ(log.events.size(), 3u);
  EXPECT_EQ(log.events[0], VIR_DOMAIN_EVENT_SUSPENDED);
  EXPECT_EQ(log.events[1], VIR_DOMAIN_EVENT_RESUMED);
  EXPECT_EQ(log.events[2], VIR_DOMAIN_EVENT_STOPPED);
  for (auto id : log.threads) EXPECT_EQ(id, std::this_thread::get_id());
  EXPECT_GE(LibvirtEventImpl::Get()->timeout_count(), 1u);
  virDomainFree(dom);
  ASSERT_EQ(virConnectDomainEventDeregisterAny(conn, cb_id), 0);
  reactor->RunUntilIdle();
  virConnectClose(conn);
  reactor->RunUntilIdle();
}

}  // namespace
}  // namespace labvirt::reactor
