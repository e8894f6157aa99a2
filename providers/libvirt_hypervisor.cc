#include "providers/libvirt_hypervisor.h"

#include <libvirt/virterror.h>

#include <utility>

#include "providers/domain_xml.h"
#include "reactor/base/log.h"

namespace labvirt::providers {
namespace {

struct Unit {};

// libvirt wants C strings; the constants are string literals, so data() is NUL-terminated.
const char* MetadataUri() { return kMetadataNamespace.data(); }
const char* MetadataKey() { return kMetadataPrefix.data(); }

// RAII for a domain handle taken on a worker.
struct DomainRef {
  virDomainPtr dom = nullptr;
  ~DomainRef() {
    if (dom) virDomainFree(dom);
  }
};

// virDomainSetMetadata wants the element without a namespace (it adds `key:` and the URI
// itself and fails with "failed to create a new XML namespace" when the text declares it).
std::string WithoutNamespace(std::string xml) {
  // Drop ` xmlns:labvirt='…'` (either quote style).
  const std::string decl = std::string(" xmlns:") + std::string(kMetadataPrefix) + "=";
  for (size_t p = xml.find(decl); p != std::string::npos; p = xml.find(decl, p)) {
    size_t q = p + decl.size();
    size_t close = q < xml.size() ? xml.find(xml[q], q + 1) : std::string::npos;
    if (close == std::string::npos) break;
    xml.erase(p, close + 1 - p);
  }
  for (const std::string tag : {"<", "</"}) {
    const std::string prefixed = tag + std::string(kMetadataPrefix) + ":";
    for (size_t p = xml.find(prefixed); p != std::string::npos; p = xml.find(prefixed, p)) {
      xml.replace(p, prefixed.size(), tag);
    }
  }
  return xml;
}

// virDomainGetMetadata returns the element without its namespace; declare it as the default
// namespace on the root element so the metadata parser sees labvirt's elements.
std::string WithNamespace(std::string xml) {
  size_t open = xml.find('<');
  if (open == std::string::npos) return xml;
  size_t name_end = xml.find_first_of(" />", open + 1);
  if (name_end == std::string::npos) return xml;
  xml.insert(name_end, " xmlns=\"" + std::string(kMetadataNamespace) + "\"");
  return xml;
}

std::vector<std::string> ExtractMacs(const std::string& xml) {
  std::vector<std::string> macs;
  const std::string key = "<mac address='";
  for (size_t pos = xml.find(key); pos != std::string::npos; pos = xml.find(key, pos)) {
    pos += key.size();
    size_t end = xml.find('\'', pos);
    if (end == std::string::npos) break;
    macs.push_back(xml.substr(pos, end - pos));
  }
  return macs;
}

}  // namespace

Status LibvirtError(const std::string& context) {
  virErrorPtr err = virGetLastError();
  std::string msg = context + ": " + (err && err->message ? err->message : "unknown libvirt error");
  if (err == nullptr) return Internal(msg);
  switch (err->code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_DOMAIN_METADATA:
      return NotFound(msg);
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
    case VIR_ERR_RPC:
    case VIR_ERR_SYSTEM_ERROR:
      return Unavailable(msg);
    case VIR_ERR_OPERATION_INVALID:
      return FailedPrecondition(msg);
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_CONFIG_UNSUPPORTED:
      return InvalidArgument(msg);
    default:
      return Internal(msg);
  }
}

LibvirtHypervisor::LibvirtHypervisor(reactor::Reactor& reactor, reactor::WorkerPool& pool,
                                     std::string uri)
    : reactor_(reactor), pool_(pool) {
  connection_ = std::make_unique<LibvirtConnection>(
      reactor, pool, std::move(uri),
      LibvirtConnectionEvents{.on_connected = [this] { OnConnected(); },
                              .on_lost = [this](const std::string&) { ForgetDeadEvents(); }});
}

LibvirtHypervisor::~LibvirtHypervisor() {
  alive_->store(false);
  if (event_conn_ != nullptr && event_callback_id_ >= 0 &&
      event_conn_ == connection_->conn_for_worker()) {
    virConnectDomainEventDeregisterAny(event_conn_, event_callback_id_);
  }
  connection_.reset();
}

void LibvirtHypervisor::ForgetDeadEvents() {
  virConnectPtr dead = std::exchange(event_conn_, nullptr);
  int id = std::exchange(event_callback_id_, -1);
  if (dead == nullptr || id < 0) return;
  // The registration holds a reference on the dead connection (libvirt's event callback list
  // refs its conn), so closing it alone never freed it: each libvirtd restart leaked a client
  // (an eventfd among its descriptors; found by host_fault's descriptor count). Deregistering
  // drops the callback locally first (the RPC that follows fails on the dead socket); our own
  // reference keeps the connection valid through that call.
  virConnectRef(dead);
  Status st = pool_.Enqueue([dead, id] {
    virConnectDomainEventDeregisterAny(dead, id);
    virConnectClose(dead);
  });
  if (!st.ok()) virConnectClose(dead);  // the pool is full: leak the registration, not our ref
}

void LibvirtHypervisor::Start() { connection_->Start(); }

void LibvirtHypervisor::OnConnected() {
  // Register for lifecycle events (an RPC: on a worker), then let the engine resync.
  auto alive = alive_;
  Run<int>(
      [this](virConnectPtr conn) -> Result<int> {
        int id =
            virConnectDomainEventRegisterAny(conn, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                             VIR_DOMAIN_EVENT_CALLBACK(OnLifecycle), this, nullptr);
        if (id < 0) return LibvirtError("register lifecycle events");
        return id;
      },
      [this, alive](Result<int> id) {
        if (!alive->load()) return;
        if (!id.ok()) {
          LogError("no libvirt lifecycle events", {{"error", id.status().ToString()}});
          return;
        }
        event_conn_ = connection_->conn_for_worker();
        event_callback_id_ = *id;
        if (connected_handler_) connected_handler_();
      });
}

int LibvirtHypervisor::OnLifecycle(virConnectPtr, virDomainPtr dom, int event, int detail,
                                   void* opaque) {
  auto* self = static_cast<LibvirtHypervisor*>(opaque);
  // Runs on the reactor thread (our event loop dispatches it). virDomainGetName is local.
  DomainEventInfo info = TranslateEvent(virDomainGetName(dom), event, detail);
  if (self->event_handler_) self->event_handler_(info);
  return 0;
}

DomainEventInfo LibvirtHypervisor::TranslateEvent(const char* name, int event, int detail) {
  DomainEventInfo info;
  info.name = name ? name : "";
  switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED:
      info.event = DomainEvent::kDefined;
      break;
    case VIR_DOMAIN_EVENT_UNDEFINED:
      info.event = DomainEvent::kUndefined;
      break;
    case VIR_DOMAIN_EVENT_STARTED:
      info.event = DomainEvent::kStarted;
      break;
    case VIR_DOMAIN_EVENT_SUSPENDED:
      info.event = DomainEvent::kSuspended;
      break;
    case VIR_DOMAIN_EVENT_RESUMED:
      info.event = DomainEvent::kResumed;
      break;
    case VIR_DOMAIN_EVENT_SHUTDOWN:
      info.event = DomainEvent::kShutdown;
      break;
    case VIR_DOMAIN_EVENT_CRASHED:
      info.event = DomainEvent::kCrashed;
      break;
    case VIR_DOMAIN_EVENT_STOPPED: {
      info.event = DomainEvent::kStopped;
      switch (detail) {
        case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
          info.detail = "shutdown";
          break;
        case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
          info.detail = "destroyed";
          break;
        case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
          info.detail = "crashed";
          break;
        case VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
          info.detail = "migrated";
          break;
        case VIR_DOMAIN_EVENT_STOPPED_SAVED:
          info.detail = "saved";
          break;
        case VIR_DOMAIN_EVENT_STOPPED_FAILED:
          info.detail = "failed";
          break;
        case VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT:
          info.detail = "from_snapshot";
          break;
        default:
          info.detail = "unknown";
          break;
      }
      return info;
    }
    default:
      info.event = DomainEvent::kOther;
      break;
  }
  if (info.event == DomainEvent::kCrashed) info.detail = "panicked";
  if (info.event == DomainEvent::kStarted && detail == VIR_DOMAIN_EVENT_STARTED_BOOTED) {
    info.detail = "booted";
  }
  return info;
}

