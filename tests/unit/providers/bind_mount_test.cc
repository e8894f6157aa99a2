// Container binds: parsed from "SRC:DST[:ro]", sources confined to the bind root exactly as disk
// images are to the image root (the same ResolveUnderRoot), devices and FIFOs refused.
#include "providers/bind_mount.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <vector>

#include "gtest/gtest.h"

namespace labvirt::providers {
namespace {

TEST(BindMountTest, ParsesModesAndRendersDockersForm) {
  auto rw = ParseBind("cfg:/config");
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  EXPECT_EQ(*rw, (BindMount{"cfg", "/config", false}));
  EXPECT_EQ(*ParseBind("a/b:/x/y:ro"), (BindMount{"a/b", "/x/y", true}));
  EXPECT_EQ(*ParseBind("a:/x:rw"), (BindMount{"a", "/x", false}));
  EXPECT_EQ(BindText({"/srv/b/a", "/x", true}), "/srv/b/a:/x:ro");
  EXPECT_EQ(BindText({"/srv/b/a", "/x", false}), "/srv/b/a:/x:rw");
  // A '..' inside a name is not a component.
  EXPECT_TRUE(ParseBind("a:/x/..y").ok());
  for (const char* bad : {"a", ":/x", "a:", "a:x", "a:/x/..", "a:/../x", "a:/", "a:/x:RO",
                          "a:/x:", "a\n:/x", "a:/x\x7f"}) {
    EXPECT_EQ(ParseBind(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

class BindRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/labvirt-bind-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root_ + "/cfg").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((dir_ + "/secret").c_str(), 0755), 0);
    std::ofstream(root_ + "/cfg/file.txt") << "hello";
    ASSERT_EQ(::symlink((dir_ + "/secret").c_str(), (root_ + "/escape").c_str()), 0);
    ASSERT_EQ(::symlink((root_ + "/cfg").c_str(), (root_ + "/inside").c_str()), 0);
    ASSERT_EQ(::mkfifo((root_ + "/fifo").c_str(), 0600), 0);
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  Result<BindMount> Resolve(const std::string& src) {
    return ResolveBindSource(root_, {src, "/mnt", true});
  }

  std::string dir_, root_;
};

TEST_F(BindRootTest, ResolvesDirectoriesAndFilesUnderTheRoot) {
  auto dir = Resolve("cfg");
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(*dir, (BindMount{root_ + "/cfg", "/mnt", true}));
  EXPECT_EQ(Resolve("cfg/file.txt")->source, root_ + "/cfg/file.txt");
  EXPECT_EQ(Resolve("inside")->source, root_ + "/cfg") << "a symlink that stays inside";
  EXPECT_EQ(Resolve(root_ + "/cfg")->source, root_ + "/cfg");
}

TEST_F(BindRootTest, RefusesEscapesMissingDevicesAndFifos) {
  struct Case {
    std::string src;
    StatusCode code;
    std::string text;
  };
  for (const Case& c : std::vector<Case>{
           {"../secret", StatusCode::kFailedPrecondition, "outside the bind root"},
           {"cfg/../../secret", StatusCode::kFailedPrecondition, "outside the bind root"},
           {"/etc", StatusCode::kFailedPrecondition, "outside the bind root"},
           {"escape", StatusCode::kFailedPrecondition, "outside the bind root"},
           {"missing", StatusCode::kNotFound, "not found"},
           {"fifo", StatusCode::kInvalidArgument, "not a directory or regular file"},
           {"/dev/null", StatusCode::kFailedPrecondition, "outside the bind root"},
           {"", StatusCode::kInvalidArgument, "empty"},
       }) {
    auto r = Resolve(c.src);
    ASSERT_FALSE(r.ok()) << c.src;
    EXPECT_EQ(r.status().code(), c.code) << c.src << ": " << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.text), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("bind"), std::string::npos) << r.status().message();
  }
  ASSERT_EQ(::symlink("/dev/null", (root_ + "/null").c_str()), 0);
  EXPECT_EQ(Resolve("null").status().code(), StatusCode::kFailedPrecondition)
      << "a symlink to a device outside the root";
  // A device node inside the root (mknod needs root privileges).
  if (::mknod((root_ + "/dev").c_str(), S_IFCHR | 0600, makedev(1, 3)) == 0) {
    EXPECT_EQ(Resolve("dev").status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(ResolveBindSource(dir_ + "/nope", {"cfg", "/mnt", false}).status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace labvirt::providers
