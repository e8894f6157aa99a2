#include "engine/mgmt_nat/nft.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "reactor/base/unique_fd.h"

extern char** environ;

namespace labvirt::engine::mgmt {
namespace {

constexpr size_t kMaxOutput = 1 << 20;

// A memory file holding `text`, positioned at its start. Memory files, not pipes, for all three
// standard streams: nft can neither block us nor be blocked, whatever the sizes.
Result<UniqueFd> MemFile(const char* name, std::string_view text) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, std::string("memfd_create ") + name);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, std::string("write ") + name);
    done += static_cast<size_t>(n);
  }
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) return Status::FromErrno(errno, "lseek");
  return fd;
}

std::string ReadAll(int fd) {
  std::string out;
  if (::lseek(fd, 0, SEEK_SET) != 0) return out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || out.size() >= kMaxOutput) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string TrimEnd(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Runs `nft args...` with `script` on stdin; its stdout, or Internal with its stderr.
Result<std::string> RunNft(const std::string& nft, std::vector<std::string> args,
                           std::string_view script) {
  auto in = MemFile("nft-stdin", script);
  if (!in.ok()) return in.status();
  auto out = MemFile("nft-stdout", "");
  if (!out.ok()) return out.status();
  auto err = MemFile("nft-stderr", "");
  if (!err.ok()) return err.status();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in->get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out->get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err->get(), STDERR_FILENO);
  args.insert(args.begin(), nft);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, nft.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Status::FromErrno(rc, "run " + nft);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "waitpid " + nft);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ReadAll(out->get());
  const std::string how = WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                            : "signal " + std::to_string(WTERMSIG(status));
  return Internal(nft + " failed (" + how + "): " + TrimEnd(ReadAll(err->get())));
}

}  // namespace

Status ApplyNat(const NatPlan& plan, const std::string& nft) {
  LABVIRT_RETURN_IF_ERROR(ValidateNatPlan(plan));
  auto r = RunNft(nft, {"-f", "-"}, NatRuleset(plan));
  if (!r.ok()) return r.status().WithContext("apply NAT table " + plan.table);
  return Status::Ok();
}

Status RemoveNat(const std::string& table, const std::string& nft) {
  if (!IsValidTableName(table)) {
    return InvalidField("table", "\"" + table + "\" is not a labvirt NAT table name");
  }
  auto r = RunNft(nft, {"-f", "-"}, RemoveNatScript(table));
  if (!r.ok()) return r.status().WithContext("remove NAT table " + table);
  return Status::Ok();
}

Result<std::vector<std::string>> ListNatTables(const std::string& nft) {
  auto r = RunNft(nft, {"list", "tables"}, "");
  if (!r.ok()) return r.status().WithContext("list nft tables");
  return ParseNatTables(*r);
}

std::vector<std::string> ParseNatTables(std::string_view text) {
  constexpr std::string_view kLine = "table ip ";
  std::vector<std::string> names;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.substr(0, kLine.size()) != kLine) continue;
    line.remove_prefix(kLine.size());
    if (IsValidTableName(line)) names.emplace_back(line);
  }
  return names;
}

Result<bool> EnsureIpForwarding(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open " + path);
  char c = 0;
  ssize_t n = ::pread(fd.get(), &c, 1, 0);
  if (n != 1)
    return n < 0 ? Status::FromErrno(errno, "read " + path) : Internal(path + " is empty");
  if (c != '0') return false;
  if (::pwrite(fd.get(), "1\n", 2, 0) != 2) return Status::FromErrno(errno, "write 1 to " + path);
  return true;
}

}  // namespace labvirt::engine::mgmt