template <typename T>
void LibvirtHypervisor::Run(std::function<Result<T>(virConnectPtr)> call,
                            std::function<void(Result<T>)> done) {
  virConnectPtr conn = connection_->conn_for_worker();
  if (conn == nullptr) {
    reactor_.Post([done] { done(Unavailable("libvirt is not connected")); });
    return;
  }
  // A reference per job: the connection may be declared dead and closed while the job runs.
  virConnectRef(conn);
  auto alive = alive_;
  Status st = pool_.Submit<Result<T>>(
      [conn, call = std::move(call)]() {
        Result<T> r = call(conn);
        virConnectClose(conn);
        return r;
      },
      [alive, done](Result<T> r) {
        if (alive->load()) done(std::move(r));
      });
  if (!st.ok()) {
    virConnectClose(conn);  // drops our reference only: no RPC
    reactor_.Post([done, st] { done(st); });
  }
}

void LibvirtHypervisor::RunOnDomain(std::string name, std::function<Status(virDomainPtr)> call,
                                    Done done) {
  Run<Unit>(
      [name, call = std::move(call)](virConnectPtr conn) -> Result<Unit> {
        DomainRef d{virDomainLookupByName(conn, name.c_str())};
        if (d.dom == nullptr) return LibvirtError("domain " + name);
        Status st = call(d.dom);
        if (!st.ok()) return st;
        return Unit{};
      },
      [done](Result<Unit> r) { done(r.status()); });
}

