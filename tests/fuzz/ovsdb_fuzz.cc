// Fuzz target: what labvirt does with bytes from ovsdb-server — JsonSplitter framing over
// arbitrary read splits (OvsdbClient's framing: no delimiter between messages), then for each
// message the parsers OvsdbClient and OvsReplica apply: ParseRpcError and ParseTransactResult on
// "error"/"result", OvsReplica::ApplyUpdates on an update/update2/update3 notification's
// table-updates (which decodes every Datum and applies update2 diffs), and Datum::Parse on every
// value of the message. The replica is fresh per input so a finding reproduces from its input.
#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ovs/ovs_replica.h"
#include "ovs/ovsdb_client.h"
#include "ovs/ovsdb_datum.h"
#include "ovs/ovsdb_reply.h"
#include "reactor/base/json_splitter.h"
#include "reactor/base/log.h"
#include "reactor/reactor.h"
#include "tests/fuzz/fuzz_input.h"

namespace labvirt::ovs {
namespace {

struct Harness {
  std::unique_ptr<reactor::Reactor> reactor;
  std::unique_ptr<OvsdbClient> client;  // never started: only the replica's constructor needs it
  simdjson::dom::parser parser;
};

Harness* MakeHarness() {
  auto* h = new Harness;
  auto r = reactor::Reactor::Create();
  if (!r.ok()) __builtin_trap();  // the harness needs io_uring; nothing to fuzz without it
  h->reactor = std::move(r).value();
  h->client = std::make_unique<OvsdbClient>(*h->reactor, OvsdbClientOptions{});
  return h;
}

// Datum::Parse on `el` and, recursively, on everything inside it (a bounded walk: simdjson
// already limits the depth).
void ParseEveryDatum(simdjson::dom::element el, int depth) {
  (void)Datum::Parse(el);
  if (depth > 16) return;
  simdjson::dom::array arr;
  simdjson::dom::object obj;
  if (el.get_array().get(arr) == simdjson::SUCCESS) {
    for (auto v : arr) ParseEveryDatum(v, depth + 1);
  } else if (el.get_object().get(obj) == simdjson::SUCCESS) {
    for (auto field : obj) ParseEveryDatum(field.value, depth + 1);
  }
}

void HandleMessage(Harness& h, OvsReplica& replica, const std::string& text, size_t n_ops) {
  simdjson::dom::element doc;
  if (h.parser.parse(text).get(doc) != simdjson::SUCCESS) return;
  simdjson::dom::object msg;
  if (doc.get_object().get(msg) != simdjson::SUCCESS) return;
  std::string_view method;
  simdjson::dom::element params;
  if (msg["method"].get_string().get(method) == simdjson::SUCCESS &&
      msg["params"].get(params) == simdjson::SUCCESS) {
    // update: [monitor-id, updates]; update2: the same; update3: [id, last-txn-id, updates].
    size_t at = method == "update3" ? 2 : 1;
    simdjson::dom::element updates;
    if (params.at(at).get(updates) == simdjson::SUCCESS) {
      (void)replica.ApplyUpdates(updates, method != "update");
      (void)replica.RootUuid();
      (void)replica.FindByName("Bridge", "arch-ovs");
    }
  } else {
    (void)ParseRpcError(msg["error"]);
    simdjson::dom::element result;
    if (msg["result"].get(result) == simdjson::SUCCESS) {
      auto reply = ParseTransactResult(result, n_ops);
      if (reply.ok()) (void)reply->ToStatus({"a", "b"});
      // A monitor reply's result is a table-updates object.
      (void)replica.ApplyUpdates(result, true);
    }
  }
  ParseEveryDatum(doc, 0);
}

}  // namespace
}  // namespace labvirt::ovs

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace labvirt::ovs;
  static Harness* h = MakeHarness();
  labvirt::fuzz::SplitInput input(data, size);
  OvsReplica replica(*h->reactor, *h->client);
  // A small limit so that kResourceExhausted is reached too.
  labvirt::JsonSplitter splitter(16 * 1024);
  std::vector<std::string> messages;
  const size_t n_ops = size == 0 ? 0 : data[size - 1] % 5;
  bool failed = false;
  input.ForEachChunk([&](std::string_view chunk) {
    if (failed) return;  // errors are sticky: OvsdbClient drops the connection
    messages.clear();
    failed = !splitter.Feed(chunk, &messages).ok();
    for (const std::string& m : messages) HandleMessage(*h, replica, m, n_ops);
  });
  return 0;
}
