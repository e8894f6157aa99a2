// OvsSwitch, part three: management segments. A segment is a tag from the links range that every
// port of the segment carries (its NICs' ports and its gateway), held by "segment:LAB/SEG" while
// any port carries it; external_ids segment/segment_tag on each port are its record in OVSDB.
#include <algorithm>

#include "ovs/ovs_switch.h"

namespace labvirt::ovs {

std::string OvsSwitch::SegmentOwner(const std::string& lab, const std::string& segment) {
  return "segment:" + lab + "/" + segment;
}

std::optional<int> OvsSwitch::SegmentTag(const std::string& lab, const std::string& segment) const {
  auto tag = allocator_.TagOf(SegmentOwner(lab, segment), options_.ranges.links);
  if (!tag) return std::nullopt;
  return *tag;
}

Result<uint16_t> OvsSwitch::SegmentTagFor(const std::string& owner,
                                          std::vector<std::string>* allocated) {
  bool held = allocator_.TagOf(owner, options_.ranges.links).has_value();
  auto tag = allocator_.AllocateLink(owner);
  if (!tag.ok()) return tag.status();
  if (!held) allocated->push_back(owner);
  return *tag;
}

std::vector<std::string> OvsSwitch::SegmentsLeftEmpty(const std::set<std::string>& removed) const {
  std::set<std::string> losing, keeping;
  for (const auto& [uuid, row] : replica_.table("Port")) {
    const Datum& ids = row.Get("external_ids");
    if (ids.MapGet("owner") != "labvirt") continue;
    auto segment = ids.MapGet("segment");
    if (!segment || segment->empty()) continue;
    std::string owner = SegmentOwner(ids.MapGet("lab").value_or(""), *segment);
    (removed.count(uuid) ? losing : keeping).insert(std::move(owner));
  }
  std::vector<std::string> out;
  std::set_difference(losing.begin(), losing.end(), keeping.begin(), keeping.end(),
                      std::back_inserter(out));
  return out;
}

void OvsSwitch::AddGatewayPort(GatewayPort gw, Callback done) {
  std::string what = "add gateway " + gw.port + " of segment " + gw.lab + "/" + gw.segment;
  Enqueue(
      std::move(what),
      [this, gw = std::move(gw)](std::vector<std::string>* allocated) -> Result<Transaction> {
        if (gw.port.empty() || gw.port.size() > 15) {
          return InvalidArgument("port name \"" + gw.port + "\" must be 1..15 bytes");
        }
        if (gw.lab.empty() || gw.segment.empty()) {
          return InvalidArgument("a gateway needs a lab and a segment");
        }
        std::string bridge = replica_.FindByName("Bridge", options_.bridge);
        if (bridge.empty()) return NotFound("bridge " + options_.bridge + " does not exist");
        std::string uuid = replica_.FindByName("Port", gw.port);
        // Checked before allocating, so a refusal leaves the allocator as it was.
        if (!uuid.empty()) {
          const Datum& old = replica_.table("Port").at(uuid).Get("external_ids");
          if (old.MapGet("owner") != "labvirt") {
            return FailedPrecondition("port " + gw.port + " exists and is not labvirt's");
          }
          if (old.MapGet("role") != kGatewayRole) {
            return FailedPrecondition("port " + gw.port + " is a NIC port of node " +
                                      old.MapGet("lab").value_or("") + "/" +
                                      old.MapGet("node").value_or(""));
          }
          if (old.MapGet("lab") != gw.lab || old.MapGet("segment") != gw.segment) {
            return FailedPrecondition("port " + gw.port + " is the gateway of segment " +
                                      old.MapGet("lab").value_or("") + "/" +
                                      old.MapGet("segment").value_or(""));
          }
          std::vector<std::string> on_bridge =
              replica_.table("Bridge").at(bridge).Get("ports").Uuids();
          if (std::find(on_bridge.begin(), on_bridge.end(), uuid) == on_bridge.end()) {
            return FailedPrecondition("port " + gw.port + " is on another bridge");
          }
        }
        auto tag = SegmentTagFor(SegmentOwner(gw.lab, gw.segment), allocated);
        if (!tag.ok()) return tag.status();
        std::vector<std::pair<std::string, std::string>> ids = {
            {"owner", "labvirt"},
            {"lab", gw.lab},
            {"segment", gw.segment},
            {"segment_tag", std::to_string(*tag)},
            {"role", kGatewayRole}};
        if (!gw.instance.empty()) ids.emplace_back("instance", gw.instance);
        Datum internal = Datum::FromAtom(Atom::String("internal"));
        Transaction txn;
        if (!uuid.empty()) {
          const ReplicaRow& row = replica_.table("Port").at(uuid);
          Datum new_ids = Datum::Map(std::move(ids));
          if (!(row.Get("tag") == Datum::FromAtom(Atom::Integer(*tag))) ||
              !(row.Get("external_ids") == new_ids)) {
            txn.Update("Port", uuid,
                       {{"tag", Datum::FromAtom(Atom::Integer(*tag))}, {"external_ids", new_ids}},
                       "update Port " + gw.port);
          }
          for (const std::string& iface : row.Get("interfaces").Uuids()) {
            auto it = replica_.table("Interface").find(iface);
            if (it != replica_.table("Interface").end() && !(it->second.Get("type") == internal)) {
              txn.Update("Interface", iface, {{"type", internal}}, "update Interface " + gw.port);
            }
          }
          return txn;
        }
        txn.Insert("Interface", "gwi",
                   {{"name", Datum::FromAtom(Atom::String(gw.port))}, {"type", internal}},
                   "insert Interface " + gw.port);
        txn.Insert("Port", "gwp",
                   {{"name", Datum::FromAtom(Atom::String(gw.port))},
                    {"interfaces", Datum::FromAtom(Atom::NamedUuid("gwi"))},
                    {"tag", Datum::FromAtom(Atom::Integer(*tag))},
                    {"external_ids", Datum::Map(std::move(ids))}},
                   "insert Port " + gw.port);
        txn.Mutate("Bridge", bridge, "ports", "insert", Datum::FromAtom(Atom::NamedUuid("gwp")),
                   "add gateway to Bridge " + options_.bridge);
        return txn;
      },
      nullptr, std::move(done));
}

}  // namespace labvirt::ovs
