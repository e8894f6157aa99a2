// Small read-only helpers over libxml2 trees, for the XML libvirt hands labvirt (domain XML with
// labvirt's metadata, domain capabilities). Parsing never fetches the network or expands external
// entities. Internal to providers/.
#ifndef LABVIRT_PROVIDERS_XML_READ_H_
#define LABVIRT_PROVIDERS_XML_READ_H_

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <memory>
#include <string>
#include <string_view>

namespace labvirt::providers::xml {

struct DocDeleter {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using Doc = std::unique_ptr<xmlDoc, DocDeleter>;

// Parses `text` quietly (no network, no error output); nullptr when it is not well-formed.
Doc Read(std::string_view text, const char* url);
// The element's local name.
std::string_view Name(const xmlNode* n);
// The first child element named `name`; with `ns`, only one in that namespace.
const xmlNode* Child(const xmlNode* parent, std::string_view name, std::string_view ns = {});
// The text content, and an attribute ("" when absent).
std::string Content(const xmlNode* n);
std::string Prop(const xmlNode* n, const char* name);

}  // namespace labvirt::providers::xml

#endif  // LABVIRT_PROVIDERS_XML_READ_H_
