// EnginePart: what every part of LabEngine reaches. The seams (hypervisor, plumber, worker pool,
// reactor), every callback they take bound to the engine's Lifeline (engine/lab/lifeline.h); the
// catalog and options; and the shared LabStore, whose records and verbs it names as the part's
// own (labs_, SetState, …) so that a part reads as the engine always did.
//
// The parts, one job each, and the one way their calls go (none calls a part above it):
//   LabEngine (facade: the public verbs)
//     -> Deployer (lab_deploy.cc, lab_deploy_resolve.cc, lab_deploy_saved.cc),
//        Reconciler (reconcile.cc),
//        LeftoverSweep (lab_cleanup.cc), NodeOps (node_ops.cc)
//     -> NodeLife (node_lifecycle.cc, node_cpu.cc)
//     -> LinkBook (lab_links.cc), NodeConfig (node_config.cc), MgmtNetwork (mgmt_network.cc)
//     -> MetadataWriter (metadata_writer.cc)
//     -> LabStore (lab_store.cc)
// Loop thread only.
#ifndef LABVIRT_ENGINE_LAB_ENGINE_PART_H_
#define LABVIRT_ENGINE_LAB_ENGINE_PART_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "engine/catalog/catalog.h"
#include "engine/lab/lab_store.h"
#include "engine/lab/lifeline.h"
#include "engine/lab/network_plumber.h"
#include "providers/hypervisor.h"
#include "reactor/reactor.h"
#include "reactor/worker_pool.h"

namespace labvirt::engine {

// The engine's seams and settings, as LabEngine hands them to its parts.
struct EngineSeams {
  reactor::Reactor& reactor;
  reactor::WorkerPool& pool;
  providers::Hypervisor& hv;  // callbacks bound to `life`
  NetworkPlumber& plumber;    // callbacks bound to `life`
  const Catalog& catalog;
  const EngineOptions& options;
  const Lifeline& life;
};

class EnginePart {
 protected:
  EnginePart(const EngineSeams& seams, LabStore& store)
      : reactor_(seams.reactor),
        pool_(seams.pool),
        hv_(seams.hv),
        plumber_(seams.plumber),
        catalog_(seams.catalog),
        options_(seams.options),
        life_(seams.life),
        store_(store),
        labs_(store.labs),
        jobs_(store.jobs),
        admission_(store.admission) {}

  // `work` on the worker pool, then `done(result)` on the loop while the engine lives.
  template <typename T, typename Work, typename Done>
  Status OnWorker(Work work, Done done) {
    return pool_.Submit<T>(std::move(work), life_.Bind(std::move(done)));
  }
  // `f` on the loop from a clean stack, while the engine lives.
  void Defer(std::function<void()> f) { reactor_.Defer(life_.Bind(std::move(f))); }

  Node* FindNode(const std::string& lab, const std::string& node) const {
    return store_.FindNode(lab, node);
  }
  Node* FindNodeByKey(const std::string& key) const { return store_.FindNodeByKey(key); }
  LinkRecord* FindLink(const std::string& lab, const std::string& link) const {
    return store_.FindLink(lab, link);
  }
  void SetState(Node& n, NodeState state, const std::string& reason) {
    store_.SetState(n, state, reason);
  }
  void NotifyWaiters(Node& n) { store_.NotifyWaiters(n); }
  void Emit(const std::string& type, const Node* n, std::string data_json) {
    store_.Emit(type, n, std::move(data_json));
  }
  void EmitFor(const std::string& type, const std::string& lab, const std::string& node,
               std::string data_json) {
    store_.EmitFor(type, lab, node, std::move(data_json));
  }
  std::string NodeJson(const Node& n) const { return store_.NodeJson(n); }
  Result<std::string> GetLab(const std::string& lab) const { return store_.GetLab(lab); }
  Node* FindNodeByDomain(const std::string& domain) const {
    return store_.FindNodeByDomain(domain);
  }
  bool BeingDeployed(const std::string& domain) const { return store_.BeingDeployed(domain); }
  std::string ConsoleLogPath(const std::string& lab, const std::string& node) const {
    return store_.ConsoleLogPath(lab, node);
  }
  std::set<std::string> MacsInUse() const { return store_.MacsInUse(); }
  // Whether `tap` is a port on the bridge now (the plumber's replica; no I/O).
  bool OnBridge(const std::string& tap) const {
    if (tap.empty()) return false;
    for (const auto& p : plumber_.OwnedPorts()) {
      if (p.port == tap) return true;
    }
    return false;
  }

  reactor::Reactor& reactor_;
  reactor::WorkerPool& pool_;
  providers::Hypervisor& hv_;
  NetworkPlumber& plumber_;
  const Catalog& catalog_;
  const EngineOptions& options_;
  const Lifeline& life_;
  LabStore& store_;
  std::map<std::string, std::unique_ptr<Lab>>& labs_;
  std::map<uint64_t, std::unique_ptr<DeployJob>>& jobs_;
  Admission& admission_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_ENGINE_PART_H_
