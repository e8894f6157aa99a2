// OvsSwitch, part two: links and raw tag changes. A link is only external_ids and tags on its two
// end ports, so every operation here is one "update" per end in one transaction.
#include <algorithm>
#include <map>
#include <string_view>

#include "ovs/ovs_switch.h"

namespace labvirt::ovs {
namespace {

Datum WithIds(const Datum& old, const std::vector<std::pair<std::string, std::string>>& set,
              const std::vector<std::string>& erase) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 0; i < old.keys().size(); ++i) {
    const Atom& k = old.keys()[i];
    const Atom& v = old.values()[i];
    if (k.type != Atom::Type::kString || v.type != Atom::Type::kString) continue;
    bool replaced =
        std::any_of(set.begin(), set.end(), [&](auto& p) { return p.first == k.string; });
    bool erased = std::find(erase.begin(), erase.end(), k.string) != erase.end();
    if (!replaced && !erased) pairs.emplace_back(k.string, v.string);
  }
  for (const auto& p : set) pairs.push_back(p);
  return Datum::Map(std::move(pairs));
}

}  // namespace

std::vector<const OwnedPort*> OvsSwitch::LinkEnds(const std::vector<OwnedPort>& owned,
                                                  const std::string& lab,
                                                  const std::string& link) const {
  std::vector<const OwnedPort*> ends;
  for (const OwnedPort& p : owned) {
    if (p.lab == lab && p.link == link) ends.push_back(&p);
  }
  return ends;
}

void OvsSwitch::CreateLink(LinkSpec link, Callback done) {
  std::vector<LinkSpec> links;
  links.push_back(std::move(link));
  CreateLinks(std::move(links), std::move(done));
}

void OvsSwitch::CreateLinks(std::vector<LinkSpec> links, Callback done) {
  std::string what = links.size() == 1 ? "create link " + links[0].lab + "/" + links[0].link
                                       : "create " + std::to_string(links.size()) + " links";
  Enqueue(
      std::move(what),
      [this, links = std::move(links)](std::vector<std::string>* allocated) -> Result<Transaction> {
        std::vector<OwnedPort> owned = ListOwnedPorts();
        std::map<std::string_view, const OwnedPort*> by_name;
        std::map<std::string, std::vector<const OwnedPort*>> by_link;  // "lab/link" -> ends
        for (const OwnedPort& p : owned) {
          by_name[p.port] = &p;
          if (!p.link.empty()) by_link[p.lab + "/" + p.link].push_back(&p);
        }
        std::map<std::string_view, const LinkSpec*> used;  // port -> link in this batch
        Transaction txn;
        for (const LinkSpec& spec : links) {
          const std::string id = spec.lab + "/" + spec.link;
          if (spec.link.empty()) return InvalidArgument("link id is empty");
          if (spec.port_a == spec.port_b) {
            return InvalidArgument("link " + id + " needs two distinct ports");
          }
          const OwnedPort* ends[2] = {nullptr, nullptr};
          const std::string* names[2] = {&spec.port_a, &spec.port_b};
          for (int e = 0; e < 2; ++e) {
            auto it = by_name.find(*names[e]);
            if (it == by_name.end())
              return NotFound("port " + *names[e] + " is not a labvirt port");
            ends[e] = it->second;
            if (ends[e]->bridge != options_.bridge) {
              return FailedPrecondition("port " + *names[e] + " is not on bridge " +
                                        options_.bridge);
            }
            if (!ends[e]->segment.empty() || ends[e]->gateway()) {
              return FailedPrecondition("port " + *names[e] + " is on management segment " +
                                        ends[e]->lab + "/" + ends[e]->segment +
                                        " and cannot be in a link");
            }
            if (!ends[e]->link.empty() &&
                (ends[e]->link != spec.link || ends[e]->lab != spec.lab)) {
              return FailedPrecondition("port " + *names[e] + " is already in link " +
                                        ends[e]->lab + "/" + ends[e]->link);
            }
            if (!used.emplace(*names[e], &spec).second) {
              return InvalidArgument("port " + *names[e] + " appears in two links of the batch");
            }
          }
          for (const OwnedPort* p : by_link[id]) {
            if (p->port != spec.port_a && p->port != spec.port_b) {
              return Status(StatusCode::kAlreadyExists,
                            "link " + id + " already joins port " + p->port);
            }
          }
          std::string owner = LinkOwner(spec.lab, spec.link);
          bool held = allocator_.TagOf(owner, options_.ranges.links).has_value();
          auto tag = allocator_.AllocateLink(owner);
          if (!tag.ok()) return tag.status();
          if (!held) allocated->push_back(owner);
          for (const OwnedPort* p : ends) {
            const Datum& old = replica_.table("Port").at(p->uuid).Get("external_ids");
            txn.Update(
                "Port", p->uuid,
                {{"tag", Datum::FromAtom(Atom::Integer(*tag))},
                 {"external_ids",
                  WithIds(old, {{"link", spec.link}, {"link_tag", std::to_string(*tag)}}, {})}},
                "link Port " + p->port);
          }
        }
        return txn;
      },
      nullptr, std::move(done));
}

