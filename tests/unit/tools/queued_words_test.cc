// labvirtctl's words for a queued node's queued_reason (labvirtctl status): each of admission's
// gates named with its numbers, null as nothing, an unknown gate by its name.
#include <simdjson.h>

#include <string>

#include "gtest/gtest.h"
#include "tools/ctl/commands_internal.h"

namespace labvirt::ctl::internal {
namespace {

std::string Words(const std::string& json) {
  static simdjson::dom::parser parser;
  simdjson::dom::element el;
  EXPECT_EQ(parser.parse(json).get(el), simdjson::SUCCESS) << json;
  return QueuedWords(el);
}

TEST(QueuedWordsTest, EachGateIsNamedWithItsNumbers) {
  EXPECT_EQ(Words(R"({"reason":"ceiling","in_use":8,"weight":1,"ceiling":8})"),
            "boot slots full: 8 of 8 in use, needs 1");
  EXPECT_EQ(Words(R"({"reason":"memory","need_mib":1088,"available_mib":512,"node_mib":64,)"
                  R"("reserve_mib":1024,"in_flight_mib":256})"),
            "memory: needs 1088 MiB (node 64 + reserve 1024), 512 MiB available");
  EXPECT_EQ(Words(R"({"reason":"memory_pressure","value":12.5,"limit":10})"),
            "memory pressure 12.5% (limit 10%)");
  EXPECT_EQ(Words(R"({"reason":"cpu_pressure","value":99,"limit":80})"),
            "cpu pressure 99% (limit 80%)");
  EXPECT_EQ(Words(R"({"reason":"libvirt_queue","value":6,"limit":4})"),
            "libvirt busy: 6 calls waiting (limit 4)");
  EXPECT_EQ(Words(R"({"reason":"order","ahead":3})"), "next in line behind 3");
}

TEST(QueuedWordsTest, NullIsNothingAndAnUnknownGateIsItsName) {
  EXPECT_EQ(Words("null"), "");
  EXPECT_EQ(Words(R"({"reason":"disk_io","value":3})"), "disk_io");
  EXPECT_EQ(Words(R"({"reason":"ceiling"})"), "boot slots full: 0 of 0 in use, needs 0");
}

}  // namespace
}  // namespace labvirt::ctl::internal
