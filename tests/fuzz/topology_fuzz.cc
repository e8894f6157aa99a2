// Fuzz target: labvirtctl's topology file parser (YAML through yaml-cpp, or JSON), which turns a
// user's file into lab.deploy params. Whatever it accepts must be params the daemon's own parser
// can read as JSON (it is sent as is), so the produced params_json is parsed back with simdjson.
#include <simdjson.h>

#include <cstdint>
#include <string>

#include "reactor/base/log.h"
#include "tests/fuzz/fuzz_input.h"
#include "tools/ctl/topology.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto topology = labvirt::ctl::ParseTopology(text, "fuzz.yaml");
  if (topology.ok()) {
    static simdjson::dom::parser parser;
    simdjson::dom::element doc;
    LABVIRT_FUZZ_ASSERT(parser.parse(topology->params_json).get(doc) == simdjson::SUCCESS);
  }
  return 0;
}
