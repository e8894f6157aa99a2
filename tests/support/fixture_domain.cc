#include "tests/support/fixture_domain.h"

#include <fcntl.h>
#include <libvirt/virterror.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#ifndef LABVIRT_SOURCE_DIR
#error "LABVIRT_SOURCE_DIR must name the source tree (set by meson)"
#endif

namespace labvirt::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string LastLibvirtError() {
  const char* message = virGetLastErrorMessage();
  return message != nullptr ? message : "unknown libvirt error";
}

// Runs argv, capturing stdout into *out and stderr into *err. Returns the exit
// status, or -1 when the program could not be run. stderr goes to a temporary
// file so that a large stdout can never deadlock against it.
int Run(const std::vector<std::string>& argv, std::string* out, std::string* err) {
  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return -1;
  FILE* err_file = std::tmpfile();
  if (err_file == nullptr) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(fileno(err_file), STDERR_FILENO);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  char buf[65536];
  ssize_t n;
  while ((n = read(out_pipe[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out->append(buf, static_cast<size_t>(n));
  }
  close(out_pipe[0]);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) status = -1;
  std::rewind(err_file);
  while ((n = static_cast<ssize_t>(std::fread(buf, 1, sizeof buf, err_file))) > 0) {
    err->append(buf, static_cast<size_t>(n));
  }
  std::fclose(err_file);
  if (status < 0 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// Returns the pid in "lvtest-<pid>-...", or 0 when `name` is not ours.
pid_t OwnerPid(std::string_view name) {
  if (name.substr(0, sizeof(kNamePrefix) - 1) != kNamePrefix) return 0;
  name.remove_prefix(sizeof(kNamePrefix) - 1);
  pid_t pid = 0;
  size_t i = 0;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) pid = pid * 10 + (name[i] - '0');
  return (i > 0 && i < name.size() && name[i] == '-') ? pid : 0;
}

bool PidAlive(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

void DestroyAndUndefine(virDomainPtr dom) {
  if (virDomainIsActive(dom) == 1) virDomainDestroy(dom);
  virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                  VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                  VIR_DOMAIN_UNDEFINE_NVRAM);
}

std::string DomainXml(const std::string& name, const std::string& image, const FixtureOptions& o) {
  // TCG when /dev/kvm is unusable: the fixture needs no hardware virtualisation.
  const bool kvm = o.accel == Accel::kAuto && KvmUsable();
  const char* bus = o.bus == DiskBus::kVirtio ? "virtio" : o.bus == DiskBus::kIde ? "ide" : "sata";
  const char* dev = o.bus == DiskBus::kVirtio ? "vda" : o.bus == DiskBus::kIde ? "hda" : "sda";
  std::string xml;
  xml += std::string("<domain type='") + (kvm ? "kvm" : "qemu") + "'>\n";
  xml += "  <name>" + name + "</name>\n";
  xml += "  <memory unit='MiB'>16</memory>\n  <vcpu>1</vcpu>\n";
  xml += std::string("  <os><type arch='x86_64' machine='") +
         (o.machine == Machine::kPc ? "pc" : "q35") + "'>hvm</type><boot dev='hd'/></os>\n";
  // ACPI must be on: the fixture reads the FADT for power off and the button.
  xml += "  <features><acpi/></features>\n";
  xml += "  <on_poweroff>" + o.on_poweroff + "</on_poweroff>\n";
  xml += "  <on_reboot>" + o.on_reboot + "</on_reboot>\n";
  xml += "  <on_crash>" + o.on_crash + "</on_crash>\n";
  xml += "  <devices>\n";
  xml += "    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>";
  xml += "<source file='" + image + "'/><target dev='" + dev + "' bus='" + bus + "'/></disk>\n";
  if (o.serial_pty) xml += "    <serial type='pty'><target port='0'/></serial>\n";
  xml += "    <controller type='usb' model='none'/>\n";
  xml += "    <memballoon model='none'/>\n";
  xml += "  </devices>\n</domain>\n";
  return xml;
}

std::string NextName() {
  static int sequence = 0;
  return std::string(kNamePrefix) + std::to_string(getpid()) + "-" + std::to_string(++sequence);
}

}  // namespace

bool KvmUsable() {
  const char* forced = std::getenv("LABVIRT_TEST_ACCEL");
  if (forced != nullptr && std::string_view(forced) == "tcg") return false;
  return access("/dev/kvm", R_OK | W_OK) == 0;
}

ConnectPtr OpenSystemConnection(std::string* error) {
  // Errors are returned to callers; libvirt's default handler would also
  // print every expected "domain not found" to stderr.
  virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
  ConnectPtr conn(virConnectOpen("qemu:///system"));
  if (conn == nullptr) *error = "cannot connect to qemu:///system: " + LastLibvirtError();
  return conn;
}

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

void EnsureDefaultEventLoop() {
  static std::once_flag once;
  std::call_once(once, [] {
    virEventRegisterDefaultImpl();
    std::thread([] {
      for (;;) virEventRunDefaultImpl();
    }).detach();
  });
}

std::string SourcePath(std::string_view relative) {
  return std::string(LABVIRT_SOURCE_DIR) + "/" + std::string(relative);
}

std::string ConsoleTranscript(std::string_view name) {
  return SourcePath("tests/data/consoles/" + std::string(name) + ".txt");
}

std::string BuildFixtureImage(const std::string& transcript, const std::string& out, AcpiMode acpi,
                              Speed speed) {
  std::string stdout_text, stderr_text;
  int rc = Run({SourcePath("tools/mkfixture"), "--transcript", transcript, "--out", out, "--acpi",
                acpi == AcpiMode::kGraceful ? "graceful" : "ignore", "--speed",
                speed == Speed::kFast ? "fast" : "real"},
               &stdout_text, &stderr_text);
  if (rc == 0) return "";
  return "mkfixture exit " + std::to_string(rc) + ": " + stderr_text;
}

std::string ExpectedConsole(const std::string& transcript, std::string* bytes) {
  std::string stderr_text;
  bytes->clear();
  int rc = Run({SourcePath("tools/mkfixture"), "--transcript", transcript, "--print-expected"},
               bytes, &stderr_text);
  if (rc == 0) return "";
  return "mkfixture exit " + std::to_string(rc) + ": " + stderr_text;
}

void RemoveStaleFixtures(virConnectPtr conn) {
  virDomainPtr* domains = nullptr;
  int count = virConnectListAllDomains(conn, &domains, 0);
  for (int i = 0; i < count; ++i) {
    const char* name = virDomainGetName(domains[i]);
    pid_t pid = name != nullptr ? OwnerPid(name) : 0;
    if (pid > 0 && !PidAlive(pid)) DestroyAndUndefine(domains[i]);
    virDomainFree(domains[i]);
  }
  free(domains);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(kImageDir, ec)) {
    std::string file = entry.path().filename().string();
    pid_t pid = OwnerPid(file);
    if (pid > 0 && !PidAlive(pid)) fs::remove(entry.path(), ec);
  }
}

FixtureDomain::FixtureDomain(virConnectPtr conn, std::string name, std::string image)
    : conn_(conn), name_(std::move(name)), image_(std::move(image)) {}

std::unique_ptr<FixtureDomain> FixtureDomain::Create(virConnectPtr conn,
                                                     const std::string& transcript,
                                                     const FixtureOptions& options,
                                                     std::string* error) {
  static std::once_flag cleaned;
  std::call_once(cleaned, [conn] { RemoveStaleFixtures(conn); });
  std::error_code ec;
  fs::create_directories(kImageDir, ec);
  chmod(kImageDir, 0755);  // QEMU runs as libvirt-qemu and must reach the image
  std::string name = NextName();
  std::unique_ptr<FixtureDomain> fixture(
      new FixtureDomain(conn, name, std::string(kImageDir) + "/" + name + ".qcow2"));
  *error = BuildFixtureImage(transcript, fixture->image_, options.acpi, options.speed);
  if (!error->empty()) return nullptr;
  std::string xml = DomainXml(name, fixture->image_, options);
  fixture->domain_ = virDomainDefineXML(conn, xml.c_str());
  if (fixture->domain_ == nullptr) {
    *error = "define " + name + ": " + LastLibvirtError();
    return nullptr;
  }
  unsigned int flags = options.start_paused ? VIR_DOMAIN_START_PAUSED : 0;
  if (virDomainCreateWithFlags(fixture->domain_, flags) != 0) {
    *error = "start " + name + ": " + LastLibvirtError();
    return nullptr;
  }
  return fixture;
}

FixtureDomain::~FixtureDomain() {
  if (domain_ != nullptr) {
    DestroyAndUndefine(domain_);
    virDomainFree(domain_);
  }
  std::error_code ec;
  fs::remove(image_, ec);
}

std::string FixtureDomain::PtyPath() const {
  char* xml = virDomainGetXMLDesc(domain_, 0);
  if (xml == nullptr) return "";
  std::string desc(xml);
  free(xml);
  size_t serial = desc.find("<serial type='pty'>");
  if (serial == std::string::npos) return "";
  size_t end = desc.find("</serial>", serial);
  size_t source = desc.find("<source path='", serial);
  if (source == std::string::npos || source > end) return "";
  source += std::strlen("<source path='");
  return desc.substr(source, desc.find('\'', source) - source);
}

std::string FixtureDomain::Resume() {
  return virDomainResume(domain_) == 0 ? "" : "resume " + name_ + ": " + LastLibvirtError();
}

std::string FixtureDomain::Shutdown() {
  return virDomainShutdown(domain_) == 0 ? "" : "shutdown " + name_ + ": " + LastLibvirtError();
}

bool FixtureDomain::IsActive() const { return virDomainIsActive(domain_) == 1; }

pid_t FixtureDomain::QemuPid() const {
  std::ifstream in("/run/libvirt/qemu/" + name_ + ".pid");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

bool FixtureDomain::WaitInactive(std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  while (IsActive()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::unique_ptr<ConsolePty> ConsolePty::Open(const std::string& path, std::string* error) {
  int fd = open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *error = "open " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  termios tio;
  if (tcgetattr(fd, &tio) != 0 || (cfmakeraw(&tio), tcsetattr(fd, TCSANOW, &tio)) != 0) {
    *error = "raw mode " + path + ": " + std::strerror(errno);
    close(fd);
    return nullptr;
  }
  return std::unique_ptr<ConsolePty>(new ConsolePty(fd));
}

ConsolePty::~ConsolePty() { close(fd_); }

bool ConsolePty::ReadSome(std::string* out, std::chrono::milliseconds timeout) {
  pollfd pfd{fd_, POLLIN, 0};
  int ready = poll(&pfd, 1, static_cast<int>(timeout.count()));
  if (ready <= 0) return ready == 0 || errno == EINTR;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    return false;  // EOF or EIO: QEMU closed its side
  }
}

bool ConsolePty::ReadAtLeast(std::string* out, size_t size, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (out->size() < size) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || !ReadSome(out, left)) return out->size() >= size;
  }
  return true;
}

bool ConsolePty::ReadUntil(std::string* out, std::string_view needle,
                           std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (out->find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || !ReadSome(out, left)) return out->find(needle) != std::string::npos;
  }
  return true;
}

bool ConsolePty::Write(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EAGAIN) {
      pollfd pfd{fd_, POLLOUT, 0};
      poll(&pfd, 1, 100);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace labvirt::testing
