// The control protocol's methods (docs/protocol.md): each parses its params, checks them, and
// calls the engine. Event subscriptions live here too: engine events fan out as "event"
// notifications to the clients whose filter they pass.
//
// Does not own the server, engine, catalog, reactor or pool, which must outlive it. Loop thread.
#ifndef LABVIRT_ENGINE_CONTROL_RPC_METHODS_H_
#define LABVIRT_ENGINE_CONTROL_RPC_METHODS_H_

#include <map>
#include <set>
#include <string>

#include "engine/catalog/catalog.h"
#include "engine/control/control_server.h"
#include "engine/lab/lab_engine.h"
#include "reactor/worker_pool.h"

namespace labvirt::engine {

class RpcMethods {
 public:
  RpcMethods(ControlServer& server, LabEngine& engine, const Catalog& catalog,
             reactor::WorkerPool& pool);
  // Registers every method and routes engine events to subscribers.
  void Register();
  // Delivers one engine event to matching subscribers (public for tests).
  void Publish(const EngineEvent& event);
  size_t subscriber_count() const { return subscribers_.size(); }

 private:
  struct Filter {
    std::set<std::string> labs, nodes, types;  // empty: everything
  };
  void RegisterLabMethods();
  void RegisterNodeMethods();
  void RegisterLinkMethods();
  void RegisterConsoleMethods();
  // Registers `name` with params {lab, node} calling `verb`.
  void AddNodeVerb(const char* name, void (LabEngine::*verb)(const std::string&, const std::string&,
                                                             LabEngine::Reply));
  // Registers `name` with params {lab, node, wait (bool, default false)} calling `verb`.
  void AddNodeWaitVerb(const char* name,
                       void (LabEngine::*verb)(const std::string&, const std::string&, bool,
                                               LabEngine::Reply));
  void RegisterCatalogMethods();

  ControlServer& server_;
  LabEngine& engine_;
  const Catalog& catalog_;
  reactor::WorkerPool& pool_;
  std::map<uint64_t, Filter> subscribers_;
  uint64_t event_seq_ = 0;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONTROL_RPC_METHODS_H_
