#include "engine/control/capture_methods.h"

#include <net/if.h>

#include "engine/capture/bpf_filter.h"
#include "engine/control/rpc_params.h"
#include "engine/control/rpc_status.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {

CaptureMethods::CaptureMethods(reactor::Reactor& reactor, ControlServer& server, LabEngine& engine,
                               CaptureOptions options)
    : reactor_(reactor), server_(server), engine_(engine), options_(options) {}

CaptureMethods::~CaptureMethods() = default;

void CaptureMethods::Register() {
  server_.AddAsyncMethod(
      "node.nic.capture",
      {"lab", "node", "interface", "filter", "snaplen", "count", "bytes", "duration_ms"},
      [this](simdjson::dom::element params, RpcContext ctx, RpcReply reply) {
        Params p(params);
        std::string lab = p.Str("lab"), node = p.Str("node"), iface = p.Str("interface");
        if (auto e = p.error()) return reply(*e);
        Begin(params, ctx, std::move(reply), lab, engine_.RunningNic(lab, node, iface));
      });
  server_.AddAsyncMethod(
      "link.capture", {"lab", "link", "end", "filter", "snaplen", "count", "bytes", "duration_ms"},
      [this](simdjson::dom::element params, RpcContext ctx, RpcReply reply) {
        Params p(params);
        std::string lab = p.Str("lab"), link = p.Str("link"), end = p.OptStr("end", "");
        if (auto e = p.error()) return reply(*e);
        if (!end.empty() && end != "a" && end != "b") {
          return reply(Bad("end", "must be \"a\" or \"b\" (the link's first or second endpoint)"));
        }
        Begin(params, ctx, std::move(reply), lab, engine_.RunningLinkEnd(lab, link, end));
      });
}

void CaptureMethods::Begin(simdjson::dom::element params, RpcContext ctx, RpcReply reply,
                           const std::string& lab, Result<NicTarget> target) {
  Params p(params);
  CaptureSpec spec;
  spec.filter = p.OptStr("filter", "");
  spec.snaplen = static_cast<uint32_t>(p.Int("snaplen", kMaxSnaplen, kMinSnaplen, kMaxSnaplen));
  spec.max_packets = static_cast<uint64_t>(p.Int("count", 0, 0, INT64_MAX));
  spec.max_bytes = static_cast<uint64_t>(p.Int("bytes", 0, 0, INT64_MAX));
  spec.duration = std::chrono::milliseconds(p.Int("duration_ms", 0, 0, 7 * 24 * 3600 * 1000LL));
  if (auto e = p.error()) return reply(*e);
  if (!target.ok()) return reply(ToRpcError(target.status()));
  if (ctx.client == 0) return reply(Bad("client", "a capture needs a connection"));
  // Compiled here to answer a bad filter in JSON; the session compiles it again (microseconds).
  if (auto f = CompileFilter(spec.filter, spec.snaplen); !f.ok()) {
    return reply(Bad("filter", f.status().message()));
  }
  if (::if_nametoindex(target->tap.c_str()) == 0) {
    return reply(ToRpcError(FailedPrecondition("the tap " + target->tap + " of " + target->node +
                                               ":" + target->interface + " is not on this host")
                                .WithField("node")
                                .WithSummary("node not running")));
  }
  if (sessions_.size() >= kMaxCaptures) {
    return reply(ToRpcError(FailedPrecondition("at most " + std::to_string(kMaxCaptures) +
                                               " captures at once; end one first")
                                .WithField("capture")
                                .WithSummary("too many captures")));
  }
  spec.ifname = target->tap;
  spec.name = lab + "/" + target->node + ":" + target->interface;
  spec.description = "labvirt lab " + lab + ", node " + target->node + ", interface " +
                     target->interface + (target->link.empty() ? "" : ", link " + target->link) +
                     ", tap " + target->tap + "; directions are the node's";
  JsonWriter w;
  w.BeginObject().Key("lab").String(lab).Key("node").String(target->node);
  w.Key("interface").String(target->interface).Key("tap").String(target->tap);
  w.Key("link").String(target->link).Key("filter").String(spec.filter);
  w.Key("snaplen").Uint(spec.snaplen).Key("stream").String("pcapng").EndObject();
  reply(w.Take());
  // After the reply line, the socket carries the pcapng stream. The session is made only when
  // the socket is handed over: a client that leaves before then leaves nothing behind.
  server_.TakeOver(ctx.client, [this, spec = std::move(spec)](UniqueFd fd) {
    const uint64_t id = next_id_++;
    auto session =
        std::make_unique<CaptureSession>(reactor_, spec, options_, [this, id](const std::string&) {
          auto it = sessions_.find(id);
          if (it == sessions_.end()) return;
          // We are inside the session's own callback: free it from a clean stack.
          reactor_.DeferDelete(std::move(it->second));
          sessions_.erase(it);
        });
    CaptureSession& started = *session;
    sessions_[id] = std::move(session);
    started.Start(std::move(fd));
  });
}

}  // namespace labvirt::engine
