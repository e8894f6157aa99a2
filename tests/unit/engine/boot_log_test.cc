// BootLog: a boot's part of an appended, rotated console log, as virtlogd keeps it.
#include "engine/console/boot_log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

class BootLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/boot_log_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    log_ = dir_ + "/n.console.log";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  void Append(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary | std::ios::app) << data;
  }
  providers::BootMark Mark() {
    auto mark = MarkBootLog(log_, "7");
    EXPECT_TRUE(mark.ok()) << mark.status().ToString();
    return mark.ok() ? *mark : providers::BootMark{};
  }
  std::string Read(const providers::BootMark& mark, size_t max = 1024) {
    auto got = ReadBootLog(log_, mark, max);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : "error";
  }
  std::string dir_, log_;
};

TEST_F(BootLogTest, OnlyWhatFollowsTheMarkIsThisBoots) {
  Append(log_, "boot 1\r\nlogin: ");
  providers::BootMark mark = Mark();
  EXPECT_EQ(mark.domain_id, "7");
  EXPECT_EQ(mark.log_offset, 15);
  EXPECT_NE(mark.log_inode, 0u);
  EXPECT_EQ(Read(mark), "");
  Append(log_, "boot 2\r\n");
  EXPECT_EQ(Read(mark), "boot 2\r\n");
  EXPECT_EQ(Read(mark, 3), "2\r\n") << "the last bytes when there are more";
}

TEST_F(BootLogTest, ALogRotatedSinceTheMarkIsReadAcrossBothFiles) {
  Append(log_, "boot 1 login: ");
  providers::BootMark mark = Mark();
  Append(log_, "boot 2 ");
  ASSERT_EQ(std::rename(log_.c_str(), (log_ + ".0").c_str()), 0);  // virtlogd's rotation
  Append(log_, "login: ");
  EXPECT_EQ(Read(mark), "boot 2 login: ");
  EXPECT_EQ(Read(mark, 9), "2 login: ");
}

TEST_F(BootLogTest, ALogMadeAnewHoldsOnlyThisBoot) {
  Append(log_, "boot 1 login: ");
  providers::BootMark mark = Mark();
  // Moved away (not deleted: a new file could reuse a freed inode number, which would read the
  // new log from the old offset, missing some of this boot, never taking an earlier boot's).
  ASSERT_EQ(std::rename(log_.c_str(), (dir_ + "/moved").c_str()), 0);
  Append(log_ + ".0", "someone else's file login: ");  // not the marked one
  Append(log_, "boot 2 ");
  EXPECT_EQ(Read(mark), "boot 2 ");
}

TEST_F(BootLogTest, ALogThatDidNotExistAtTheMarkIsAllThisBoots) {
  providers::BootMark mark = Mark();
  EXPECT_EQ(mark.log_inode, 0u);
  EXPECT_EQ(Read(mark), "") << "no log yet: nothing printed";
  Append(log_, "boot 1 login: ");
  EXPECT_EQ(Read(mark), "boot 1 login: ");
}

TEST_F(BootLogTest, ADirectoryWhereTheLogShouldBeIsAnError) {
  ASSERT_EQ(::mkdir(log_.c_str(), 0700), 0);
  EXPECT_FALSE(MarkBootLog(log_, "7").ok());
  EXPECT_FALSE(ReadBootLog(log_, providers::BootMark{"7", 1, 0}, 10).ok());
}

// The mark lives in the domain's metadata (providers/domain_xml.h), where a restarted labvirtd
// finds it; numbers it cannot read leave no mark rather than a wrong one.
TEST(BootMarkMetadataTest, TheMarkRoundTripsAndAnUnreadableOneIsNone) {
  providers::NodeMetadata md;
  md.lab = "lab1";
  md.node = "r1";
  md.kind = "linux";
  md.tag = "ab12";
  md.boot = providers::BootMark{"42", 1234567, 8910};
  std::string xml = providers::RenderNodeMetadata(md);
  EXPECT_NE(xml.find("<labvirt:boot domain-id='42' log-inode='1234567' log-offset='8910'/>"),
            std::string::npos)
      << xml;
  auto back = providers::ParseNodeMetadata("<domain><metadata>" + xml + "</metadata></domain>");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->boot, md.boot);

  std::string bad = xml;
  bad.replace(bad.find("8910"), 4, "-1x");
  back = providers::ParseNodeMetadata("<domain><metadata>" + bad + "</metadata></domain>");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->boot, providers::BootMark{});

  md.boot = {};
  EXPECT_EQ(providers::RenderNodeMetadata(md).find("boot"), std::string::npos);
}

TEST(BootMarkMetadataTest, TheRunIdIsTheLiveXmlsIdAttribute) {
  EXPECT_EQ(providers::LiveDomainId("<domain type='kvm' id='17'><name>x</name></domain>"), "17");
  EXPECT_EQ(providers::LiveDomainId("<domain type='kvm'><name>x</name></domain>"), "");
  EXPECT_EQ(providers::LiveDomainId("<domain type='kvm' id='-1'/>"), "") << "inactive";
  EXPECT_EQ(providers::LiveDomainId("<notadomain id='3'/>"), "");
}

}  // namespace
}  // namespace labvirt::engine
