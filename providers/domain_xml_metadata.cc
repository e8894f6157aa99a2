// RenderNodeMetadata and ParseNodeMetadata: labvirt's <metadata> element into a domain XML (by the
// Xml writer) and back out of one (with libxml2).
//
// The XML comes from libvirtd, but a foreign or hand-edited domain can hold anything, so every
// field is checked and no entity or network fetch is ever allowed (XML_PARSE_NONET, no NOENT).
#include <charconv>
#include <cstdlib>

#include "providers/domain_xml.h"
#include "providers/domain_xml_internal.h"
#include "providers/node_naming.h"
#include "providers/xml_read.h"

namespace labvirt::providers {
namespace {

using xml::Content;
using xml::Name;
using xml::Prop;

bool IsLabvirt(const xmlNode* n) {
  return n->type == XML_ELEMENT_NODE && n->ns != nullptr && n->ns->href != nullptr &&
         std::string_view(reinterpret_cast<const char*>(n->ns->href)) == kMetadataNamespace;
}

// A child element in labvirt's namespace (`labvirt`) or in none in particular.
const xmlNode* Child(const xmlNode* parent, std::string_view name, bool labvirt) {
  return xml::Child(parent, name, labvirt ? kMetadataNamespace : std::string_view());
}

Result<int> IntProp(const xmlNode* n, const char* name, const std::string& where) {
  std::string v = Prop(n, name);
  int out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || out < 0) {
    return InvalidArgument("labvirt metadata: " + where + " " + name + "='" + v +
                           "' is not a non-negative integer");
  }
  return out;
}

std::vector<std::string> SplitCommas(const std::string& list) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin < list.size()) {
    size_t end = list.find(',', begin);
    if (end == std::string::npos) end = list.size();
    if (end > begin) out.push_back(list.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

// <labvirt:cpu mode= model= required= disabled= pmu= check= steps=>reason</labvirt:cpu>. Values
// are not validated here: the engine only re-renders them, and libvirt refuses what is wrong.
CpuChoice ParseCpu(const xmlNode* cpu) {
  CpuChoice c;
  c.mode = Prop(cpu, "mode");
  c.model = Prop(cpu, "model");
  c.required_features = SplitCommas(Prop(cpu, "required"));
  c.disabled_features = SplitCommas(Prop(cpu, "disabled"));
  c.pmu_off = Prop(cpu, "pmu") == "off";
  c.check_none = Prop(cpu, "check") == "none";
  auto steps = IntProp(cpu, "steps", "cpu");
  c.extra_steps = steps.ok() ? *steps : 0;
  c.reason = Content(cpu);
  return c;
}

Status ParseNics(const xmlNode* nics, NodeMetadata* md) {
  size_t i = 0;
  for (const xmlNode* c = nics->children; c; c = c->next) {
    if (!IsLabvirt(c) || Name(c) != "nic") continue;
    std::string where = "nic[" + std::to_string(i++) + "]";
    NicMetadata n;
    std::string role = Prop(c, "role");
    if (role == "data") {
      n.role = NicRole::kData;
    } else if (role == "management") {
      n.role = NicRole::kManagement;
    } else if (role == "reserved") {
      n.role = NicRole::kReserved;
    } else {
      return InvalidArgument("labvirt metadata: " + where + " role='" + role +
                             "' is not data, management or reserved");
    }
    auto index = IntProp(c, "index", where);
    if (!index.ok()) return index.status();
    n.index = *index;
    n.interface = Prop(c, "interface");
    n.tap = Prop(c, "tap");
    n.mac = Prop(c, "mac");
    n.link = Prop(c, "link");
    std::string link_state = Prop(c, "link-state");
    if (!link_state.empty() && link_state != "up" && link_state != "down") {
      return InvalidArgument("labvirt metadata: " + where + " link-state='" + link_state +
                             "' is not up or down");
    }
    n.link_down = link_state == "down";
    n.impairment = Prop(c, "impairment");
    if (n.tap.size() > kMaxTapNameLength) {
      return InvalidArgument("labvirt metadata: " + where + " tap '" + n.tap +
                             "' is longer than 15 bytes");
    }
    md->nics.push_back(std::move(n));
  }
  return Status::Ok();
}

// <labvirt:mgmt ipv4= gateway4= [ipv6= gateway6=] [nat='yes']><labvirt:forward …/></labvirt:mgmt>.
// The addresses are checked by the engine, which parses them as prefixes when it rebuilds the
// segment; here only what would be rendered into a rule: protocols and port numbers.
Status ParseMgmt(const xmlNode* mgmt, MgmtMetadata* m) {
  m->ipv4 = Prop(mgmt, "ipv4");
  m->gateway_ipv4 = Prop(mgmt, "gateway4");
  m->ipv6 = Prop(mgmt, "ipv6");
  m->gateway_ipv6 = Prop(mgmt, "gateway6");
  m->nat = Prop(mgmt, "nat") == "yes";
  size_t i = 0;
  for (const xmlNode* c = mgmt->children; c; c = c->next) {
    if (!IsLabvirt(c) || Name(c) != "forward") continue;
    std::string where = "mgmt forward[" + std::to_string(i++) + "]";
    MgmtForward f;
    f.protocol = Prop(c, "protocol");
    if (f.protocol != "tcp" && f.protocol != "udp") {
      return InvalidArgument("labvirt metadata: " + where + " protocol='" + f.protocol +
                             "' is not tcp or udp");
    }
    auto host_port = IntProp(c, "host-port", where);
    auto port = IntProp(c, "port", where);
    if (!host_port.ok()) return host_port.status();
    if (!port.ok()) return port.status();
    if (*host_port < 1 || *host_port > 65535 || *port < 1 || *port > 65535) {
      return InvalidArgument("labvirt metadata: " + where + " has a port outside 1..65535");
    }
    f.host_port = *host_port;
    f.port = *port;
    m->forwards.push_back(f);
  }
  return Status::Ok();
}

}  // namespace

Result<NodeMetadata> ParseNodeMetadata(const std::string& domain_xml) {
  if (domain_xml.size() > 64u * 1024 * 1024) return InvalidArgument("domain XML is too large");
  xml::Doc doc = xml::Read(domain_xml, "domain.xml");
  if (!doc) {
    const xmlError* err = xmlGetLastError();
    std::string why = err && err->message ? err->message : "parse error";
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return InvalidArgument("domain XML is not well-formed: " + why);
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (!root || Name(root) != "domain") return InvalidArgument("XML root is not <domain>");
  const xmlNode* metadata = Child(root, "metadata", false);
  const xmlNode* node = metadata ? Child(metadata, "node", true) : nullptr;
  if (!node) return NotFound("domain has no labvirt metadata (not a labvirt node)");

  NodeMetadata md;
  auto version = IntProp(node, "version", "node");
  if (!version.ok()) return version.status();
  md.version = *version;
  if (md.version != 1) {
    return InvalidArgument("labvirt metadata version " + std::to_string(md.version) +
                           " is not supported (this labvirt reads version 1)");
  }
  struct Field {
    const char* name;
    std::string* out;
    bool required;
  };
  for (const Field& f :
       {Field{"lab", &md.lab, true}, Field{"name", &md.node, true}, Field{"kind", &md.kind, true},
        Field{"tag", &md.tag, true}, Field{"image", &md.image, false},
        Field{"desired-state", &md.desired_state, false},
        Field{"overrides", &md.overrides_json, false}, Field{"instance", &md.instance, false}}) {
    const xmlNode* c = Child(node, f.name, true);
    if (!c && f.required) {
      return InvalidArgument(std::string("labvirt metadata: <") + f.name + "> is missing");
    }
    if (c) *f.out = Content(c);
  }
  LABVIRT_RETURN_IF_ERROR(ValidateName("labvirt metadata: instance", md.instance));
  LABVIRT_RETURN_IF_ERROR(ValidateName("labvirt metadata: lab", md.lab));
  LABVIRT_RETURN_IF_ERROR(ValidateName("labvirt metadata: name", md.node));
  if (const xmlNode* r = Child(node, "readiness", true)) {
    md.readiness = Prop(r, "state");
    md.readiness_detail = Content(r);
  }
  if (const xmlNode* cpu = Child(node, "cpu", true)) md.cpu = ParseCpu(cpu);
  md.save_on_stop = Child(node, "save-on-stop", true) != nullptr;
  for (const xmlNode* c = node->children; c; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && IsLabvirt(c) && Name(c) == "bind") {
      md.binds.push_back({Prop(c, "source"), Prop(c, "target"), Prop(c, "readonly") == "yes"});
    }
  }
  if (const xmlNode* cfg = Child(node, "startup-config", true)) {
    md.config_method = Prop(cfg, "method");
    md.config_bytes = std::strtoll(Prop(cfg, "bytes").c_str(), nullptr, 10);
    md.config_applied = Prop(cfg, "applied") == "yes";
  }
  if (const xmlNode* boot = Child(node, "boot", true)) {
    // Unreadable numbers leave no record: the adoption then waits for new console output, as
    // it did before labvirt kept one.
    char* end = nullptr;
    std::string inode = Prop(boot, "log-inode"), offset = Prop(boot, "log-offset");
    uint64_t ino = std::strtoull(inode.c_str(), &end, 10);
    bool ok = !inode.empty() && *end == '\0';
    int64_t off = std::strtoll(offset.c_str(), &end, 10);
    ok = ok && !offset.empty() && *end == '\0' && off >= 0;
    if (ok) md.boot = BootMark{Prop(boot, "domain-id"), ino, off};
  }
  if (const xmlNode* mgmt = Child(node, "mgmt", true))
    LABVIRT_RETURN_IF_ERROR(ParseMgmt(mgmt, &md.mgmt));
  if (const xmlNode* nics = Child(node, "nics", true))
    LABVIRT_RETURN_IF_ERROR(ParseNics(nics, &md));
  return md;
}

std::string DomainUuid(const std::string& domain_xml) {
  xml::Doc doc = xml::Read(domain_xml, "domain.xml");
  const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (!root || Name(root) != "domain") return "";
  const xmlNode* uuid = xml::Child(root, "uuid");
  return uuid ? Content(uuid) : "";
}

bool HasDiskSource(const std::string& domain_xml, const std::string& path) {
  xml::Doc doc = xml::Read(domain_xml, "domain.xml");
  const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (!root || Name(root) != "domain") return false;
  const xmlNode* devices = Child(root, "devices", false);
  for (const xmlNode* c = devices ? devices->children : nullptr; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || Name(c) != "disk") continue;
    const xmlNode* source = Child(c, "source", false);
    if (source && Prop(source, "file") == path) return true;
  }
  return false;
}

