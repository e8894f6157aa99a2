// Deployer: lab.deploy and lab.destroy. A deploy is a job that runs one way:
//   resolve (kinds, images, interfaces; on a worker) -> host MACs -> define (domain plans,
//   overlays and log directories on a worker, then each domain in turn) -> finish: the lab's
//   records join the store and NodeLife starts what should run; or, on the first failure,
//   rollback (this deploy's domains undefined, their overlays removed) and an answer naming the
//   field at fault. A deploy of an existing lab converges it (links rewired live, unlisted nodes
//   destroyed). A destroy removes every node (VM, definition, overlay, console log, ports).
#ifndef LABVIRT_ENGINE_LAB_DEPLOYER_H_
#define LABVIRT_ENGINE_LAB_DEPLOYER_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/lab/engine_part.h"
#include "engine/lab/link_book.h"
#include "engine/lab/mgmt_network.h"
#include "engine/lab/node_life.h"
#include "engine/lab/reconciler.h"

namespace labvirt::engine {

class Deployer : public EnginePart {
 public:
  Deployer(const EngineSeams& seams, LabStore& store, NodeLife& lifecycle, LinkBook& links,
           Reconciler& reconciler, NodeConfig& config, MgmtNetwork& mgmt)
      : EnginePart(seams, store),
        lifecycle_(lifecycle),
        links_(links),
        reconciler_(reconciler),
        config_(config),
        mgmt_(mgmt) {}

  // Validates the whole lab, then defines every node and starts those that should run. Replies
  // when the lab is defined (`wait` false) or when every node is ready or failed (`wait` true).
  void Deploy(LabSpec spec, bool wait, Reply reply);
  // use_saved_configs: reads each node's latest saved config on the worker pool into the spec
  // (nodes given no startup_config whose kind takes one), then deploys.
  void DeployFromSaved(LabSpec spec, bool wait, Reply reply);
  // Destroys every node of the lab, after saving the running config of its save_on_stop nodes
  // (NodeConfig::SaveBeforeStop). Idempotent.
  void Destroy(const std::string& lab, Reply reply);

 private:
  void DestroyNow(const std::string& lab, Reply reply);
  // Every node's kind from the catalog with its overrides; InvalidField naming the node.
  Result<std::map<std::string, providers::DeviceKind>> ResolveKinds(const LabSpec& spec) const;
  // The spec's links with both ends as vendor interface names, each interface in one link at
  // most; InvalidField naming the endpoint.
  static Result<std::vector<LinkRecord>> ResolveLinks(
      const LabSpec& spec, const std::map<std::string, providers::DeviceKind>& resolved);
  // A new node record for `ns`, its NICs naming its links until BuildDomain plans them.
  std::unique_ptr<Node> NewNode(const std::string& lab, const NodeSpec& ns,
                                const providers::DeviceKind& kind,
                                const std::vector<LinkRecord>& links) const;
  // Confines every new node's bind sources to the bind root (on a worker), into its metadata;
  // a bad one fails the deploy naming nodes[i].binds[j] before anything is made. Then DeployMgmt.
  void DeployBinds(uint64_t job_id);
  // Plans and brings up the lab's management segment, then DeployResolve.
  void DeployMgmt(uint64_t job_id);
  void DeployResolve(uint64_t job_id);
  // Runs `then` once the store's host MACs are fresh (walking every domain's MACs only if stale).
  void WithHostMacs(uint64_t job_id, std::function<void()> then);
  // Plans every new node's domain (tag, NICs, MACs, XML) into the job's builds.
  void DeployDefine(uint64_t job_id, std::set<std::string> macs_in_use);
  // Makes the builds' overlays, log directories and day-0 media on workers (in parts at once,
  // one per core), then defines them.
  void DeployFiles(uint64_t job_id);
  // Defines the builds in deploy order, up to kDefinesInFlight at once; once every define asked
  // for has answered, a failure (the earliest in deploy order) fails the deploy and everything
  // defined is rolled back, as one define after another would have.
  void DefineMore(uint64_t job_id);
  void DefineDone(uint64_t job_id, size_t i, Status st);
  // Ends a deploy: on failure rolls it back and answers -32602 with `field` (the spec's field
  // path, "nodes[1].image"; "lab" when no one field is to blame) and st's message as reason.
  void DeployFinish(uint64_t job_id, Status st, std::string field = "lab");
  // DeployFinish's parts: roll back a failed deploy and answer with the field; move the job's
  // nodes into the lab and return every node of the lab that should start now.
  void DeployFailed(std::unique_ptr<DeployJob> job, Lab& lab, Status st, std::string field);
  std::vector<Node*> AddDeployedNodes(Lab& lab, DeployJob& job);
  // The deploy of `lab` in flight is over (its nodes are in the lab, or rolled back): the deploys
  // of the lab that waited run now, in order.
  void ReleaseDeploy(const std::string& lab);
  // The other labvirt instance that holds a lab named `lab` on this host (its domains seen at the
  // last reconcile, or its ports on the bridge now), or "" when none does.
  std::string OtherInstanceOf(const std::string& lab) const;
  // A re-deploy: wires new links, unwires links no longer listed, destroys unlisted nodes; `done`
  // runs once all of that has finished (failures are logged; a node not removed stays failed).
  void ConvergeExisting(Lab& lab, const DeployJob& job, const std::set<std::string>& new_nodes,
                        std::function<void()> done);
  // A container node's definition failed: the node (not the deploy) fails. False for a VM.
  bool ContainerFailed(DeployJob& job, const std::string& node, const Status& st);
  // Undefines the domains in `defined` (this deploy's, not ones that were there before) and
  // removes those nodes' overlays; others are left alone (a leak beats destroying a disk).
  void RollBack(std::vector<std::unique_ptr<Node>> nodes, std::set<std::string> defined,
                std::function<void()> done);
  // Destroys and undefines one node's domain and removes its files; `done` with the outcome.
  void DestroyNode(std::string key, std::function<void(Status)> done);
  // Deletes a node's day-0 text and `medium` on the worker pool, then runs `done` on the loop
  // (at once, with a warning logged, when the pool refuses the work).
  void RemoveDay0Files(const std::string& lab, const std::string& node, const std::string& medium,
                       std::function<void()> done);

  NodeLife& lifecycle_;
  LinkBook& links_;
  Reconciler& reconciler_;
  NodeConfig& config_;
  MgmtNetwork& mgmt_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_DEPLOYER_H_