void LibvirtHypervisor::Define(std::string xml, Done done) {
  Run<Unit>(
      [xml](virConnectPtr conn) -> Result<Unit> {
        DomainRef d{virDomainDefineXML(conn, xml.c_str())};
        if (d.dom == nullptr) return LibvirtError("define domain");
        return Unit{};
      },
      [done](Result<Unit> r) { done(r.status()); });
}

void LibvirtHypervisor::Start(std::string name, bool paused, Done done) {
  RunOnDomain(
      name,
      [name, paused](virDomainPtr dom) {
        if (virDomainCreateWithFlags(dom, paused ? VIR_DOMAIN_START_PAUSED : 0) < 0) {
          return LibvirtError("start " + name);
        }
        return Status::Ok();
      },
      std::move(done));
}

void LibvirtHypervisor::Resume(std::string name, Done done) {
  RunOnDomain(
      name,
      [name](virDomainPtr dom) {
        return virDomainResume(dom) < 0 ? LibvirtError("resume " + name) : Status::Ok();
      },
      std::move(done));
}

void LibvirtHypervisor::Shutdown(std::string name, Done done) {
  RunOnDomain(
      name,
      [name](virDomainPtr dom) {
        if (virDomainShutdownFlags(dom, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) < 0) {
          return LibvirtError("shutdown " + name);
        }
        return Status::Ok();
      },
      std::move(done));
}

void LibvirtHypervisor::Destroy(std::string name, Done done) {
  RunOnDomain(
      name,
      [name](virDomainPtr dom) {
        if (virDomainIsActive(dom) != 1) return Status::Ok();
        if (virDomainDestroy(dom) < 0) {
          Status st = LibvirtError("destroy " + name);
          // It may have stopped on its own in between.
          return virDomainIsActive(dom) == 0 ? Status::Ok() : st;
        }
        return Status::Ok();
      },
      std::move(done));
}

void LibvirtHypervisor::Undefine(std::string name, Done done) {
  RunOnDomain(
      name,
      [name](virDomainPtr dom) {
        const unsigned basic =
            VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
        const unsigned all =
            basic | VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
        if (virDomainIsPersistent(dom) != 1 || virDomainUndefineFlags(dom, all) == 0) {
          return Status::Ok();
        }
        // A driver without NVRAM or checkpoints (libvirt's test driver) refuses those flags
        // ("unsupported flags"): it has neither to remove, so undefine without them.
        virErrorPtr err = virGetLastError();
        if (err != nullptr && err->code == VIR_ERR_INVALID_ARG &&
            virDomainUndefineFlags(dom, basic) == 0) {
          return Status::Ok();
        }
        return LibvirtError("undefine " + name);
      },
      [done](Status st) { done(st.code() == StatusCode::kNotFound ? Status::Ok() : st); });
}

void LibvirtHypervisor::GetXml(std::string name, bool live,
                               std::function<void(Result<std::string>)> done) {
  Run<std::string>(
      [name, live](virConnectPtr conn) -> Result<std::string> {
        DomainRef d{virDomainLookupByName(conn, name.c_str())};
        if (d.dom == nullptr) return LibvirtError("domain " + name);
        char* xml = virDomainGetXMLDesc(d.dom, live ? 0 : VIR_DOMAIN_XML_INACTIVE);
        if (xml == nullptr) return LibvirtError("get XML of " + name);
        std::string out(xml);
        free(xml);
        return out;
      },
      std::move(done));
}

