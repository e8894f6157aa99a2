#include "ovs/ovsdb_datum.h"

#include <simdjson.h>

#include "gtest/gtest.h"
#include "ovs/ovsdb_txn.h"

namespace labvirt::ovs {
namespace {

class DatumTest : public ::testing::Test {
 protected:
  Result<Datum> ParseDatum(std::string_view json) {
    padded_ = simdjson::padded_string(json);
    simdjson::dom::element el;
    EXPECT_EQ(parser_.parse(padded_).get(el), simdjson::SUCCESS) << json;
    return Datum::Parse(el);
  }
  std::string Write(const Datum& d) {
    JsonWriter w;
    d.Write(w);
    return w.Take();
  }
  simdjson::dom::parser parser_;
  simdjson::padded_string padded_;
};

TEST_F(DatumTest, AtomsSetsAndMapsRoundTrip) {
  for (const char* json :
       {R"(5)", R"("eth0")", R"(true)", R"(1.5)", R"(["uuid","0a-1"])", R"(["set",[]])",
        R"(["set",[1,2,3]])", R"(["map",[["owner","labvirt"],["nic","0"]]])",
        R"(["set",[["uuid","a"],["uuid","b"]]])"}) {
    auto d = ParseDatum(json);
    ASSERT_TRUE(d.ok()) << json << ": " << d.status().ToString();
    EXPECT_EQ(Write(*d), json);
  }
}

TEST_F(DatumTest, Readers) {
  EXPECT_EQ(ParseDatum("42")->AsInteger(), 42);
  EXPECT_EQ(ParseDatum(R"(["set",[]])")->AsInteger(), std::nullopt);
  EXPECT_EQ(ParseDatum(R"("x")")->AsString(), "x");
  EXPECT_EQ(ParseDatum(R"(["map",[["a","1"]]])")->MapGet("a"), "1");
  EXPECT_EQ(ParseDatum(R"(["map",[["a","1"]]])")->MapGet("b"), std::nullopt);
  EXPECT_EQ(ParseDatum(R"(["set",[["uuid","a"],["uuid","b"]]])")->Uuids(),
            (std::vector<std::string>{"a", "b"}));
}

TEST_F(DatumTest, BadInput) {
  for (const char* json : {R"(["set",5])", R"(["map",[["a"]]])", R"(["map",[5]])", R"(["uuid"])",
                           R"(["frob","x"])", R"({"a":1})", R"(18446744073709551615)", R"(null)",
                           R"(["set",[{"a":1}]])", R"(["uuid",5])"}) {
    EXPECT_FALSE(ParseDatum(json).ok()) << json;
  }
}

TEST_F(DatumTest, Update2DiffsForEachColumnKind) {
  Datum tag = *ParseDatum("6");
  tag.ApplyDiff(ColumnKind::kScalar, *ParseDatum("7"));
  EXPECT_EQ(tag.AsInteger(), 7);
  tag.ApplyDiff(ColumnKind::kScalar, *ParseDatum(R"(["set",[]])"));
  EXPECT_TRUE(tag.empty());

  Datum ports = *ParseDatum(R"(["set",[["uuid","a"],["uuid","b"]]])");
  ports.ApplyDiff(ColumnKind::kSet, *ParseDatum(R"(["set",[["uuid","b"],["uuid","c"]]])"));
  EXPECT_EQ(ports.Uuids(), (std::vector<std::string>{"a", "c"}));

  Datum ids = *ParseDatum(R"(["map",[["keep","1"],["drop","2"],["change","3"]]])");
  ids.ApplyDiff(ColumnKind::kMap,
                *ParseDatum(R"(["map",[["drop","2"],["change","4"],["new","5"]]])"));
  EXPECT_EQ(Write(ids), R"(["map",[["keep","1"],["change","4"],["new","5"]]])");
}

TEST(TransactionTest, BuildsParamsWithLabels) {
  Transaction txn;
  EXPECT_EQ(txn.Params("Open_vSwitch"), R"(["Open_vSwitch"])");
  txn.Insert("Port", "p0", {{"name", Datum::FromAtom(Atom::String("t\"1"))}}, "insert Port t1");
  txn.Update("Port", "u-1", {{"tag", Datum()}}, "clear tag");
  txn.Mutate("Bridge", "b-1", "ports", "insert", Datum::FromAtom(Atom::NamedUuid("p0")), "m");
  txn.Delete("Port", "u-2", "d");
  txn.Comment("labvirt");
  EXPECT_EQ(txn.size(), 5u);
  EXPECT_EQ(txn.labels()[0], "insert Port t1");
  EXPECT_EQ(
      txn.Params("Open_vSwitch"),
      R"(["Open_vSwitch",{"op":"insert","table":"Port","uuid-name":"p0","row":{"name":"t\"1"}},)"
      R"({"op":"update","table":"Port","where":[["_uuid","==",["uuid","u-1"]]],"row":{"tag":["set",[]]}},)"
      R"({"op":"mutate","table":"Bridge","where":[["_uuid","==",["uuid","b-1"]]],"mutations":[["ports","insert",["named-uuid","p0"]]]},)"
      R"({"op":"delete","table":"Port","where":[["_uuid","==",["uuid","u-2"]]]},)"
      R"({"op":"comment","comment":"labvirt"}])");
}

}  // namespace
}  // namespace labvirt::ovs
