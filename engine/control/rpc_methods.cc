#include "engine/control/rpc_methods.h"

#include <chrono>

#include "engine/catalog/startup_config.h"
#include "engine/console/console_log.h"
#include "engine/control/jsonrpc.h"
#include "engine/control/lab_spec.h"
#include "engine/control/rpc_params.h"
#include "engine/control/rpc_status.h"
#include "reactor/base/json_writer.h"

namespace labvirt::engine {

RpcMethods::RpcMethods(ControlServer& server, LabEngine& engine, const Catalog& catalog,
                       reactor::WorkerPool& pool)
    : server_(server), engine_(engine), catalog_(catalog), pool_(pool) {}

void RpcMethods::Register() {
  RegisterLabMethods();
  RegisterNodeMethods();
  RegisterLinkMethods();
  RegisterConsoleMethods();
  RegisterCatalogMethods();
  server_.SetClientClosedHandler([this](uint64_t client) { subscribers_.erase(client); });
  engine_.SetEventSink([this](const EngineEvent& ev) { Publish(ev); });
  server_.AddAsyncMethod("events.subscribe", {"labs", "nodes", "types"},
                         [this](simdjson::dom::element params, RpcContext ctx, RpcReply reply) {
                           Params p(params);
                           Filter f{p.StrSet("labs"), p.StrSet("nodes"), p.StrSet("types")};
                           if (auto e = p.error()) return reply(*e);
                           if (ctx.client == 0)
                             return reply(Bad("client", "subscriptions need a connection"));
                           subscribers_[ctx.client] = std::move(f);
                           reply(std::string("{\"subscribed\":true}"));
                         });
}

void RpcMethods::Publish(const EngineEvent& ev) {
  if (subscribers_.empty()) return;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  JsonWriter w;
  w.BeginObject().Key("seq").Uint(++event_seq_).Key("type").String(ev.type);
  w.Key("time_ms").Int(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  w.Key("lab").String(ev.lab).Key("node").String(ev.node);
  w.Key("data").Raw(ev.data_json.empty() ? "{}" : ev.data_json).EndObject();
  const std::string line = Notification("event", w.str());
  for (const auto& [client, f] : subscribers_) {
    if (!f.labs.empty() && !f.labs.count(ev.lab)) continue;
    if (!f.nodes.empty() && !f.nodes.count(ev.node)) continue;
    if (!f.types.empty()) {
      bool match = false;
      for (const auto& t : f.types) match |= ev.type.rfind(t, 0) == 0;  // prefix: "node." etc.
      if (!match) continue;
    }
    server_.NotifyLine(client, line);
  }
}

void RpcMethods::RegisterLabMethods() {
  server_.AddAsyncMethod(
      "lab.deploy",
      {"lab", "name", "nodes", "links", "wait", "use_saved_configs", "save_on_stop", "mgmt",
       "force"},
      [this](simdjson::dom::element params, RpcContext, RpcReply reply) {
        auto spec = ParseLabSpec(params);
        if (!spec.ok()) return reply(ToRpcError(spec.status()));
        bool wait = false;
        simdjson::dom::element w;
        if (params["wait"].get(w) == simdjson::SUCCESS && w.get_bool().get(wait)) {
          return reply(Bad("wait", "must be a boolean"));
        }
        engine_.Deploy(std::move(spec).value(), wait, ReplyVia(std::move(reply)));
      });
  server_.AddAsyncMethod("lab.destroy", {"lab"},
                         [this](simdjson::dom::element params, RpcContext, RpcReply reply) {
                           Params p(params);
                           std::string lab = p.Str("lab");
                           if (auto e = p.error()) return reply(*e);
                           engine_.Destroy(lab, ReplyVia(std::move(reply)));
                         });
  server_.AddAsyncMethod("lab.config.save", {"lab"},
                         [this](simdjson::dom::element params, RpcContext, RpcReply reply) {
                           Params p(params);
                           std::string lab = p.Str("lab");
                           if (auto e = p.error()) return reply(*e);
                           engine_.SaveLabConfigs(lab, ReplyVia(std::move(reply)));
                         });
  server_.AddMethod("lab.list", {},
                    [this](simdjson::dom::element) { return ToRpcResult(engine_.ListLabs()); });
  server_.AddAsyncMethod("lab.cleanup", {"dry_run"},
                         [this](simdjson::dom::element params, RpcContext, RpcReply reply) {
                           Params p(params);
                           bool dry_run = p.Bool("dry_run", false);
                           if (auto e = p.error()) return reply(*e);
                           engine_.Cleanup(dry_run, ReplyVia(std::move(reply)));
                         });
  server_.AddMethod("lab.get", {"lab"}, [this](simdjson::dom::element params) -> RpcResult {
    Params p(params);
    std::string lab = p.Str("lab");
    if (auto e = p.error()) return *e;
    return ToRpcResult(engine_.GetLab(lab));
  });
  // An Ansible inventory of the lab's management addresses: {"lab","format","inventory"}, the
  // inventory a YAML text or (format "json") an object.
  server_.AddMethod("lab.inventory", {"lab", "format"},
                    [this](simdjson::dom::element params) -> RpcResult {
                      Params p(params);
                      std::string lab = p.Str("lab"), format = p.OptStr("format", "yaml");
                      if (auto e = p.error()) return *e;
                      if (format != "yaml" && format != "json") {
                        return Bad("format", "must be \"yaml\" or \"json\"");
                      }
                      auto inventory = engine_.Inventory(lab, format == "yaml");
                      if (!inventory.ok()) return ToRpcResult(inventory);
                      JsonWriter w;
                      w.BeginObject().Key("lab").String(lab).Key("format").String(format);
                      w.Key("inventory");
                      if (format == "yaml") {
                        w.String(*inventory);
                      } else {
                        w.Raw(*inventory);
                      }
                      w.EndObject();
                      return w.Take();
                    });
}

void RpcMethods::RegisterNodeMethods() {
  server_.AddMethod("node.get", {"lab", "node"},
                    [this](simdjson::dom::element params) -> RpcResult {
                      Params p(params);
                      std::string lab = p.Str("lab"), node = p.Str("node");
                      if (auto e = p.error()) return *e;
                      return ToRpcResult(engine_.GetNode(lab, node));
                    });
  AddNodeWaitVerb("node.start", &LabEngine::StartNode);
  server_.AddAsyncMethod("node.stop", {"lab", "node", "force", "timeout_s", "wait"},
                         [this](simdjson::dom::element params, RpcContext, RpcReply reply) {
                           Params p(params);
                           std::string lab = p.Str("lab"), node = p.Str("node");
                           bool force = p.Bool("force", false), wait = p.Bool("wait", false);
                           int timeout = static_cast<int>(p.Int("timeout_s", 0, 0, 24 * 3600));
                           if (auto e = p.error()) return reply(*e);
                           engine_.StopNode(lab, node, force, timeout, wait,
                                            ReplyVia(std::move(reply)));
                         });
  AddNodeWaitVerb("node.restart", &LabEngine::RestartNode);
  AddNodeVerb("node.wipe", &LabEngine::WipeNode);
  AddNodeVerb("node.reconcile", &LabEngine::ReconcileNode);
  AddNodeVerb("node.nic.add", &LabEngine::AddNic);
  AddNodeVerb("node.nic.remove", &LabEngine::RemoveNic);
  AddNodeVerb("node.config.save", &LabEngine::SaveConfig);
  server_.AddAsyncMethod("node.config.get", {"lab", "node", "version"},
                         [this](simdjson::dom::element params, RpcContext, RpcReply reply) {
                           Params p(params);
                           std::string lab = p.Str("lab"), node = p.Str("node");
                           std::string version = p.OptStr("version", "");
                           if (auto e = p.error()) return reply(*e);
                           engine_.GetConfig(lab, node, version, ReplyVia(std::move(reply)));
                         });
}

void RpcMethods::AddNodeVerb(const char* name,
                             void (LabEngine::*verb)(const std::string&, const std::string&,
                                                     LabEngine::Reply)) {
  server_.AddAsyncMethod(name, {"lab", "node"},
                         [this, verb](simdjson::dom::element params, RpcContext, RpcReply reply) {
                           Params p(params);
                           std::string lab = p.Str("lab"), node = p.Str("node");
                           if (auto e = p.error()) return reply(*e);
                           (engine_.*verb)(lab, node, ReplyVia(std::move(reply)));
                         });
}

void RpcMethods::AddNodeWaitVerb(const char* name,
                                 void (LabEngine::*verb)(const std::string&, const std::string&,
                                                         bool, LabEngine::Reply)) {
  server_.AddAsyncMethod(name, {"lab", "node", "wait"},
                         [this, verb](simdjson::dom::element params, RpcContext, RpcReply reply) {
                           Params p(params);
                           std::string lab = p.Str("lab"), node = p.Str("node");
                           bool wait = p.Bool("wait", false);
                           if (auto e = p.error()) return reply(*e);
                           (engine_.*verb)(lab, node, wait, ReplyVia(std::move(reply)));
                         });
}

void RpcMethods::RegisterLinkMethods() {
  server_.AddAsyncMethod(
      "link.create", {"lab", "endpoints"},
      [this](simdjson::dom::element params, RpcContext, RpcReply reply) {
        Params p(params);
        std::string lab = p.Str("lab");
        std::vector<std::string> ends = p.StrList("endpoints");
        if (auto e = p.error()) return reply(*e);
        if (ends.size() != 2) {
          return reply(Bad("endpoints", "must be two \"node:interface\" strings"));
        }
        engine_.CreateLink(lab, ends[0], ends[1], ReplyVia(std::move(reply)));
      });
  server_.AddAsyncMethod("link.delete", {"lab", "link"},
                         [this](simdjson::dom::element params, RpcContext, RpcReply reply) {
                           Params p(params);
                           std::string lab = p.Str("lab"), link = p.Str("link");
                           if (auto e = p.error()) return reply(*e);
                           engine_.DeleteLink(lab, link, ReplyVia(std::move(reply)));
                         });
  server_.AddAsyncMethod(
      "link.set_state", {"lab", "link", "state"},
      [this](simdjson::dom::element params, RpcContext, RpcReply reply) {
        Params p(params);
        std::string lab = p.Str("lab"), link = p.Str("link"), state = p.Str("state");
        if (auto e = p.error()) return reply(*e);
        if (state != "up" && state != "down")
          return reply(Bad("state", "must be \"up\" or \"down\""));
        engine_.SetLinkState(lab, link, state == "up", ReplyVia(std::move(reply)));
      });
  server_.AddAsyncMethod("link.set_impairment", {"lab", "link", "a_to_b", "b_to_a"},
                         [this](simdjson::dom::element params, RpcContext, RpcReply reply) {
                           Params p(params);
                           std::string lab = p.Str("lab"), link = p.Str("link");
                           if (auto e = p.error()) return reply(*e);
                           // A direction left out has no impairment: the call sets the whole link.
                           Impairment dir[2];
                           const char* names[2] = {"a_to_b", "b_to_a"};
                           for (int i = 0; i < 2; ++i) {
                             simdjson::dom::element el;
                             if (params[names[i]].get(el) != simdjson::SUCCESS) continue;
                             auto imp = ImpairmentFromJson(el, names[i]);
                             if (!imp.ok()) return reply(ToRpcError(imp.status()));
                             dir[i] = *imp;
                           }
                           engine_.SetLinkImpairment(lab, link, dir[0], dir[1],
                                                     ReplyVia(std::move(reply)));
                         });
}

void RpcMethods::RegisterConsoleMethods() {
  server_.AddAsyncMethod(
      "console.attach", {"lab", "node", "mode", "force"},
      [this](simdjson::dom::element params, RpcContext ctx, RpcReply reply) {
        Params p(params);
        std::string lab = p.Str("lab"), node = p.Str("node");
        std::string mode_text = p.OptStr("mode", "rw");
        bool force = p.Bool("force", false);
        if (auto e = p.error()) return reply(*e);
        if (mode_text != "rw" && mode_text != "ro")
          return reply(Bad("mode", "must be \"rw\" or \"ro\""));
        if (ctx.client == 0) return reply(Bad("client", "console.attach needs a connection"));
        ConsoleHub* hub = engine_.Console(lab, node);
        if (hub == nullptr) {
          return reply(Bad(
              "node", "no console for " + lab + "/" + node + " (unknown node, or never started)"));
        }
        ViewerMode mode = mode_text == "rw" ? ViewerMode::kReadWrite : ViewerMode::kReadOnly;
        if (Status st = hub->CheckAttach(mode, force); !st.ok()) {
          // Too many viewers is the node's state; a held lease is about the mode asked for.
          bool full = st.code() == StatusCode::kResourceExhausted;
          return reply(Bad(full ? "node" : "mode", st.message()));
        }
        JsonWriter w;
        w.BeginObject().Key("lab").String(lab).Key("node").String(node).Key("mode").String(
            mode_text);
        w.Key("stream").String("raw").EndObject();
        reply(w.Take());
        // After the reply line, the socket carries raw console bytes both ways.
        server_.TakeOver(ctx.client, [this, lab, node, mode, force](UniqueFd fd) {
          ConsoleHub* hub = engine_.Console(lab, node);
          if (hub == nullptr) return;  // the node went away in between; dropping fd closes it
          (void)hub->Attach(std::move(fd), mode, force);
        });
      });
  server_.AddAsyncMethod(
      "console.tail", {"lab", "node", "bytes"},
      [this](simdjson::dom::element params, RpcContext, RpcReply reply) {
        Params p(params);
        std::string lab = p.Str("lab"), node = p.Str("node");
        int64_t bytes =
            p.Int("bytes", 64 * 1024, 1, static_cast<int64_t>(ConsoleLog::kMaxTailBytes));
        if (auto e = p.error()) return reply(*e);
        auto known = engine_.GetNode(lab, node);
        if (!known.ok()) return reply(ToRpcError(known.status()));
        Status st = ConsoleLog::Tail(pool_, engine_.ConsoleLogPath(lab, node),
                                     static_cast<size_t>(bytes), [reply](Result<std::string> text) {
                                       if (!text.ok()) {
                                         return reply(Bad("node", text.status().message()));
                                       }
                                       JsonWriter w;
                                       w.BeginObject().Key("bytes").Uint(text->size());
                                       w.Key("text").String(*text).EndObject();
                                       reply(w.Take());
                                     });
        if (!st.ok())
          reply(ToRpcError(Internal(st.message()).WithField("pool").WithSummary("busy")));
      });
}

void RpcMethods::RegisterCatalogMethods() {
  server_.AddMethod("catalog.list", {}, [this](simdjson::dom::element) -> RpcResult {
    JsonWriter w;
    w.BeginArray();
    for (const auto& k : catalog_.kinds()) {
      w.BeginObject().Key("kind").String(k.name).Key("vendor").String(k.vendor);
      w.Key("aliases").BeginArray();
      for (const auto& a : k.aliases) w.String(a);
      w.EndArray().Key("memory_mb").Int(k.memory_mb).Key("vcpus").Int(k.vcpus);
      w.Key("max_nics").Int(k.max_nics).EndObject();
    }
    w.EndArray();
    return w.Take();
  });
  server_.AddMethod("catalog.get", {"kind"}, [this](simdjson::dom::element params) -> RpcResult {
    Params p(params);
    std::string kind = p.Str("kind");
    if (auto e = p.error()) return *e;
    const providers::DeviceKind* k = catalog_.Find(kind);
    if (k == nullptr) return Bad("kind", "no kind named '" + kind + "'");
    JsonWriter w;
    w.BeginObject().Key("kind").String(k->name).Key("vendor").String(k->vendor);
    w.Key("description").String(k->description).Key("memory_mb").Int(k->memory_mb);
    w.Key("vcpus").Int(k->vcpus).Key("machine").String(k->machine);
    w.Key("disk_bus").String(k->disk_bus).Key("nic_model").String(k->nic_model);
    w.Key("max_nics").Int(k->max_nics).Key("default_nics").Int(k->default_nics);
    w.Key("interface_prefix").String(k->interface_prefix);
    w.Key("interface_start").Int(k->interface_start);
    w.Key("readiness").BeginObject().Key("none").Bool(k->readiness.none);
    w.Key("success").BeginArray();
    for (const auto& s : k->readiness.success) w.String(s);
    w.EndArray().Key("overall_timeout_s").Int(k->readiness.overall_timeout.count());
    w.Key("idle_timeout_s").Int(k->readiness.idle_timeout.count());
    w.Key("retries").Int(k->readiness.retries).EndObject();
    w.Key("day0").Raw(Day0SpecJson(*k));
    w.Key("notes").String(k->notes).EndObject();
    return w.Take();
  });
}

}  // namespace labvirt::engine
