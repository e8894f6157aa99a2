// LinkBook (engine/lab/link_book.h): links between running or stopped nodes, changed live. A link
// is a record in its lab, the link id on both NICs in the nodes' metadata (so a labvirtd restart
// rebuilds it), and — when both ends are on the bridge — a shared VLAN tag on the two OVS ports.
#include <algorithm>

#include "engine/lab/link_book.h"
#include "reactor/base/join.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {
namespace {}  // namespace

std::string LinkJson(const LinkRecord& l) {
  JsonWriter w;
  w.BeginObject().Key("id").String(l.id).Key("up").Bool(l.up);
  w.Key("endpoints").BeginArray().String(l.a_node + ":" + l.a_interface);
  w.String(l.b_node + ":" + l.b_interface).EndArray();
  w.Key("impairment").BeginObject().Key("a_to_b");
  WriteImpairmentJson(w, l.a_to_b);
  w.Key("b_to_a");
  WriteImpairmentJson(w, l.b_to_a);
  w.EndObject().EndObject();
  return w.Take();
}

void LinkBook::RecordLinkOnEnds(const std::string& lab, const LinkRecord& rec,
                                const std::string& link, bool down, std::function<void()> then) {
  auto join = Join::Create([then](Status) { then(); });
  for (const auto& [node, interface] :
       {std::pair{rec.a_node, rec.a_interface}, std::pair{rec.b_node, rec.b_interface}}) {
    Node* n = FindNode(lab, node);
    if (n == nullptr) continue;
    for (auto& nic : n->metadata.nics) {
      if (nic.role != providers::NicRole::kData || nic.interface != interface) continue;
      nic.link = link;
      nic.link_down = down && !link.empty();
      if (link.empty()) nic.impairment.clear();  // an unlinked NIC is not shaped
    }
    writer_.PersistMetadata(*n, join->Step());
  }
  join->Seal();
}

std::string LinkBook::TapOf(const std::string& lab, const std::string& node,
                            const std::string& interface) const {
  const Node* n = FindNode(lab, node);
  if (n == nullptr) return "";
  for (const auto& nic : n->metadata.nics) {
    if (nic.role == providers::NicRole::kData && nic.interface == interface) return nic.tap;
  }
  return "";
}

void LinkBook::WireLink(const std::string& lab, const LinkRecord& rec, NetworkPlumber::Done done) {
  RecordLinkOnEnds(lab, rec, rec.id, !rec.up, [this, lab, rec, done] {
    std::string tap_a = TapOf(lab, rec.a_node, rec.a_interface);
    std::string tap_b = TapOf(lab, rec.b_node, rec.b_interface);
    // An end that is not on the bridge yet joins the link when its node starts (Plug sees the
    // link id in the node's metadata).
    if (!OnBridge(tap_a) || !OnBridge(tap_b)) return done(Status::Ok());
    std::string id = rec.id;
    bool up = rec.up;
    plumber_.Connect(lab, id, tap_a, tap_b, [this, lab, id, up, done](Status st) {
      if (!st.ok() || up) return done(st);
      plumber_.SetLink(lab, id, false, done);
    });
  });
}

void LinkBook::UnwireLink(const std::string& lab, const LinkRecord& rec,
                          NetworkPlumber::Done done) {
  // A shaped end keeps no qdisc once unlinked (best effort: a failure is logged).
  for (const auto& [tap, imp] : {std::pair{TapOf(lab, rec.a_node, rec.a_interface), rec.b_to_a},
                                 std::pair{TapOf(lab, rec.b_node, rec.b_interface), rec.a_to_b}}) {
    if (imp.empty() || !OnBridge(tap)) continue;
    plumber_.SetImpairment(tap, {}, [tap = tap](Status st) {
      if (!st.ok()) LogWarn("impairment not removed", {{"tap", tap}, {"error", st.ToString()}});
    });
  }
  RecordLinkOnEnds(lab, rec, "", false,
                   [this, lab, id = rec.id, done] { plumber_.DeleteLinks(lab, {id}, done); });
}

void LinkBook::ApplyLinkStates(Node& n, NetworkPlumber::Done done) {
  auto it = labs_.find(n.lab);
  std::vector<std::string> down;
  if (it != labs_.end()) {
    for (const auto& l : it->second->links) {
      if (!l.up && (l.a_node == n.name || l.b_node == n.name)) down.push_back(l.id);
    }
  }
  auto join = Join::Create(std::move(done));
  ApplyImpairments(n, join->Branch());
  for (const auto& id : down) {
    plumber_.SetLink(n.lab, id, false, [end = join->Branch()](Status st) {
      // kNotFound: the other end is not on the bridge, so this end is isolated anyway.
      end(st.code() == StatusCode::kNotFound ? Status::Ok() : st);
    });
  }
  join->Seal();
}

void LinkBook::ApplyImpairments(Node& n, NetworkPlumber::Done done) {
  auto join = Join::Create(std::move(done));
  for (const auto& nic : n.metadata.nics) {
    if (nic.role != providers::NicRole::kData || nic.link.empty() || nic.impairment.empty()) {
      continue;
    }
    auto imp = ParseImpairmentText(nic.impairment);
    if (!imp.ok()) {
      LogWarn("impairment in metadata unreadable; not applied",
              {{"node", n.key}, {"tap", nic.tap}, {"error", imp.status().ToString()}});
      continue;
    }
    // Not fatal to the start: the node boots unshaped and the log says why.
    plumber_.SetImpairment(nic.tap, *imp,
                           [end = join->Branch(), key = n.key, tap = nic.tap](Status st) {
                             if (!st.ok()) {
                               LogWarn("link impairment not applied",
                                       {{"node", key}, {"tap", tap}, {"error", st.ToString()}});
                             }
                             end(Status::Ok());
                           });
  }
  join->Seal();
}