void LibvirtHypervisor::GetHostCapabilities(std::string virttype,
                                            std::function<void(Result<HostCapabilities>)> done) {
  Run<HostCapabilities>(
      [virttype](virConnectPtr conn) -> Result<HostCapabilities> {
        char* xml =
            virConnectGetDomainCapabilities(conn, nullptr, "x86_64", nullptr, virttype.c_str(), 0);
        if (xml == nullptr) return LibvirtError("domain capabilities (" + virttype + ")");
        HostCapabilities out;
        out.domain_capabilities_xml = xml;
        free(xml);
        unsigned long version = 0;
        if (virConnectGetVersion(conn, &version) == 0 && version != 0) {
          out.hypervisor_version = std::to_string(version / 1000000) + "." +
                                   std::to_string(version / 1000 % 1000) + "." +
                                   std::to_string(version % 1000);
        }
        return out;
      },
      std::move(done));
}

void LibvirtHypervisor::SetMetadata(std::string name, std::string metadata_xml, Done done) {
  RunOnDomain(
      name,
      [name, metadata_xml = WithoutNamespace(std::move(metadata_xml))](virDomainPtr dom) {
        unsigned flags = VIR_DOMAIN_AFFECT_CONFIG;
        if (virDomainIsActive(dom) == 1) flags |= VIR_DOMAIN_AFFECT_LIVE;
        if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, metadata_xml.c_str(),
                                 MetadataKey(), MetadataUri(), flags) < 0) {
          return LibvirtError("set metadata of " + name);
        }
        return Status::Ok();
      },
      std::move(done));
}

void LibvirtHypervisor::AttachDevice(std::string name, std::string device_xml, Done done) {
  RunOnDomain(
      name,
      [name, device_xml](virDomainPtr dom) {
        unsigned flags = VIR_DOMAIN_AFFECT_CONFIG;
        if (virDomainIsActive(dom) == 1) flags |= VIR_DOMAIN_AFFECT_LIVE;
        if (virDomainAttachDeviceFlags(dom, device_xml.c_str(), flags) < 0) {
          return LibvirtError("attach device to " + name);
        }
        return Status::Ok();
      },
      std::move(done));
}

void LibvirtHypervisor::DetachDevice(std::string name, std::string device_xml, Done done) {
  RunOnDomain(
      name,
      [name, device_xml](virDomainPtr dom) {
        unsigned flags = VIR_DOMAIN_AFFECT_CONFIG;
        if (virDomainIsActive(dom) == 1) flags |= VIR_DOMAIN_AFFECT_LIVE;
        if (virDomainDetachDeviceFlags(dom, device_xml.c_str(), flags) < 0) {
          return LibvirtError("detach device from " + name);
        }
        return Status::Ok();
      },
      std::move(done));
}

void LibvirtHypervisor::ListDomains(std::function<void(Result<std::vector<DomainInfo>>)> done) {
  Run<std::vector<DomainInfo>>(
      [](virConnectPtr conn) -> Result<std::vector<DomainInfo>> {
        virDomainPtr* doms = nullptr;
        int n = virConnectListAllDomains(conn, &doms, 0);
        if (n < 0) return LibvirtError("list domains");
        std::vector<DomainInfo> out;
        for (int i = 0; i < n; ++i) {
          DomainRef d{doms[i]};
          DomainInfo info;
          info.name = virDomainGetName(d.dom);
          int state = 0, reason = 0;
          if (virDomainGetState(d.dom, &state, &reason, 0) == 0) {
            info.active = state != VIR_DOMAIN_SHUTOFF && state != VIR_DOMAIN_CRASHED &&
                          state != VIR_DOMAIN_NOSTATE;
            info.paused = state == VIR_DOMAIN_PAUSED;
          }
          info.persistent = virDomainIsPersistent(d.dom) == 1;
          char* md = virDomainGetMetadata(d.dom, VIR_DOMAIN_METADATA_ELEMENT, MetadataUri(), 0);
          if (md != nullptr) {
            info.metadata = WithNamespace(md);
            free(md);
          }
          out.push_back(std::move(info));
        }
        free(doms);
        return out;
      },
      std::move(done));
}

void LibvirtHypervisor::ListMacs(std::function<void(Result<std::vector<std::string>>)> done) {
  Run<std::vector<std::string>>(
      [](virConnectPtr conn) -> Result<std::vector<std::string>> {
        virDomainPtr* doms = nullptr;
        int n = virConnectListAllDomains(conn, &doms, 0);
        if (n < 0) return LibvirtError("list domains");
        std::vector<std::string> macs;
        for (int i = 0; i < n; ++i) {
          DomainRef d{doms[i]};
          char* xml = virDomainGetXMLDesc(d.dom, 0);
          if (xml == nullptr) continue;  // vanished meanwhile
          for (auto& m : ExtractMacs(xml)) macs.push_back(std::move(m));
          free(xml);
        }
        free(doms);
        return macs;
      },
      std::move(done));
}

}  // namespace labvirt::providers
