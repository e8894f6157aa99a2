// The event stream: one read loop for `events` and for `deploy`, which follows its lab's events.
#include <cstdio>

#include "reactor/base/json_writer.h"
#include "tools/ctl/commands_internal.h"

namespace labvirt::ctl::internal {

bool IsEvent(simdjson::dom::element doc) { return Str(doc, "method") == "event"; }

int FollowEvents(Client& client, const Options& o,
                 const std::function<int(simdjson::dom::element doc)>& handle) {
  simdjson::dom::parser parser;
  while (true) {
    auto line = client.ReadLine();
    if (!line.ok()) return Fail(line.status().message());
    simdjson::dom::element doc;
    if (parser.parse(*line).get(doc)) continue;
    if (o.json && IsEvent(doc)) std::printf("%s\n", simdjson::minify(doc["params"]).c_str());
    int rc = handle(doc);
    std::fflush(stdout);
    if (rc != kContinue) return rc;
  }
}

int Events(const Options& o, const Args& a) {
  if (!a.pos.empty()) {
    return Fail("usage: labvirtctl events [--lab L] [--node N] [--type PREFIX]", 2);
  }
  auto client = Client::Connect(o.socket);
  if (!client.ok()) return Fail(client.status().message());
  JsonWriter w;
  w.BeginObject();
  for (const char* f : {"--lab", "--node", "--type"}) {
    auto it = a.flags.find(f);
    if (it == a.flags.end()) continue;
    w.Key(std::string(f + 2) + "s").BeginArray().String(it->second).EndArray();
  }
  w.EndObject();
  CallResult subscribed = ParseAnswer(client->Call("events.subscribe", w.str()));
  if (!subscribed.ok) return FailCall(o, subscribed);
  return FollowEvents(*client, o, [&o](simdjson::dom::element doc) {
    if (!o.json && IsEvent(doc)) {
      simdjson::dom::element ev = doc["params"];
      std::printf("%-24s %s/%s %s\n", Str(ev, "type").c_str(), Str(ev, "lab").c_str(),
                  Str(ev, "node").c_str(), simdjson::minify(ev["data"]).c_str());
    }
    return kContinue;
  });
}

}  // namespace labvirt::ctl::internal
