// Fuzz target: the control socket's request path as labvirtd runs it for bytes from a client —
// LineFramer over arbitrary read splits, then ControlServer's envelope checks (RequestDecoder,
// method look-up, the ParamNames check) and the production params parsers behind the methods
// that take structured params: ParseLabSpec (lab.deploy, with ParseMgmtSpec and ParseEndpoint),
// ImpairmentFromJson (link.set_impairment), the Params accessors every other method uses, and
// ParseImpairmentText (labvirtctl's --impair). Each line is also read as a server answer
// (ResponseDecoder, ErrorWords), which is what labvirtctl does with bytes from labvirtd.
//
// Not covered: the methods' calls into LabEngine (a fake engine per input costs more than it
// finds here); the async methods are registered as synchronous ones with the same param names.
#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "engine/control/control_server.h"
#include "engine/control/jsonrpc.h"
#include "engine/control/lab_spec.h"
#include "engine/control/rpc_params.h"
#include "engine/control/rpc_status.h"
#include "engine/netem/impairment.h"
#include "reactor/base/log.h"
#include "reactor/reactor.h"
#include "tests/fuzz/fuzz_input.h"

namespace labvirt::engine {
namespace {

RpcResult Ok() { return std::string("{}"); }

RpcResult DeployParams(simdjson::dom::element params) {
  auto spec = ParseLabSpec(params);
  if (!spec.ok()) return ToRpcError(spec.status());
  std::set<std::string> names;
  for (const auto& node : spec->nodes) names.insert(node.name);
  simdjson::dom::element mgmt;
  if (params["mgmt"].get(mgmt) == simdjson::SUCCESS) {
    auto m = ParseMgmtSpec(mgmt, names);
    if (!m.ok()) return ToRpcError(m.status());
  }
  return Ok();
}

RpcResult ImpairmentParams(simdjson::dom::element params) {
  Params p(params);
  std::string lab = p.Str("lab"), link = p.Str("link");
  if (auto e = p.error()) return *e;
  for (const char* name : {"a_to_b", "b_to_a"}) {
    simdjson::dom::element el;
    if (params[name].get(el) != simdjson::SUCCESS) continue;
    auto imp = ImpairmentFromJson(el, name);
    if (!imp.ok()) return ToRpcError(imp.status());
    // The text form round-trips (labvirtctl prints it, the CLI parses it back).
    auto back = ParseImpairmentText(ImpairmentText(*imp));
    LABVIRT_FUZZ_ASSERT(back.ok());
  }
  return Ok();
}

// The accessors of rpc_params.h on every member name the methods use.
RpcResult GenericParams(simdjson::dom::element params) {
  Params p(params);
  p.Str("lab");
  p.OptStr("node", "");
  p.Bool("wait", false);
  p.Int("timeout_s", 0, 0, 3600);
  p.StrSet("labs");
  p.StrList("types");
  if (auto e = p.error()) return *e;
  std::string endpoint = p.OptStr("endpoint", "");
  if (!endpoint.empty()) {
    auto ep = ParseEndpoint(endpoint, "endpoint");
    if (!ep.ok()) return ToRpcError(ep.status());
  }
  std::string impair = p.OptStr("impair", "");
  if (!impair.empty()) (void)ParseImpairmentText(impair);
  return Ok();
}

struct Harness {
  std::unique_ptr<reactor::Reactor> reactor;
  std::unique_ptr<ControlServer> server;
  ResponseDecoder responses;
};

Harness* MakeHarness() {
  auto* h = new Harness;
  auto r = reactor::Reactor::Create();
  if (!r.ok()) __builtin_trap();  // the harness needs io_uring; nothing to fuzz without it
  h->reactor = std::move(r).value();
  h->server = std::make_unique<ControlServer>(*h->reactor, ControlServerOptions{});
  h->server->AddMethod(
      "lab.deploy",
      {"lab", "name", "nodes", "links", "wait", "use_saved_configs", "save_on_stop", "mgmt"},
      DeployParams);
  h->server->AddMethod("link.set_impairment", {"lab", "link", "a_to_b", "b_to_a"},
                       ImpairmentParams);
  h->server->AddMethod("node.get",
                       {"lab", "node", "wait", "timeout_s", "labs", "types", "endpoint", "impair"},
                       GenericParams);
  h->server->AddMethod("lab.list", {}, [](simdjson::dom::element) { return Ok(); });
  return h;
}

}  // namespace
}  // namespace labvirt::engine

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace labvirt::engine;
  static Harness* h = MakeHarness();  // one reactor per process: io_uring set-up is slow
  labvirt::fuzz::SplitInput input(data, size);
  // A small line limit so that oversized lines are reached too.
  LineFramer framer(4096);
  input.ForEachChunk([&](std::string_view chunk) {
    while (auto frame = framer.Next(chunk)) {
      if (frame->kind != LineFramer::Frame::Kind::kLine) continue;
      std::string line(frame->line);
      h->server->HandleLine(line);
      auto response = h->responses.Decode(line);
      if (response.ok() && !response->ok) (void)ErrorWords(response->error);
      (void)h->responses.IsAnswerTo(line, 1);
    }
  });
  (void)framer.TakePartial();
  return 0;
}
