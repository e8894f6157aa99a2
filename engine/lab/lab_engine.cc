#include "engine/lab/lab_engine.h"

#include "engine/lab/deployer.h"
#include "engine/lab/leftover_sweep.h"
#include "engine/lab/link_book.h"
#include "engine/lab/metadata_writer.h"
#include "engine/lab/mgmt_network.h"
#include "engine/lab/node_config.h"
#include "engine/lab/node_life.h"
#include "engine/lab/node_ops.h"
#include "engine/lab/reconciler.h"

namespace labvirt::engine {

LabEngine::LabEngine(reactor::Reactor& reactor, reactor::WorkerPool& pool,
                     providers::Hypervisor& hv, NetworkPlumber& plumber, const Catalog& catalog,
                     EngineOptions options)
    : options_(std::move(options)),
      hv_(hv, BindToLifeline{&life_}),
      plumber_(plumber, BindToLifeline{&life_}),
      store_(reactor, options_),
      reactor_(reactor) {
  EngineSeams seams{reactor, pool, hv_, plumber_, catalog, options_, life_};
  writer_ = std::make_unique<MetadataWriter>(seams, store_);
  links_ = std::make_unique<LinkBook>(seams, store_, *writer_);
  config_ = std::make_unique<NodeConfig>(seams, store_, *writer_);
  lifecycle_ = std::make_unique<NodeLife>(seams, store_, *writer_, *links_, *config_);
  reconciler_ = std::make_unique<Reconciler>(seams, store_, *lifecycle_);
  mgmt_ = std::make_unique<MgmtNetwork>(seams, store_);
  deployer_ = std::make_unique<Deployer>(seams, store_, *lifecycle_, *links_, *reconciler_,
                                         *config_, *mgmt_);
  sweep_ = std::make_unique<LeftoverSweep>(seams, store_);
  ops_ = std::make_unique<NodeOps>(seams, store_, *lifecycle_, *writer_);
  ksm_ = std::make_unique<KsmMeter>(reactor, pool);
}

LabEngine::~LabEngine() = default;

void LabEngine::WatchHost(std::unique_ptr<HostReadingsSource> source) {
  host_source_ = std::move(source);
  store_.admission.SetReadings(host_source_->Read(reactor_.clock().Now()));
  host_timer_ = reactor_.Every(std::chrono::seconds(1), [this] {
    store_.admission.SetReadings(host_source_->Read(reactor_.clock().Now()));
  });
}

void LabEngine::WatchKsm(KsmPaths paths, std::chrono::milliseconds period) {
  ksm_->Start(std::move(paths), period, [this] {
    std::vector<KsmVm> vms;
    for (const auto& [ln, lab] : store_.labs) {
      for (const auto& [nn, n] : lab->nodes) {
        bool running = n->state == NodeState::kBooting || n->state == NodeState::kReady ||
                       n->state == NodeState::kStopping;
        if (running && !providers::IsContainerKind(*n->kind)) {
          vms.push_back({n->kind_name, n->domain, n->kind->memory_sharing});
        }
      }
    }
    return vms;
  });
}

std::string LabEngine::AdmissionJson() const { return store_.admission.ToJson(); }

void LabEngine::SetEventSink(EventSink sink) { store_.SetEventSink(std::move(sink)); }

void LabEngine::Deploy(LabSpec spec, bool wait, Reply reply) {
  deployer_->Deploy(std::move(spec), wait, std::move(reply));
}
void LabEngine::Destroy(const std::string& lab, Reply reply) {
  deployer_->Destroy(lab, std::move(reply));
}
Result<std::string> LabEngine::ListLabs() const { return store_.ListLabs(); }
Result<std::string> LabEngine::GetLab(const std::string& lab) const { return store_.GetLab(lab); }
Result<std::string> LabEngine::GetNode(const std::string& lab, const std::string& node) const {
  return store_.GetNode(lab, node);
}

void LabEngine::StartNode(const std::string& lab, const std::string& node, bool wait, Reply reply) {
  lifecycle_->StartNode(lab, node, wait, std::move(reply));
}
void LabEngine::StopNode(const std::string& lab, const std::string& node, bool force, int timeout_s,
                         bool wait, Reply reply) {
  lifecycle_->StopNode(lab, node, force, timeout_s, wait, std::move(reply));
}
void LabEngine::RestartNode(const std::string& lab, const std::string& node, bool wait,
                            Reply reply) {
  ops_->RestartNode(lab, node, wait, std::move(reply));
}
void LabEngine::WipeNode(const std::string& lab, const std::string& node, Reply reply) {
  ops_->WipeNode(lab, node, std::move(reply));
}
void LabEngine::ReconcileNode(const std::string& lab, const std::string& node, Reply reply) {
  reconciler_->ReconcileNode(lab, node, std::move(reply));
}
void LabEngine::AddNic(const std::string& lab, const std::string& node, Reply reply) {
  ops_->AddNic(lab, node, std::move(reply));
}
void LabEngine::RemoveNic(const std::string& lab, const std::string& node, Reply reply) {
  ops_->RemoveNic(lab, node, std::move(reply));
}

Result<std::string> LabEngine::Inventory(const std::string& lab, bool yaml) const {
  return mgmt_->Inventory(lab, yaml);
}

void LabEngine::SaveConfig(const std::string& lab, const std::string& node, Reply reply) {
  config_->Save(lab, node, std::move(reply));
}
void LabEngine::SaveLabConfigs(const std::string& lab, Reply reply) {
  config_->SaveLab(lab, std::move(reply));
}
void LabEngine::GetConfig(const std::string& lab, const std::string& node,
                          const std::string& version, Reply reply) {
  config_->Get(lab, node, version, std::move(reply));
}

void LabEngine::CreateLink(const std::string& lab, const std::string& a, const std::string& b,
                           Reply reply) {
  links_->CreateLink(lab, a, b, std::move(reply));
}
void LabEngine::DeleteLink(const std::string& lab, const std::string& link, Reply reply) {
  links_->DeleteLink(lab, link, std::move(reply));
}
void LabEngine::SetLinkImpairment(const std::string& lab, const std::string& link,
                                  const Impairment& a_to_b, const Impairment& b_to_a, Reply reply) {
  links_->SetImpairment(lab, link, a_to_b, b_to_a, std::move(reply));
}
void LabEngine::SetLinkState(const std::string& lab, const std::string& link, bool up,
                             Reply reply) {
  links_->SetLinkState(lab, link, up, std::move(reply));
}

void LabEngine::ProbeHost(std::function<void()> done) { lifecycle_->ProbeHost(std::move(done)); }
std::string LabEngine::CpuJson() const { return lifecycle_->cpu_choices().Json(); }
void LabEngine::Cleanup(bool dry_run, Reply reply) { sweep_->Cleanup(dry_run, std::move(reply)); }

ConsoleHub* LabEngine::Console(const std::string& lab, const std::string& node) {
  Node* n = store_.FindNode(lab, node);
  return n ? n->hub.get() : nullptr;
}
std::string LabEngine::ConsoleLogPath(const std::string& lab, const std::string& node) const {
  return store_.ConsoleLogPath(lab, node);
}

void LabEngine::Reconcile(std::function<void(Status)> done) {
  reconciler_->Reconcile([this, done = std::move(done)](Status st) {
    // The labs are rebuilt from their domains: their segments are next (adopting dnsmasq).
    if (st.ok()) mgmt_->Adopt();
    done(st);
  });
}
bool LabEngine::reconciled() const { return reconciler_->reconciled(); }
void LabEngine::OnDomainEvent(const providers::DomainEventInfo& event) {
  lifecycle_->OnDomainEvent(event);
}

void LabEngine::RenderMetrics(std::string& out) const {
  std::map<std::string, int> by_state;
  for (int s = 0; s <= static_cast<int>(NodeState::kFailed); ++s) {
    by_state[std::string(NodeStateName(static_cast<NodeState>(s)))] = 0;
  }
  AppendHeader(out, "labvirt_console_bytes_total", "counter",
               "Bytes read from each node's serial console");
  std::string viewers;
  for (const auto& [ln, lab] : store_.labs) {
    for (const auto& [nn, n] : lab->nodes) {
      ++by_state[std::string(NodeStateName(n->state))];
      std::string labels = Label("lab", n->lab) + "," + Label("node", n->name);
      AppendSample(out, "labvirt_console_bytes_total", labels,
                   n->hub ? static_cast<double>(n->hub->bytes_read()) : 0);
      AppendSample(viewers, "labvirt_console_viewers", labels,
                   n->hub ? static_cast<double>(n->hub->viewer_count()) : 0);
    }
  }
  AppendHeader(out, "labvirt_console_viewers", "gauge", "Clients attached to each console");
  out += viewers;
  AppendHeader(out, "labvirt_nodes", "gauge", "Nodes by state");
  for (const auto& [state, count] : by_state) {
    AppendSample(out, "labvirt_nodes", Label("state", state), count);
  }
  RenderAdmissionMetrics(store_.admission, out);
  store_.boot_seconds.Render(out, "labvirt_boot_seconds",
                             "Start requested to ready, per kind (admission queue included)");
  store_.readiness_seconds.Render(out, "labvirt_readiness_seconds",
                                  "VM running to readiness text seen, per kind");
  RenderMgmtMetrics(store_.labs, out);
  ksm_->Render(out);
}

}  // namespace labvirt::engine
