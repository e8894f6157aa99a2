#include "engine/console/console_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

class ConsoleLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/console_log_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  void Write(const std::string& name, const std::string& data) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << data;
  }
  std::string dir_;
};

TEST_F(ConsoleLogTest, LastBytes) {
  Write("n.log", "0123456789");
  auto t = ConsoleLog::ReadTail(dir_ + "/n.log", 4);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, "6789");
  t = ConsoleLog::ReadTail(dir_ + "/n.log", 100);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "0123456789");
  t = ConsoleLog::ReadTail(dir_ + "/n.log", 0);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "");
}

TEST_F(ConsoleLogTest, RotatedPredecessorFillsUp) {
  Write("n.log.0", "older-part|");
  Write("n.log", "new");
  auto t = ConsoleLog::ReadTail(dir_ + "/n.log", 8);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "part|new") << "5 bytes from .0 and 3 from the current file";
  t = ConsoleLog::ReadTail(dir_ + "/n.log", 100);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "older-part|new");
}

TEST_F(ConsoleLogTest, Errors) {
  EXPECT_EQ(ConsoleLog::ReadTail(dir_ + "/missing.log", 10).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ConsoleLog::ReadTail("relative.log", 10).status().code(), StatusCode::kInvalidArgument);
  Write("n.log", "x");
  EXPECT_EQ(ConsoleLog::ReadTail(dir_ + "/n.log", ConsoleLog::kMaxTailBytes + 1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ConsoleLog::ReadTail(dir_, 10).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ConsoleLogTest, TailRunsOnThePoolAndAnswersOnTheLoop) {
  Write("n.log", "hello console");
  auto r = reactor::Reactor::Create();
  ASSERT_TRUE(r.ok());
  reactor::WorkerPool pool(**r, 1, 4);
  bool done = false;
  std::thread::id where;
  ASSERT_TRUE(ConsoleLog::Tail(pool, dir_ + "/n.log", 7, [&](Result<std::string> t) {
                ASSERT_TRUE(t.ok());
                EXPECT_EQ(*t, "console");
                where = std::this_thread::get_id();
                done = true;
              }).ok());
  for (int i = 0; i < 100000 && !done; ++i) (*r)->RunOnce(true);
  EXPECT_TRUE(done);
  EXPECT_EQ(where, std::this_thread::get_id());
}

}  // namespace
}  // namespace labvirt::engine