Result<Transaction> OvsSwitch::BuildLinkTags(const std::string& lab, const std::string& link,
                                             bool to_link_tag, bool clear_link) {
  std::vector<OwnedPort> owned = ListOwnedPorts();
  std::vector<const OwnedPort*> ends = LinkEnds(owned, lab, link);
  if (ends.empty() && !clear_link) {
    return NotFound("no port is in link " + lab + "/" + link);
  }
  Transaction txn;
  for (const OwnedPort* p : ends) {
    int tag = to_link_tag ? p->link_tag : p->isolated_tag;
    if (tag <= 0) {
      return FailedPrecondition("port " + p->port + " has no " +
                                (to_link_tag ? "link_tag" : "isolated_tag") + " external_id");
    }
    Row row = {{"tag", Datum::FromAtom(Atom::Integer(tag))}};
    if (clear_link) {
      const Datum& old = replica_.table("Port").at(p->uuid).Get("external_ids");
      row.emplace_back("external_ids", WithIds(old, {}, {"link", "link_tag"}));
    }
    if (!clear_link && p->tag == tag) continue;  // already there: nothing to send
    txn.Update("Port", p->uuid, row, (clear_link ? "unlink Port " : "retag Port ") + p->port);
  }
  return txn;
}

void OvsSwitch::DeleteLink(std::string lab, std::string link, Callback done) {
  std::string what = "delete link " + lab + "/" + link;
  std::string owner = LinkOwner(lab, link);
  Enqueue(
      std::move(what),
      [this, lab, link](std::vector<std::string>*) {
        return BuildLinkTags(lab, link, false, true);
      },
      [this, owner] {
        allocator_.Release(owner);
        engine_reservations_.erase(owner);
      },
      std::move(done));
}

void OvsSwitch::SetLinkCarrier(std::string lab, std::string link, bool up, Callback done) {
  std::string what = std::string("carrier ") + (up ? "up" : "down") + " " + lab + "/" + link;
  Enqueue(
      std::move(what),
      [this, lab = std::move(lab), link = std::move(link), up](std::vector<std::string>*) {
        return BuildLinkTags(lab, link, up, false);
      },
      nullptr, std::move(done));
}

void OvsSwitch::SetTags(std::vector<std::pair<std::string, int>> tags, Callback done) {
  std::string what = "set " + std::to_string(tags.size()) + " tags";
  Enqueue(
      std::move(what),
      [this, tags = std::move(tags)](std::vector<std::string>*) -> Result<Transaction> {
        Transaction txn;
        for (const auto& [name, tag] : tags) {
          if (tag < -1 || tag > 4095) {
            return InvalidArgument("tag " + std::to_string(tag) + " for port " + name +
                                   " is outside 0..4095");
          }
          std::string uuid = replica_.FindByName("Port", name);
          if (uuid.empty()) return NotFound("port " + name + " does not exist");
          Datum value = tag < 0 ? Datum() : Datum::FromAtom(Atom::Integer(tag));
          txn.Update("Port", uuid, {{"tag", value}}, "tag Port " + name);
        }
        return txn;
      },
      nullptr, std::move(done));
}

}  // namespace labvirt::ovs
