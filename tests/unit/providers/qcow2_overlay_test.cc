// labvirt's own qcow2 overlays (providers/qcow2_overlay.h) are byte for byte what
// `qemu-img create -f qcow2 -F FMT -b BASE` writes, for qcow2 and raw bases of several sizes
// (one L1 entry, many, an L1 table of more than one cluster, a raw length that is not a whole
// sector), and qemu-img reads them back as overlays of their base; bad inputs are refused.
// Needs qemu-img (QEMU 7.2, as Debian 12 ships).
#include "providers/qcow2_overlay.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace labvirt::providers {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Output(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

class Qcow2OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lvqcow2-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // A base image of `format` and `size` (raw: a sparse file of exactly that length).
  ResolvedImage Base(DiskFormat format, uint64_t size) {
    ResolvedImage base;
    base.format = format;
    base.path =
        (dir_ / ("base-" + std::to_string(size) + "." + std::string(DiskFormatName(format))))
            .string();
    if (format == DiskFormat::kRaw) {
      std::ofstream(base.path).close();
      fs::resize_file(base.path, size);
    } else {
      EXPECT_EQ(
          std::system(
              ("qemu-img create -q -f qcow2 " + base.path + " " + std::to_string(size)).c_str()),
          0);
    }
    return base;
  }
  fs::path dir_;
};

TEST_F(Qcow2OverlayTest, TheBytesAreQemuImgsForEveryBaseSizeAndFormat) {
  const struct {
    DiskFormat format;
    uint64_t size;
  } cases[] = {
      {DiskFormat::kQcow2, 64ull << 20},           // one L1 entry
      {DiskFormat::kQcow2, 8ull << 30},            // 16
      {DiskFormat::kQcow2, (5ull << 40) + 65536},  // an L1 table over one cluster
      {DiskFormat::kRaw, 1ull << 30},
      {DiskFormat::kRaw, 1000001},  // not a whole sector: QEMU rounds up
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(DiskFormatName(c.format)) + " " + std::to_string(c.size));
    ResolvedImage base = Base(c.format, c.size);
    std::string theirs = (dir_ / "theirs.qcow2").string();
    std::string ours = (dir_ / "ours.qcow2").string();
    fs::remove(theirs);
    fs::remove(ours);
    ASSERT_EQ(
        std::system(("qemu-img create -q -f qcow2 -F " + std::string(DiskFormatName(c.format)) +
                     " -b " + base.path + " " + theirs)
                        .c_str()),
        0);
    ASSERT_TRUE(WriteQcow2Overlay(base, ours).ok());
    std::string a = Read(theirs), b = Read(ours);
    ASSERT_EQ(a.size(), b.size());
    size_t first_difference = 0;
    while (first_difference < a.size() && a[first_difference] == b[first_difference]) {
      ++first_difference;
    }
    EXPECT_EQ(first_difference, a.size()) << "the files differ from byte " << first_difference;
    std::string check = Output("qemu-img check " + ours + " 2>&1");
    EXPECT_NE(check.find("No errors were found"), std::string::npos) << check;
    std::string info = Output("qemu-img info --output=json " + ours);
    EXPECT_NE(info.find("\"backing-filename\": \"" + base.path + "\""), std::string::npos) << info;
  }
}

TEST_F(Qcow2OverlayTest, BadInputsAreRefusedAndNothingIsLeft) {
  EXPECT_FALSE(Qcow2OverlayBytes("", "qcow2", 1 << 20).ok());
  EXPECT_FALSE(Qcow2OverlayBytes(std::string(1024, 'a'), "qcow2", 1 << 20).ok());
  EXPECT_TRUE(Qcow2OverlayBytes(std::string(1023, 'a'), "qcow2", 1 << 20).ok());
  EXPECT_FALSE(Qcow2OverlayBytes("/b", "qcow2", 0).ok());
  EXPECT_FALSE(Qcow2OverlayBytes("/b", "qcow2", ~uint64_t{0}).ok());

  ResolvedImage base = Base(DiskFormat::kQcow2, 1 << 20);
  std::string path = (dir_ / "o.qcow2").string();
  ASSERT_TRUE(WriteQcow2Overlay(base, path).ok());
  EXPECT_FALSE(WriteQcow2Overlay(base, path).ok()) << "an existing file was overwritten";
  // A base that says it is qcow2 but is not: refused, no overlay made.
  ResolvedImage fake{(dir_ / "fake").string(), DiskFormat::kQcow2, "qcow2"};
  std::ofstream(fake.path) << "not a disk";
  std::string other = (dir_ / "p.qcow2").string();
  EXPECT_FALSE(WriteQcow2Overlay(fake, other).ok());
  EXPECT_FALSE(fs::exists(other));
  // A base that is gone.
  ResolvedImage gone{(dir_ / "gone").string(), DiskFormat::kRaw, "mbr"};
  EXPECT_FALSE(WriteQcow2Overlay(gone, other).ok());
  EXPECT_FALSE(fs::exists(other));
}

}  // namespace
}  // namespace labvirt::providers
