#include "reactor/probe.h"

#include <cerrno>

#include "gtest/gtest.h"
#include "reactor/base/log.h"
#include "reactor/base/status.h"

namespace labvirt::reactor {
namespace {

TEST(ProbeTest, ThisMachineHasIoUring) {
  auto features = ProbeIoUring();
  ASSERT_TRUE(features.ok()) << features.status().ToString();
  EXPECT_GE(features->kernel_major, 5);
}

TEST(ProbeTest, ExplainsSysctlDisabled) {
  std::string msg = ExplainIoUringError(EPERM, "2");
  EXPECT_NE(msg.find("kernel.io_uring_disabled=2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sysctl -w kernel.io_uring_disabled=0"), std::string::npos) << msg;
}

TEST(ProbeTest, ExplainsSeccomp) {
  std::string msg = ExplainIoUringError(EPERM, "0");
  EXPECT_NE(msg.find("seccomp"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Docker"), std::string::npos) << msg;
}

TEST(ProbeTest, ExplainsOldKernel) {
  std::string msg = ExplainIoUringError(ENOSYS, "");
  EXPECT_NE(msg.find("5.19"), std::string::npos) << msg;
}

TEST(StatusTest, ErrnoContextAndCodes) {
  Status st = Status::FromErrno(ENOENT, "open /nope");
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.ToString(), "not_found: open /nope: No such file or directory");
  EXPECT_EQ(st.WithContext("catalog").message(), "catalog: open /nope: No such file or directory");
  Result<int> r = Status::Ok();  // an OK status is not a value: it becomes an internal error
  EXPECT_FALSE(r.ok());
}

TEST(LogTest, RecordsAreOneLineAndEscaped) {
  std::string rec = FormatLogRecord(LogLevel::kWarn, "two words",
                                    {{"k", "a\nforged level=error"}, {"plain", "x"}});
  EXPECT_EQ(rec.find('\n'), rec.size() - 1);
  EXPECT_NE(rec.find("level=warn msg=\"two words\""), std::string::npos) << rec;
  EXPECT_NE(rec.find("k=\"a\\nforged level=error\""), std::string::npos) << rec;
  EXPECT_NE(rec.find(" plain=x"), std::string::npos) << rec;
}

}  // namespace
}  // namespace labvirt::reactor
