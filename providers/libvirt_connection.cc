#include "providers/libvirt_connection.h"

#include <libvirt/virterror.h>

#include "reactor/base/log.h"

namespace labvirt::providers {
namespace {

constexpr int kKeepAliveIntervalS = 5;
constexpr unsigned kKeepAliveCount = 3;
constexpr auto kMaxBackoff = std::chrono::seconds(30);

const char* CloseReasonText(int reason) {
  switch (reason) {
    case VIR_CONNECT_CLOSE_REASON_ERROR:
      return "I/O error";
    case VIR_CONNECT_CLOSE_REASON_EOF:
      return "libvirtd closed the connection";
    case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
      return "keepalive timeout";
    case VIR_CONNECT_CLOSE_REASON_CLIENT:
      return "closed by client";
    default:
      return "unknown";
  }
}

void IgnoreLibvirtError(void*, virErrorPtr) {}

}  // namespace

LibvirtConnection::LibvirtConnection(reactor::Reactor& reactor, reactor::WorkerPool& pool,
                                     std::string uri, LibvirtConnectionEvents events)
    : reactor_(reactor), pool_(pool), uri_(std::move(uri)), events_(std::move(events)) {}

LibvirtConnection::~LibvirtConnection() {
  alive_->store(false);
  if (conn_ != nullptr) {
    virConnectUnregisterCloseCallback(conn_, &LibvirtConnection::CloseCallback);
    virConnectClose(conn_);
  }
}

std::string LibvirtConnection::LastError() {
  const char* msg = virGetLastErrorMessage();
  return msg ? msg : "unknown libvirt error";
}

void LibvirtConnection::SilenceDefaultErrorPrinting() {
  virSetErrorFunc(nullptr, IgnoreLibvirtError);
}

void LibvirtConnection::Start() { TryOpen(); }

void LibvirtConnection::TryOpen() {
  std::string uri = uri_;
  auto alive = alive_;
  Status st = pool_.Submit<OpenResult>(
      [uri] {
        OpenResult r;
        r.conn = virConnectOpen(uri.c_str());
        if (r.conn == nullptr) {
          r.error = LastError();
          return r;
        }
        if (virConnectSetKeepAlive(r.conn, kKeepAliveIntervalS, kKeepAliveCount) < 0) {
          r.error = "keepalive: " + LastError();
          virConnectClose(r.conn);
          r.conn = nullptr;
          return r;
        }
        virConnectGetLibVersion(r.conn, &r.version);
        return r;
      },
      [this, alive](OpenResult r) {
        if (!alive->load()) {
          if (r.conn) virConnectClose(r.conn);
          return;
        }
        OnOpened(std::move(r));
      });
  if (!st.ok()) {
    LogWarn("libvirt open not queued", {{"error", st.ToString()}});
    ScheduleRetry();
  }
}

void LibvirtConnection::OnOpened(OpenResult r) {
  if (r.conn == nullptr) {
    LogWarn("libvirt connect failed", {{"uri", uri_},
                                       {"error", r.error},
                                       {"retry_ms", std::to_string(backoff_.count() / 1000000)}});
    ScheduleRetry();
    return;
  }
  conn_ = r.conn;
  version_ = r.version;
  if (virConnectRegisterCloseCallback(conn_, &LibvirtConnection::CloseCallback, this, nullptr) <
      0) {
    LogWarn("libvirt close callback not registered", {{"error", LastError()}});
  }
  if (ever_connected_) ++reconnects_;
  ever_connected_ = true;
  backoff_ = std::chrono::milliseconds(500);
  LogInfo("libvirt connected", {{"uri", uri_}, {"libvirt_version", std::to_string(version_)}});
  if (events_.on_connected) events_.on_connected();
}

void LibvirtConnection::CloseCallback(virConnectPtr conn, int reason, void* opaque) {
  // Runs on the reactor thread when our event impl sees the socket close, but on a worker thread
  // when a call in flight there meets the dead socket first (libvirt closes the client from the
  // thread that found it: seen with libvirtd SIGKILLed mid-deploy, where Defer's loop-thread
  // check killed labvirtd). Post is for any thread, and runs the teardown on a later pass, once
  // libvirt's stack has unwound and no longer uses the connection it is reporting on.
  auto* self = static_cast<LibvirtConnection*>(opaque);
  // The connection is named: a report that arrives after a reconnect is about an older one.
  self->reactor_.Post([self, conn, reason, alive = self->alive_] {
    if (alive->load() && conn == self->conn_) self->OnClosed(reason);
  });
}

void LibvirtConnection::OnClosed(int reason) {
  if (conn_ == nullptr) return;
  virConnectPtr dead = conn_;
  conn_ = nullptr;
  std::string why = CloseReasonText(reason);
  LogWarn("libvirt connection lost", {{"uri", uri_}, {"reason", why}});
  virConnectUnregisterCloseCallback(dead, &LibvirtConnection::CloseCallback);
  // Closing a dead connection is quick, but it is a libvirt call: keep it off the loop.
  Status st = pool_.Enqueue([dead] { virConnectClose(dead); });
  if (!st.ok()) LogWarn("libvirt close not queued; leaking the dead connection");
  if (events_.on_lost) events_.on_lost(why);
  ScheduleRetry();
}

void LibvirtConnection::ScheduleRetry() {
  retry_timer_ = reactor_.After(backoff_, [this] { TryOpen(); });
  backoff_ = std::min<reactor::Duration>(backoff_ * 2, kMaxBackoff);
}

}  // namespace labvirt::providers