std::string LivePtyPath(const std::string& live_domain_xml) {
  xml::Doc doc = xml::Read(live_domain_xml, "domain.xml");
  const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (!root || Name(root) != "domain") return "";
  const xmlNode* devices = Child(root, "devices", false);
  for (const xmlNode* c = devices ? devices->children : nullptr; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || Name(c) != "serial" || Prop(c, "type") != "pty") continue;
    const xmlNode* source = Child(c, "source", false);
    return source ? Prop(source, "path") : "";
  }
  return "";
}

std::string LiveDomainId(const std::string& live_domain_xml) {
  xml::Doc doc = xml::Read(live_domain_xml, "domain.xml");
  const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (!root || Name(root) != "domain") return "";
  std::string id = Prop(root, "id");
  return id == "-1" ? "" : id;  // -1: libvirt's id of an inactive domain
}

std::string RenderNodeMetadata(const NodeMetadata& md) {
  Xml x;
  x.Raw("<labvirt:node xmlns:labvirt='").Text(kMetadataNamespace).Raw("'");
  x.Attr("version", std::to_string(md.version)).Raw(">\n");
  x.Leaf(1, "labvirt:instance", md.instance);
  x.Leaf(1, "labvirt:lab", md.lab).Leaf(1, "labvirt:name", md.node);
  x.Leaf(1, "labvirt:kind", md.kind).Leaf(1, "labvirt:tag", md.tag);
  x.Leaf(1, "labvirt:image", md.image).Leaf(1, "labvirt:desired-state", md.desired_state);
  x.Pad(1).Raw("<labvirt:readiness").Attr("state", md.readiness).Raw(">");
  x.Text(md.readiness_detail).Raw("</labvirt:readiness>\n");
  x.Leaf(1, "labvirt:overrides", md.overrides_json);
  if (md.cpu) {
    auto join = [](const std::vector<std::string>& v) {
      std::string out;
      for (const auto& f : v) out += (out.empty() ? "" : ",") + f;
      return out;
    };
    const CpuChoice& c = *md.cpu;
    x.Pad(1).Raw("<labvirt:cpu").Attr("mode", c.mode).Attr("model", c.model);
    x.Attr("required", join(c.required_features)).Attr("disabled", join(c.disabled_features));
    x.Attr("pmu", c.pmu_off ? "off" : "on").Attr("check", c.check_none ? "none" : "default");
    x.Attr("steps", std::to_string(c.extra_steps)).Raw(">").Text(c.reason).Raw("</labvirt:cpu>\n");
  }
  if (md.save_on_stop) x.Pad(1).Raw("<labvirt:save-on-stop/>\n");
  if (!md.mgmt.ipv4.empty()) {
    const MgmtMetadata& m = md.mgmt;
    x.Pad(1).Raw("<labvirt:mgmt").Attr("ipv4", m.ipv4).Attr("gateway4", m.gateway_ipv4);
    if (!m.ipv6.empty()) x.Attr("ipv6", m.ipv6).Attr("gateway6", m.gateway_ipv6);
    if (m.nat) x.Attr("nat", "yes");
    x.Raw(m.forwards.empty() ? "/>\n" : ">\n");
    for (const MgmtForward& f : m.forwards) {
      x.Pad(2).Raw("<labvirt:forward").Attr("protocol", f.protocol);
      x.Attr("host-port", std::to_string(f.host_port)).Attr("port", std::to_string(f.port));
      x.Raw("/>\n");
    }
    if (!m.forwards.empty()) x.Pad(1).Raw("</labvirt:mgmt>\n");
  }
  for (const BindMount& b : md.binds) {
    x.Pad(1).Raw("<labvirt:bind").Attr("source", b.source).Attr("target", b.target);
    x.Raw(b.read_only ? " readonly='yes'/>\n" : "/>\n");
  }
  x.Pad(1).Raw("<labvirt:nics>\n");
  for (const NicMetadata& n : md.nics) {
    x.Pad(2).Raw("<labvirt:nic").Attr("role", NicRoleName(n.role));
    x.Attr("index", std::to_string(n.index)).Attr("interface", n.interface).Attr("tap", n.tap);
    x.Attr("mac", n.mac).Attr("link", n.link);
    if (n.link_down) x.Attr("link-state", "down");
    if (!n.impairment.empty()) x.Attr("impairment", n.impairment);
    x.Raw("/>\n");
  }
  x.Pad(1).Raw("</labvirt:nics>\n");
  if (md.config_bytes > 0) {
    x.Pad(1).Raw("<labvirt:startup-config").Attr("method", md.config_method);
    x.Attr("bytes", std::to_string(md.config_bytes));
    if (md.config_applied) x.Attr("applied", "yes");
    x.Raw("/>\n");
  }
  if (!md.boot.domain_id.empty()) {
    x.Pad(1).Raw("<labvirt:boot").Attr("domain-id", md.boot.domain_id);
    x.Attr("log-inode", std::to_string(md.boot.log_inode));
    x.Attr("log-offset", std::to_string(md.boot.log_offset)).Raw("/>\n");
  }
  x.Raw("</labvirt:node>");
  return x.Take();
}

}  // namespace labvirt::providers
