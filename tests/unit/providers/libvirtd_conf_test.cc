#include "providers/libvirtd_conf.h"

#include "gtest/gtest.h"

namespace labvirt::providers {
namespace {

TEST(LibvirtdConfTest, ReadsTheLastSettingAndIgnoresCommentsAndOtherKeys) {
  const char* conf =
      "# max_client_requests = 99\n"
      "#max_client_requests = 7\n"
      "max_workers = 64\n"
      "max_client_requests = 20\n"
      "\n"
      "  max_client_requests\t=  48  # raised by setup-host\r\n"
      "max_client_requests_extra = 1\n";
  EXPECT_EQ(LibvirtdConfInt(conf, "max_client_requests"), 48);
  EXPECT_EQ(LibvirtdConfInt(conf, "max_workers"), 64);
}

TEST(LibvirtdConfTest, UnsetOrMalformedIsNullopt) {
  EXPECT_EQ(LibvirtdConfInt("", "max_client_requests"), std::nullopt);
  EXPECT_EQ(LibvirtdConfInt("#max_client_requests = 5\n", "max_client_requests"), std::nullopt);
  EXPECT_EQ(LibvirtdConfInt("max_client_requests = lots\n", "max_client_requests"), std::nullopt);
  EXPECT_EQ(LibvirtdConfInt("max_client_requests = 9x", "max_client_requests"), std::nullopt);
  EXPECT_EQ(LibvirtdConfInt("max_client_requests", "max_client_requests"), std::nullopt);
}

}  // namespace
}  // namespace labvirt::providers
