// Throwaway fixture VMs for integration tests.
//
// A FixtureDomain builds a bootable image from a console transcript with
// tools/mkfixture, defines a tiny (16 MiB) domain for it on the real libvirtd
// (qemu:///system) and starts it; its destructor destroys and undefines the
// domain and deletes the image, so nothing is left behind even when a test
// fails. Names are "lvtest-<pid>-<seq>"; images live in kImageDir. Before the
// first domain of a process is made, leftovers of earlier runs whose pid is
// dead are removed.
//
// All calls block on libvirt RPCs; meant for tests only. Not thread-safe.
#ifndef LABVIRT_TESTS_SUPPORT_FIXTURE_DOMAIN_H_
#define LABVIRT_TESTS_SUPPORT_FIXTURE_DOMAIN_H_

#include <libvirt/libvirt.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace labvirt::testing {

inline constexpr char kImageDir[] = "/var/lib/libvirt/images/lvtest";
inline constexpr char kNamePrefix[] = "lvtest-";

struct ConnectCloser {
  void operator()(virConnectPtr conn) const { virConnectClose(conn); }
};
using ConnectPtr = std::unique_ptr<virConnect, ConnectCloser>;

enum class DiskBus { kVirtio, kIde, kSata };
enum class Machine { kPc, kQ35 };  // kIde needs kPc: q35 has no IDE bus
enum class AcpiMode { kGraceful, kIgnore };
enum class Speed { kFast, kReal };
// kAuto: KVM when /dev/kvm is usable, else TCG. kTcg: TCG even where KVM works, so that one host
// checks a fixture under both.
enum class Accel { kAuto, kTcg };

struct FixtureOptions {
  DiskBus bus = DiskBus::kVirtio;
  Machine machine = Machine::kPc;
  bool start_paused = false;
  bool serial_pty = true;  // false: no serial device at all
  AcpiMode acpi = AcpiMode::kGraceful;
  Speed speed = Speed::kFast;
  Accel accel = Accel::kAuto;
  // libvirt lifecycle actions: destroy, restart, preserve, rename-restart...
  std::string on_poweroff = "destroy";
  std::string on_reboot = "restart";
  std::string on_crash = "destroy";
};

// True when /dev/kvm is usable (QEMU then runs fixtures under KVM unless told kTcg) and the
// environment does not say LABVIRT_TEST_ACCEL=tcg, which runs every fixture domain of the process
// under TCG: a KVM host can then check its tests under TCG too. labvirtd's own domains (lab
// tests) are not affected.
bool KvmUsable();

// Opens qemu:///system. Returns null and sets *error when libvirtd is unreachable.
ConnectPtr OpenSystemConnection(std::string* error);

// True when the environment variable CI is "true": missing prerequisites are
// then failures, not skips.
bool InCi();

// Registers libvirt's default event loop and runs it on a detached thread,
// once per process. Call before opening a connection that should deliver
// domain events.
void EnsureDefaultEventLoop();

// Absolute path of `relative` inside the source tree (LABVIRT_SOURCE_DIR).
std::string SourcePath(std::string_view relative);

// tests/data/consoles/<name>.txt
std::string ConsoleTranscript(std::string_view name);

// Runs tools/mkfixture to build `out` from `transcript`. Returns "" on
// success, else mkfixture's error output.
std::string BuildFixtureImage(const std::string& transcript, const std::string& out, AcpiMode acpi,
                              Speed speed);

// Sets *bytes to the exact console output up to the first prompt
// (mkfixture --print-expected). Returns "" on success, else the error.
std::string ExpectedConsole(const std::string& transcript, std::string* bytes);

class FixtureDomain {
 public:
  // Builds the image, defines the domain and starts it (paused if
  // options.start_paused). `conn` is borrowed and must outlive the result.
  // Returns null and sets *error on failure, having removed what it made.
  static std::unique_ptr<FixtureDomain> Create(virConnectPtr conn, const std::string& transcript,
                                               const FixtureOptions& options, std::string* error);
  ~FixtureDomain();
  FixtureDomain(const FixtureDomain&) = delete;
  FixtureDomain& operator=(const FixtureDomain&) = delete;

  const std::string& name() const { return name_; }
  const std::string& image_path() const { return image_; }
  // Owned by this object; valid until it is destroyed.
  virDomainPtr domain() const { return domain_; }

  // The serial PTY (/dev/pts/N) from the live XML, or "" when there is none.
  std::string PtyPath() const;
  // Resumes a paused domain. Returns "" on success, else libvirt's error.
  std::string Resume();
  // Sends an ACPI shutdown request (virDomainShutdown).
  std::string Shutdown();
  bool IsActive() const;
  // The QEMU process of the running domain (from libvirt's pid file), or 0.
  pid_t QemuPid() const;
  // Polls until the domain is inactive; false on timeout.
  bool WaitInactive(std::chrono::milliseconds timeout) const;

 private:
  FixtureDomain(virConnectPtr conn, std::string name, std::string image);

  virConnectPtr conn_;
  std::string name_;
  std::string image_;
  virDomainPtr domain_ = nullptr;
};

// Destroys and undefines "lvtest-<pid>-*" domains whose pid is dead and
// deletes their images. Safe to call while other test processes run.
void RemoveStaleFixtures(virConnectPtr conn);

// A raw, non-blocking file descriptor on a console PTY.
class ConsolePty {
 public:
  // Opens `path` O_RDWR|O_NOCTTY|O_NONBLOCK and applies cfmakeraw.
  static std::unique_ptr<ConsolePty> Open(const std::string& path, std::string* error);
  ~ConsolePty();
  ConsolePty(const ConsolePty&) = delete;
  ConsolePty& operator=(const ConsolePty&) = delete;

  // Appends to *out until it holds at least `size` bytes or `timeout` passes.
  // Returns true when the size was reached.
  bool ReadAtLeast(std::string* out, size_t size, std::chrono::milliseconds timeout);
  // Appends to *out until it contains `needle` or `timeout` passes.
  bool ReadUntil(std::string* out, std::string_view needle, std::chrono::milliseconds timeout);
  // Writes all of `bytes`; false on error.
  bool Write(std::string_view bytes);

 private:
  explicit ConsolePty(int fd) : fd_(fd) {}
  // Reads what is available within `timeout` into *out; false on EOF/error.
  bool ReadSome(std::string* out, std::chrono::milliseconds timeout);

  int fd_;
};

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_FIXTURE_DOMAIN_H_
