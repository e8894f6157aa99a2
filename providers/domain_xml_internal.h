// Internal to providers/: the pieces BuildDomain (domain_xml.cc) and BuildContainerDomain
// (container_xml.cc) share — the XML writer, the NIC plan and the metadata of a spec.
#ifndef LABVIRT_PROVIDERS_DOMAIN_XML_INTERNAL_H_
#define LABVIRT_PROVIDERS_DOMAIN_XML_INTERNAL_H_

#include <string>
#include <string_view>
#include <vector>

#include "providers/domain_xml.h"

namespace labvirt::providers {

// Attribute and text values are always XmlEscape'd; only literal markup is appended raw.
class Xml {
 public:
  Xml& Raw(std::string_view s) {
    out_ += s;
    return *this;
  }
  Xml& Text(std::string_view s) {
    out_ += XmlEscape(s);
    return *this;
  }
  // <tag>text</tag> on its own line.
  Xml& Leaf(int indent, std::string_view tag, std::string_view text) {
    Pad(indent).Raw("<").Raw(tag).Raw(">").Text(text).Raw("</").Raw(tag).Raw(">\n");
    return *this;
  }
  Xml& Pad(int indent) {
    out_.append(static_cast<size_t>(indent) * 2, ' ');
    return *this;
  }
  Xml& Attr(std::string_view name, std::string_view value) {
    Raw(" ").Raw(name).Raw("='").Text(value).Raw("'");
    return *this;
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Resolves the data NIC count and each data NIC's link, tap name and MAC; refuses duplicates and
// unknown interface names.
Result<std::vector<NicMetadata>> PlanNics(const DomainSpec& s);

// The metadata a domain built from `s` with `nics` carries.
NodeMetadata MetadataFor(const DomainSpec& s, const std::vector<NicMetadata>& nics);

// BuildDomain and RenderNicXml of a container kind (container_xml.cc).
Result<BuiltDomain> BuildContainerDomain(const DomainSpec& s);
std::string RenderContainerNicXml(const DomainSpec& s, const NicMetadata& nic);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_DOMAIN_XML_INTERNAL_H_
