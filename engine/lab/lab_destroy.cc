// Deployer (engine/lab/deployer.h): taking labs down — lab.destroy, one node's destruction (a
// re-deploy's unlisted nodes too), and a failed deploy's rollback.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "engine/catalog/catalog_overrides.h"
#include "engine/lab/deployer.h"
#include "providers/image_check.h"
#include "providers/interface_naming.h"
#include "providers/node_naming.h"
#include "providers/overlay.h"
#include "providers/state_paths.h"
#include "reactor/base/fault_point.h"
#include "reactor/base/join.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {

void Deployer::RollBack(std::vector<std::unique_ptr<Node>> nodes, std::set<std::string> defined,
                        std::function<void()> done) {
  auto join = Join::Create([done](Status) { done(); });
  for (auto& n : nodes) {
    std::string domain = n->domain, overlay = n->overlay;
    // Made for this deploy only; the answer waits until they are gone.
    if (!n->config_medium.empty()) RemoveDay0Files(n->lab, n->name, n->config_medium, join->Step());
    if (domain.empty() || !defined.count(domain)) continue;
    hv_.Undefine(domain, [this, overlay, finish = join->Step()](Status) {
      if (overlay.empty() ||
          !pool_.Enqueue([overlay] { (void)providers::DeleteOverlay(overlay); }).ok()) {
        LogWarn("overlay not removed", {{"path", overlay}});
      }
      finish();
    });
  }
  join->Seal();
}

void Deployer::RemoveDay0Files(const std::string& lab, const std::string& node,
                               const std::string& medium, std::function<void()> done) {
  std::string text = providers::Day0TextPath(options_.state_dir, lab, node);
  Status st = OnWorker<bool>(
      [text, medium] {
        ::unlink(text.c_str());
        ::unlink(medium.c_str());
        return true;
      },
      [done](bool) { done(); });
  if (!st.ok()) {
    LogWarn("day-0 files not removed", {{"path", medium}, {"error", st.message()}});
    done();
  }
}

void Deployer::Destroy(const std::string& lab_name, Reply reply) {
  auto it = labs_.find(lab_name);
  if (it == labs_.end()) return DestroyNow(lab_name, std::move(reply));
  auto join = Join::Create([this, lab_name, reply](Status) { DestroyNow(lab_name, reply); });
  for (auto& [name, n] : it->second->nodes) config_.SaveBeforeStop(*n, join->Step());
  join->Seal();
}

void Deployer::DestroyNow(const std::string& lab_name, Reply reply) {
  auto it = labs_.find(lab_name);
  if (it == labs_.end()) {
    JsonWriter w;
    w.BeginObject().Key("lab").String(lab_name).Key("destroyed").Uint(0).EndObject();
    return reply(w.Take());  // idempotent
  }
  std::vector<std::string> keys;
  for (auto& [name, n] : it->second->nodes) keys.push_back(n->key);
  std::vector<std::string> link_ids;
  for (const auto& l : it->second->links) link_ids.push_back(l.id);
  // Nodes whose domain could not be destroyed or undefined stay in the lab, failed, so that
  // lab.destroy can be tried again (forgetting them would leave a domain nobody tracks).
  auto failed = std::make_shared<std::map<std::string, std::string>>();  // key -> why
  auto join = Join::Create([this, failed, lab_name, reply, link_ids, count = keys.size()](Status) {
    auto it = labs_.find(lab_name);
    if (it != labs_.end()) {
      auto& nodes = it->second->nodes;
      for (auto n = nodes.begin(); n != nodes.end();) {
        auto why = failed->find(n->second->key);
        if (why == failed->end()) {
          store_.ForgetDomain(*n->second);
          n = nodes.erase(n);
          continue;
        }
        SetState(*n->second, NodeState::kFailed, "destroy failed: " + why->second);
        ++n;
      }
    }
    if (!failed->empty()) {
      std::string first =
          failed->begin()->first.substr(lab_name.size() + 1) + ": " + failed->begin()->second;
      return reply(Internal(first + " (" + std::to_string(failed->size()) +
                            " node(s) kept in the lab, failed; run lab.destroy again once that "
                            "is fixed)")
                       .WithField("lab")
                       .WithSummary("destroy incomplete"));
    }
    // Ports are gone with the nodes; give the links' tags back.
    plumber_.DeleteLinks(lab_name, link_ids, [lab_name](Status st) {
      if (!st.ok())
        LogWarn("link tags not released", {{"lab", lab_name}, {"error", st.ToString()}});
    });
    // The management segment goes last, and the answer waits for it: once lab.destroy answers,
    // no port, process, rule or file of the lab is left.
    mgmt_.TearDown(lab_name, [this, lab_name, reply, count] {
      labs_.erase(lab_name);
      EmitFor("lab.destroyed", lab_name, "", "{\"lab\":\"" + lab_name + "\"}");
      JsonWriter w;
      w.BeginObject().Key("lab").String(lab_name).Key("destroyed").Uint(count).EndObject();
      reply(w.Take());
    });
  });
  for (const auto& key : keys) {
    DestroyNode(key, [end = join->Step(), failed, key](Status st) {
      if (!st.ok()) (*failed)[key] = st.message();
      end();
    });
  }
  join->Seal();
}

void Deployer::DestroyNode(std::string key, std::function<void(Status)> done) {
  Node* n = FindNodeByKey(key);
  if (n == nullptr) return done(Status::Ok());
  n->desired_running = false;
  n->restart_pending = false;
  n->restart_timer.Cancel();
  n->stop_timer.Cancel();
  if (n->tracker) n->tracker->Stop();
  admission_.Release(key);
  if (n->hub) n->hub->ClosePty();
  std::string domain = n->domain, overlay = n->overlay, log = ConsoleLogPath(n->lab, n->name);
  std::string lab = n->lab, name = n->name, medium = n->config_medium;
  auto after_domain = [this, overlay, log, lab, name, medium, done](Status st) {
    // A domain still defined keeps its disk, log and ports: they are still its own.
    if (!st.ok()) return done(st);
    if (!medium.empty()) RemoveDay0Files(lab, name, medium, [] {});
    plumber_.Unplug(lab, name, [this, overlay, log, done](Status unplug) {
      Status file_st = pool_.Enqueue([overlay, log] {
        if (!overlay.empty()) (void)providers::DeleteOverlay(overlay);
        ::unlink(log.c_str());
      });
      done(!unplug.ok() ? unplug : file_st);
    });
  };
  if (domain.empty()) return after_domain(Status::Ok());
  hv_.Destroy(domain, [this, domain, after_domain](Status st) {
    if (!st.ok() && st.code() != StatusCode::kNotFound) return after_domain(st);
    FaultPoint("destroy");
    hv_.Undefine(domain, [after_domain](Status st) {
      after_domain(st.code() == StatusCode::kNotFound ? Status::Ok() : st);  // gone already
    });
  });
}

}  // namespace labvirt::engine
