#include "providers/xml_read.h"

namespace labvirt::providers::xml {
namespace {

struct XmlCharDeleter {
  void operator()(xmlChar* s) const { xmlFree(s); }
};

}  // namespace

Doc Read(std::string_view text, const char* url) {
  return Doc(xmlReadMemory(text.data(), static_cast<int>(text.size()), url, nullptr,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
}

std::string_view Name(const xmlNode* n) { return reinterpret_cast<const char*>(n->name); }

const xmlNode* Child(const xmlNode* parent, std::string_view name, std::string_view ns) {
  for (const xmlNode* c = parent->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || Name(c) != name) continue;
    if (ns.empty()) return c;
    if (c->ns != nullptr && c->ns->href != nullptr &&
        std::string_view(reinterpret_cast<const char*>(c->ns->href)) == ns) {
      return c;
    }
  }
  return nullptr;
}

std::string Content(const xmlNode* n) {
  std::unique_ptr<xmlChar, XmlCharDeleter> text(xmlNodeGetContent(n));
  return text ? std::string(reinterpret_cast<const char*>(text.get())) : std::string();
}

std::string Prop(const xmlNode* n, const char* name) {
  std::unique_ptr<xmlChar, XmlCharDeleter> v(xmlGetProp(n, reinterpret_cast<const xmlChar*>(name)));
  return v ? std::string(reinterpret_cast<const char*>(v.get())) : std::string();
}

}  // namespace labvirt::providers::xml
