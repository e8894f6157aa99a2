// Day-0 config media: the FAT writer and the libisofs ISO, each read back by an independent
// reader (mtools' mtype and mdir, genisoimage's isoinfo), plus the layout the fixture relies on.
#include "providers/config_medium.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "providers/config_tgz.h"

namespace labvirt::providers {
namespace {

std::string Capture(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  *rc = pclose(p);
  return out;
}

class ConfigMediumTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/labvirt-medium-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  void NeedTool(const char* tool) {
    if (std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) != 0) {
      if (std::getenv("CI")) FAIL() << tool << " missing";
      GTEST_SKIP() << tool << " missing (run ./tools/setup-host)";
    }
  }
  std::string dir_;
};

const char kConfig[] =
    "hostname r1\n!\ninterface GigabitEthernet0/0\n ip address 10.0.0.1 255.255.255.0\nend\n";

TEST_F(ConfigMediumTest, FatImageReadsBackWithMtools) {
  NeedTool("mtype");
  auto img = BuildFatImage("disk", "ios_config.txt", kConfig);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->size(), kFatImageBytes);
  std::string path = dir_ + "/cfg.img";
  ASSERT_TRUE(WriteFileAtomically(path, *img).ok());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kFatImageBytes);
  EXPECT_LT(st.st_blocks * 512, 64 * 1024) << "the zero tail must be sparse";
  int rc = -1;
  // mtools refuses images whose geometry is inconsistent; MTOOLS_SKIP_CHECK stays unset.
  std::string out = Capture("MTOOLS_NO_VFAT=0 mtype -i " + path + " ::ios_config.txt", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, kConfig);
  std::string dir = Capture("mdir -i " + path + " ::", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(dir.find("ios_config.txt"), std::string::npos) << dir;  // the VFAT long name
  EXPECT_NE(dir.find("Volume in drive : is disk"), std::string::npos) << dir;
}

TEST_F(ConfigMediumTest, FatLayoutIsWhatTheFixtureReads) {
  auto img = BuildFatImage("CONFIG", "CONFIG.TXT", "abc");
  ASSERT_TRUE(img.ok());
  // The BPB the fixture's @@showfat parses: 512-byte sectors, 8 per cluster, 1 reserved, 2 FATs
  // of 6 sectors, 512 root entries; an exact 8.3 name needs no long-name entry.
  EXPECT_EQ(static_cast<uint8_t>((*img)[13]), 8);
  EXPECT_EQ(std::string(img->data() + 54, 8), "FAT12   ");
  size_t root = (1 + 2 * 6) * 512;
  EXPECT_EQ(std::string(img->data() + root, 11), "CONFIG     ");  // the label entry
  EXPECT_EQ(std::string(img->data() + root + 32, 11), "CONFIG  TXT");
  size_t data = (1 + 2 * 6 + 32) * 512;
  EXPECT_EQ(std::string(img->data() + data, 4), std::string("abc\0", 4));
}

TEST_F(ConfigMediumTest, LargeFileSpansContiguousClusters) {
  NeedTool("mtype");
  std::string big;
  for (int i = 0; big.size() < 100000; ++i) big += "line " + std::to_string(i) + "\n";
  auto img = BuildFatImage("vmm-data", "juniper.conf", big);
  ASSERT_TRUE(img.ok());
  std::string path = dir_ + "/big.img";
  ASSERT_TRUE(WriteFileAtomically(path, *img).ok());
  int rc = -1;
  EXPECT_EQ(Capture("mtype -i " + path + " ::juniper.conf", &rc), big);
  EXPECT_EQ(rc, 0);
}

TEST_F(ConfigMediumTest, FatRefusesBadInputNamingTheField) {
  EXPECT_NE(BuildFatImage("", "a.txt", "x").status().message().find("volume_label"),
            std::string::npos);
  EXPECT_NE(BuildFatImage("TWELVECHARSX", "a.txt", "x").status().message().find("volume_label"),
            std::string::npos);
  EXPECT_NE(BuildFatImage("L", "a/b.txt", "x").status().message().find("file"), std::string::npos);
  std::string huge(kFatMaxFileBytes + 1, 'x');
  auto too_big = BuildFatImage("L", "a.txt", huge);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.status().message().find("at most"), std::string::npos);
}

