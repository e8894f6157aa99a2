#include "providers/image_check.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "gtest/gtest.h"

namespace labvirt::providers {
namespace {

std::string Header(size_t offset, std::string_view magic, size_t size = kDiskHeaderBytes) {
  std::string h(size, '\0');
  h.replace(offset, magic.size(), magic);
  return h;
}

TEST(ImageCheckTest, DetectsDiskHeaders) {
  EXPECT_EQ(DetectDiskFormatFromHeader(Header(0, "QFI\xfb"), "x")->format, DiskFormat::kQcow2);
  auto gpt = DetectDiskFormatFromHeader(Header(512, "EFI PART"), "x");
  EXPECT_EQ(gpt->format, DiskFormat::kRaw);
  EXPECT_EQ(gpt->signature, "gpt");
  EXPECT_EQ(DetectDiskFormatFromHeader(Header(510, "\x55\xaa"), "x")->signature, "mbr");
  EXPECT_EQ(DetectDiskFormatFromHeader(Header(32769, "CD001"), "x")->signature, "iso9660");
  // Short files (qcow2 magic only) still work; a short file cannot be ISO.
  EXPECT_TRUE(DetectDiskFormatFromHeader("QFI\xfb", "x").ok());
  EXPECT_FALSE(DetectDiskFormatFromHeader(Header(0, "CD0", 100), "x").ok());
}

TEST(ImageCheckTest, RefusesNonDisksAndForeignFormats) {
  for (auto [magic, what] :
       std::vector<std::pair<std::string, std::string>>{{"KDMV", "VMDK"},
                                                        {"vhdxfile", "VHDX"},
                                                        {"conectix", "VHD"},
                                                        {std::string("QED\0", 4), "QED"}}) {
    auto r = DetectDiskFormatFromHeader(Header(0, magic), "img");
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("qemu-img convert"), std::string::npos);
  }
  auto vdi = DetectDiskFormatFromHeader(Header(64, "\x7f\x10\xda\xbe"), "img");
  EXPECT_NE(vdi.status().message().find("VDI"), std::string::npos);
  auto text = DetectDiskFormatFromHeader("#!/bin/sh\necho hi\n", "evil.sh");
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("evil.sh is not a disk image"), std::string::npos);
  EXPECT_FALSE(DetectDiskFormatFromHeader("", "empty").ok());
}

TEST(ImageCheckTest, ContainerReferences) {
  for (const char* ok : {"alpine:3.19", "library/alpine:latest", "ghcr.io/nokia/srlinux:24.3.1",
                         "localhost:5000/x/y:1",
                         "registry.example.com/a/b@sha256:"
                         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                         "ceos:4.32.0F", "a_b-c.d:tag-1.2"}) {
    EXPECT_TRUE(IsContainerReference(ok)) << ok;
  }
  for (const char* bad :
       {"alpine", "iosv.qcow2", "/images/a.qcow2", "Alpine:3", "a:", ":tag", "a::b", "a b:c",
        "x@sha256:12", "../x:1", "a//b:1", "a:-x", "a:t;rm", "registry:5000/a"}) {
    EXPECT_FALSE(IsContainerReference(bad)) << bad;
  }
}

TEST(ImageCheckTest, TranslatesPathPrefixes) {
  std::vector<PathTranslation> t = {{"/images", "/srv/lab/images"}, {"/data/", "/mnt/data"}};
  EXPECT_EQ(TranslatePath(t, "/images/a.qcow2"), "/srv/lab/images/a.qcow2");
  EXPECT_EQ(TranslatePath(t, "/images"), "/srv/lab/images");
  EXPECT_EQ(TranslatePath(t, "/imagesX/a.qcow2"), "/imagesX/a.qcow2");  // whole components only
  EXPECT_EQ(TranslatePath(t, "/data/x"), "/mnt/data/x");
  EXPECT_EQ(TranslatePath(t, "rel/x"), "rel/x");
}

class ImageRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/labvirt-image-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    Write(root_ + "/good.qcow2", std::string("QFI\xfb") + std::string(100, '\0'));
    Write(root_ + "/disk.img", Header(510, "\x55\xaa", 1024));
    Write(root_ + "/notes.txt", "hello");
    Write(dir_ + "/outside.qcow2", std::string("QFI\xfb") + std::string(100, '\0'));
    ASSERT_EQ(::mkdir((root_ + "/sub").c_str(), 0755), 0);
    ASSERT_EQ(::symlink((dir_ + "/outside.qcow2").c_str(), (root_ + "/escape.qcow2").c_str()), 0);
    ASSERT_EQ(::symlink((root_ + "/good.qcow2").c_str(), (root_ + "/sub/link.qcow2").c_str()), 0);
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  static void Write(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
  }
  ImageConfig Config() { return ImageConfig{root_, {{"/container/images", root_}}}; }

  std::string dir_, root_;
};

TEST_F(ImageRootTest, ResolvesImagesUnderTheRoot) {
  auto a = ResolveImage(Config(), "good.qcow2");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->path, root_ + "/good.qcow2");
  EXPECT_EQ(a->format, DiskFormat::kQcow2);
  EXPECT_EQ(ResolveImage(Config(), root_ + "/disk.img")->format, DiskFormat::kRaw);
  EXPECT_EQ(ResolveImage(Config(), "/container/images/good.qcow2")->path, root_ + "/good.qcow2");
  // A symlink that stays inside the root is fine; the canonical path is returned.
  EXPECT_EQ(ResolveImage(Config(), "sub/link.qcow2")->path, root_ + "/good.qcow2");
}

TEST_F(ImageRootTest, RefusesEscapesMissingAndNonDisks) {
  struct Case {
    std::string ref;
    StatusCode code;
    std::string text;
  };
  for (const Case& c : std::vector<Case>{
           {"../outside.qcow2", StatusCode::kFailedPrecondition, "outside the image root"},
           {"sub/../../outside.qcow2", StatusCode::kFailedPrecondition, "outside the image root"},
           {"../missing.qcow2", StatusCode::kFailedPrecondition, "outside the image root"},
           {"/etc/passwd", StatusCode::kFailedPrecondition, "outside the image root"},
           {"escape.qcow2", StatusCode::kFailedPrecondition, "outside the image root"},
           {"missing.qcow2", StatusCode::kNotFound, "not found"},
           {"notes.txt", StatusCode::kInvalidArgument, "not a disk image"},
           {"sub", StatusCode::kInvalidArgument, "not a regular file"},
           {"", StatusCode::kInvalidArgument, "empty"},
       }) {
    auto r = ResolveImage(Config(), c.ref);
    ASSERT_FALSE(r.ok()) << c.ref;
    EXPECT_EQ(r.status().code(), c.code) << c.ref << ": " << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.text), std::string::npos) << r.status().message();
  }
  ImageConfig bad_root{dir_ + "/nope", {}};
  EXPECT_EQ(ResolveImage(bad_root, "good.qcow2").status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(ImageRootTest, RoutesByImageType) {
  EXPECT_EQ(*RouteImage(root_, "good.qcow2"), ProviderKind::kLibvirt);
  EXPECT_EQ(*RouteImage(root_, "disk.img"), ProviderKind::kLibvirt);
  EXPECT_EQ(*RouteImage(root_, "alpine:3.19"), ProviderKind::kDocker);
  EXPECT_EQ(*RouteImage(root_,
                        "ghcr.io/nokia/srlinux@sha256:"
                        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            ProviderKind::kDocker);
  auto unknown = RouteImage(root_, "nothing.qcow2");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("neither"), std::string::npos);
  EXPECT_EQ(RouteImage(root_, "notes.txt").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RouteImage(root_, "../outside.qcow2").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ProviderKindName(ProviderKind::kDocker), "docker");
}

}  // namespace
}  // namespace labvirt::providers