void LinkBook::CreateLink(const std::string& lab_name, const std::string& a, const std::string& b,
                          Reply reply) {
  auto it = labs_.find(lab_name);
  if (it == labs_.end()) return reply(InvalidField("lab", "no lab named '" + lab_name + "'"));
  Lab& lab = *it->second;
  LinkRecord rec;
  for (int side = 0; side < 2; ++side) {
    const std::string& ep = side == 0 ? a : b;
    const char* field = side == 0 ? "a" : "b";
    auto colon = ep.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == ep.size()) {
      return reply(InvalidField(field, "'" + ep + "' is not NODE:INTERFACE"));
    }
    std::string node = ep.substr(0, colon), iface = ep.substr(colon + 1);
    Node* n = FindNode(lab_name, node);
    if (n == nullptr)
      return reply(InvalidField(field, "no node named '" + node + "' in " + lab_name));
    auto name = VendorInterface(*n->kind, iface);
    if (!name.ok()) return reply(InvalidField(field, name.status().message()));
    const providers::NicMetadata* nic = nullptr;
    int data_nics = 0;
    for (const auto& x : n->metadata.nics) {
      if (x.role != providers::NicRole::kData) continue;
      ++data_nics;
      if (x.interface == *name) nic = &x;
    }
    if (nic == nullptr) {
      return reply(InvalidField(field, node + " has no interface " + *name + " (it has " +
                                           std::to_string(data_nics) +
                                           " data NICs; add one with node.nic.add)"));
    }
    if (!nic->link.empty()) {
      return reply(InvalidField(field, node + ":" + *name + " is already in link " + nic->link));
    }
    (side == 0 ? rec.a_node : rec.b_node) = node;
    (side == 0 ? rec.a_interface : rec.b_interface) = *name;
  }
  if (rec.a_node == rec.b_node && rec.a_interface == rec.b_interface) {
    return reply(InvalidField("b", "a link needs two different interfaces"));
  }
  rec.id = MakeLinkId({rec.a_node, rec.a_interface, rec.b_node, rec.b_interface});
  lab.links.push_back(rec);
  std::string json = LinkJson(rec);
  WireLink(lab_name, rec, [this, lab_name, json, reply](Status st) {
    if (!st.ok()) {
      // The record stays: the metadata holds it and the next start of either end retries.
      LogWarn("link not wired on the bridge", {{"lab", lab_name}, {"error", st.ToString()}});
      return reply(
          Internal(st.message()).WithField("network").WithSummary("link recorded but not wired"));
    }
    EmitFor("link.created", lab_name, "", json);
    reply(json);
  });
}

void LinkBook::DeleteLink(const std::string& lab, const std::string& link, Reply reply) {
  if (!labs_.count(lab)) return reply(InvalidField("lab", "no lab named '" + lab + "'"));
  LinkRecord* rec = FindLink(lab, link);
  if (rec == nullptr) return reply(InvalidField("link", "no link '" + link + "' in " + lab));
  LinkRecord gone = *rec;
  gone.up = false;
  auto& links = labs_.at(lab)->links;
  links.erase(
      std::remove_if(links.begin(), links.end(), [&](const LinkRecord& l) { return l.id == link; }),
      links.end());
  std::string json = LinkJson(gone);
  UnwireLink(lab, gone, [this, lab, json, reply](Status st) {
    if (!st.ok()) {
      return reply(Internal(st.message())
                       .WithField("network")
                       .WithSummary("link removed but its tags were not released"));
    }
    EmitFor("link.deleted", lab, "", json);
    reply(json);
  });
}

void LinkBook::SetLinkState(const std::string& lab, const std::string& link, bool up, Reply reply) {
  if (!labs_.count(lab)) return reply(InvalidField("lab", "no lab named '" + lab + "'"));
  LinkRecord* rec = FindLink(lab, link);
  if (rec == nullptr) return reply(InvalidField("link", "no link '" + link + "' in " + lab));
  bool was = rec->up;
  rec->up = up;
  std::string json = LinkJson(*rec);
  bool plugged = OnBridge(TapOf(lab, rec->a_node, rec->a_interface)) &&
                 OnBridge(TapOf(lab, rec->b_node, rec->b_interface));
  auto finish = [this, lab, link, up, was, json, reply](Status st) {
    LinkRecord* r = FindLink(lab, link);
    if (!st.ok()) {
      if (r != nullptr) r->up = was;  // nothing changed on the bridge
      return reply(
          Internal(st.message()).WithField("network").WithSummary("link state not changed"));
    }
    auto answer = [this, lab, json, reply] {
      EmitFor("link.state", lab, "", json);
      reply(json);
    };
    if (r == nullptr) return answer();  // deleted meanwhile
    // Kept in both ends' metadata, so a labvirtd restart reports (and re-applies) it.
    RecordLinkOnEnds(lab, *r, link, !up, answer);
  };
  // Ends that are not both on the bridge get the state when their nodes start.
  if (!plugged) return finish(Status::Ok());
  plumber_.SetLink(lab, link, up, finish);
}

}  // namespace labvirt::engine