TEST_F(ConfigMediumTest, IsoImageReadsBackWithIsoinfo) {
  NeedTool("isoinfo");
  auto img = BuildIsoImage("config", "iosxe_config.txt", kConfig);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->substr(32769, 5), "CD001");
  std::string path = dir_ + "/cfg.iso";
  ASSERT_TRUE(WriteFileAtomically(path, *img).ok());
  int rc = -1;
  std::string out = Capture("isoinfo -R -i " + path + " -x /iosxe_config.txt", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, kConfig);
  std::string pvd = Capture("isoinfo -d -i " + path, &rc);
  EXPECT_NE(pvd.find("Volume id: config"), std::string::npos) << pvd;
  EXPECT_NE(pvd.find("Joliet"), std::string::npos) << pvd;
  // Without Rock Ridge or Joliet the plain ISO 9660 name is the whole name, upper case.
  std::string plain = Capture("isoinfo -i " + path + " -x '/IOSXE_CONFIG.TXT;1'", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(plain, kConfig);
}

TEST_F(ConfigMediumTest, AtomicWriteReplacesAndLeavesNoTemporary) {
  std::string path = dir_ + "/sub/f.img";
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  EXPECT_EQ(s.str(), "second");
  int rc = -1;
  EXPECT_EQ(Capture("ls " + dir_ + "/sub", &rc), "f.img\n");
  // An unwritable directory: an error naming the path, nothing left behind.
  Status st = WriteFileAtomically("/proc/labvirt-no/f.img", "x");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/proc/labvirt-no"), std::string::npos) << st.message();
}

// vJunos's wrapper: the FAT disk holds vmm-config.tgz, the archive config/juniper.conf; read back
// by mtools and GNU tar, as the guest's own tools would.
TEST_F(ConfigMediumTest, TgzWrapperOnFatReadsBackWithMtoolsAndTar) {
  NeedTool("mcopy");
  NeedTool("tar");
  Day0Spec spec{"fat", "usb", "vmm-data", "vmm-config.tgz", "tgz", 1 << 20, "config/juniper.conf"};
  ASSERT_TRUE(WriteDay0Files(spec, kConfig, dir_ + "/r1.cfg", dir_ + "/r1.img").ok());
  int rc = -1;
  Capture("mcopy -i " + dir_ + "/r1.img ::vmm-config.tgz " + dir_ + "/vmm-config.tgz", &rc);
  ASSERT_EQ(rc, 0);
  std::string listing = Capture("tar -tvzf " + dir_ + "/vmm-config.tgz", &rc);
  EXPECT_EQ(rc, 0) << listing;
  EXPECT_NE(listing.find("config/juniper.conf"), std::string::npos) << listing;
  std::string text = Capture("tar -xzOf " + dir_ + "/vmm-config.tgz config/juniper.conf", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(text, kConfig);
  std::string label = Capture("mlabel -s -i " + dir_ + "/r1.img ::", &rc);
  EXPECT_NE(label.find("vmm-data"), std::string::npos) << label;
}

TEST_F(ConfigMediumTest, TgzIsTheSameForTheSameConfigAndRefusesBadPaths) {
  auto a = BuildTgz("config/juniper.conf", kConfig);
  auto b = BuildTgz("config/juniper.conf", kConfig);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->substr(0, 2), std::string("\x1f\x8b", 2));  // gzip magic
  for (const char* bad : {"", "/etc/passwd", "../x", "a//b", "a/./b", "a b", "config/"}) {
    EXPECT_EQ(BuildTgz(bad, "x").status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(BuildTgz(std::string(100, 'a'), "x").ok());
}

}  // namespace
}  // namespace labvirt::providers
