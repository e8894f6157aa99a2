// Reconciler: rebuilds labs from libvirt. One pass over every domain and its labvirt metadata (no
// per-domain XML polling): adopts what matches this instance, reports other instances' and
// foreign domains, and attaches consoles and ports of the running ones again. Deploys asked for
// while a pass runs wait for it (RunAfterPass), so that a deploy never redefines a node the pass
// has not adopted yet. Also node.reconcile: one node read from libvirt and converged.
#ifndef LABVIRT_ENGINE_LAB_RECONCILER_H_
#define LABVIRT_ENGINE_LAB_RECONCILER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/lab/engine_part.h"
#include "engine/lab/node_life.h"

namespace labvirt::engine {

class Reconciler : public EnginePart {
 public:
  Reconciler(const EngineSeams& seams, LabStore& store, NodeLife& lifecycle)
      : EnginePart(seams, store), lifecycle_(lifecycle) {}

  // One pass (start-up, reconnect); `done` with its outcome.
  void Reconcile(std::function<void(Status)> done);
  // Reads the node's domain state once and converges: adopts a domain found running, notices one
  // found off, starts or stops it to match the desired state, reattaches a lost console. Replies
  // with the node and the list of actions taken.
  void ReconcileNode(const std::string& lab, const std::string& node, Reply reply);
  // True once a pass has completed (host.info's `healthy` needs it).
  bool reconciled() const { return reconciled_once_; }
  // True while a pass runs.
  bool busy() const { return reconciling_; }
  // Runs `f` once the pass under way has ended (success or not). Only while busy().
  void RunAfterPass(std::function<void()> f);

 private:
  // What one domain turned out to be at a pass.
  enum class Seen { kForeign, kOtherInstance, kKnown, kAdopted, kSkipped };
  Seen ReconcileDomain(const providers::DomainInfo& d);
  // The node's kind from the catalog with the node's own overrides applied again (the kind's
  // defaults when they no longer apply); an error for a kind the catalog does not know.
  Result<SharedKind> KindOf(const providers::NodeMetadata& md, const std::string& domain) const;
  std::unique_ptr<Node> NodeFrom(const providers::DomainInfo& d, const providers::NodeMetadata& md,
                                 SharedKind kind) const;
  // Adds to `lab` the links named by md's NICs that it does not hold yet.
  void RebuildLinks(Lab& lab, const providers::NodeMetadata& md, const std::string& domain);

  NodeLife& lifecycle_;
  bool reconciling_ = false;
  bool reconciled_once_ = false;
  std::vector<std::function<void()>> after_reconcile_;  // deploys waiting for the pass
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_RECONCILER_H_
