#include "ovs/ovsdb_reply.h"

#include <simdjson.h>

#include "gtest/gtest.h"

namespace labvirt::ovs {
namespace {

class ReplyTest : public ::testing::Test {
 protected:
  simdjson::dom::element Parse(std::string_view json) {
    padded_ = simdjson::padded_string(json);
    simdjson::dom::element el;
    EXPECT_EQ(parser_.parse(padded_).get(el), simdjson::SUCCESS) << json;
    return el;
  }
  Result<TransactReply> Transact(std::string_view result, size_t n) {
    return ParseTransactResult(Parse(result), n);
  }
  simdjson::dom::parser parser_;
  simdjson::padded_string padded_;
};

TEST_F(ReplyTest, AllOperationsSucceed) {
  auto r = Transact(R"([{"uuid":["uuid","8f3c-1"]},{"count":2},{"rows":[{"name":"a"}]},{}])", 4);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->operations.size(), 4u);
  EXPECT_EQ(r->operations[0].uuid, "8f3c-1");
  EXPECT_EQ(r->operations[1].count, 2);
  EXPECT_EQ(r->operations[2].rows_json, R"([{"name":"a"}])");
  EXPECT_TRUE(r->operations[3].executed);
  EXPECT_TRUE(r->ToStatus().ok());
}

TEST_F(ReplyTest, FailedOperationAndNullsAfterIt) {
  auto r = Transact(
      R"([{"count":1},{"error":"constraint violation","details":"Transaction causes multiple rows in \"Port\" table to have identical values (p1) for index on column \"name\"."},null,null])",
      4);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->operations[2].executed);
  ASSERT_TRUE(r->operations[1].error.has_value());
  Status s = r->ToStatus({"a", "insert Port p1", "c", "d"});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("operation 1 (insert Port p1): constraint violation"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("identical values (p1)"), std::string::npos);
}

TEST_F(ReplyTest, FailedOperationWithMissingTrailingResults) {
  auto r = Transact(R"([{"error":"timed out"}])", 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ToStatus().code(), StatusCode::kDeadlineExceeded);
}

TEST_F(ReplyTest, CommitErrorIsTheExtraElement) {
  auto r = Transact(
      R"([{"uuid":["uuid","u"]},{"error":"referential integrity violation","details":"cannot delete Bridge row"}])",
      1);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->commit_error.has_value());
  Status s = r->ToStatus();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("commit: referential integrity violation"), std::string::npos);
}

TEST_F(ReplyTest, ResourcesExhaustedAndUnknownErrorNames) {
  EXPECT_EQ(Transact(R"([{},{"error":"resources exhausted"}])", 1)->ToStatus().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(Transact(R"([{"error":"something new"}])", 1)->ToStatus().code(),
            StatusCode::kInternal);
  EXPECT_EQ(Transact(R"([{"error":"not owner"}])", 1)->ToStatus().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(ReplyTest, MalformedResults) {
  EXPECT_EQ(Transact(R"({"count":1})", 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Transact(R"([{},{},{}])", 1).ok());            // too many elements
  EXPECT_FALSE(Transact(R"([{},"error"])", 1).ok());          // extra element not an object
  EXPECT_FALSE(Transact(R"([{},{"details":"x"}])", 1).ok());  // extra without "error"
  EXPECT_FALSE(Transact(R"([5])", 1).ok());                   // element neither null nor object
  EXPECT_FALSE(Transact(R"([{"error":7}])", 1).ok());         // error not a string
  EXPECT_FALSE(Transact(R"([{}])", 2).ok());                  // short without an error
  EXPECT_FALSE(Transact(R"([{"uuid":["named-uuid","x"]}])", 1).ok());
  EXPECT_FALSE(Transact(R"([{"uuid":["uuid"]}])", 1).ok());
}

TEST_F(ReplyTest, RpcErrorShapes) {
  EXPECT_TRUE(ParseRpcError(Parse("null")).ok());
  simdjson::dom::object obj = Parse(R"({"id":1})").get_object().value();
  EXPECT_TRUE(ParseRpcError(obj["error"]).ok());  // absent
  Status s = ParseRpcError(Parse(R"("unknown method")"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("unknown method"), std::string::npos);
  s = ParseRpcError(Parse(R"({"error":"unknown database","details":"Open_vSwitch2"})"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("unknown database: Open_vSwitch2"), std::string::npos);
  EXPECT_FALSE(ParseRpcError(Parse(R"({"details":"no name"})")).ok());
  EXPECT_FALSE(ParseRpcError(Parse("17")).ok());
  EXPECT_EQ(ParseRpcError(Parse(R"({"error":"canceled"})")).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace labvirt::ovs
