#include "providers/saved_configs.h"

#include <nettle/sha2.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "providers/config_medium.h"
#include "providers/state_paths.h"

namespace labvirt::providers {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSuffix = ".cfg";

// A version name: 8 digits, 'T', 6 digits, 'Z', optionally "-N". Nothing else reaches a path.
bool IsVersionName(std::string_view v) {
  if (v.size() < 16) return false;
  for (size_t i = 0; i < 16; ++i) {
    char c = v[i];
    bool ok = i == 8 ? c == 'T' : i == 15 ? c == 'Z' : (c >= '0' && c <= '9');
    if (!ok) return false;
  }
  if (v.size() == 16) return true;
  if (v[16] != '-' || v.size() == 17 || v.size() > 20) return false;
  return std::all_of(v.begin() + 17, v.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A version's number within its second: 1 without a suffix, N for "-N".
int VersionNumber(const std::string& v) { return v.size() > 17 ? std::stoi(v.substr(17)) : 1; }

std::string TimeName(std::time_t now) {
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// Points `dir`/latest at `target` (a file name in `dir`) by renaming a fresh symlink over it.
Status PointLatest(const std::string& dir, const std::string& target) {
  std::string tmp = dir + "/.latest.tmp";
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0)
    return Status::FromErrno(errno, "symlink " + tmp);
  if (::rename(tmp.c_str(), (dir + "/latest").c_str()) != 0) {
    Status st = Status::FromErrno(errno, "rename " + tmp);
    ::unlink(tmp.c_str());
    return st;
  }
  return Status::Ok();
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
  uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, sizeof digest, digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::vector<std::string> ListSavedVersions(const std::string& state_dir, const std::string& lab,
                                           const std::string& node) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(SavedConfigDir(state_dir, lab, node), ec)) {
    std::string name = e.path().filename().string();
    if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) continue;
    std::string v = name.substr(0, name.size() - kSuffix.size());
    if (IsVersionName(v) && e.is_regular_file()) out.push_back(v);
  }
  // Same-second versions sort by their number, not as text ("-10" after "-9").
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    if (a.compare(0, 16, b, 0, 16) != 0) return a < b;
    return VersionNumber(a) < VersionNumber(b);
  });
  return out;
}

Result<SavedConfig> StoreSavedConfig(const std::string& state_dir, const std::string& lab,
                                     const std::string& node, std::string_view text,
                                     std::time_t now) {
  const std::string dir = SavedConfigDir(state_dir, lab, node);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("create " + dir + ": " + ec.message());
  // After the newest of this second, never in a gap a pruned version left: a reused name would
  // sort as the oldest and be pruned at once.
  const std::string base = TimeName(now);
  int last = 0;
  for (const std::string& v : ListSavedVersions(state_dir, lab, node)) {
    if (v.compare(0, base.size(), base) == 0) last = std::max(last, VersionNumber(v));
  }
  std::string version = last == 0 ? base : base + "-" + std::to_string(last + 1);
  SavedConfig saved{dir + "/" + version + std::string(kSuffix), version,
                    static_cast<int64_t>(text.size()), Sha256Hex(text), ""};
  LABVIRT_RETURN_IF_ERROR(WriteFileAtomically(saved.path, text));
  LABVIRT_RETURN_IF_ERROR(PointLatest(dir, version + std::string(kSuffix)));
  std::vector<std::string> versions = ListSavedVersions(state_dir, lab, node);
  for (size_t i = 0; i + kMaxSavedVersions < versions.size(); ++i) {
    fs::remove(dir + "/" + versions[i] + std::string(kSuffix), ec);
  }
  return saved;
}

Result<SavedConfig> LoadSavedConfig(const std::string& state_dir, const std::string& lab,
                                    const std::string& node, const std::string& version) {
  const std::string dir = SavedConfigDir(state_dir, lab, node);
  std::string v = version;
  if (v.empty() || v == "latest") {
    std::error_code ec;
    fs::path target = fs::read_symlink(dir + "/latest", ec);
    if (ec) return NotFound("node " + node + " of lab " + lab + " has no saved config");
    std::string name = target.filename().string();
    v = name.ends_with(kSuffix) ? name.substr(0, name.size() - kSuffix.size()) : name;
  }
  if (!IsVersionName(v)) {
    return InvalidArgument("'" + version + "' is not a saved config version (e.g. " + TimeName(0) +
                           ", or latest)");
  }
  SavedConfig saved;
  saved.version = v;
  saved.path = dir + "/" + v + std::string(kSuffix);
  std::ifstream in(saved.path, std::ios::binary);
  if (!in) return NotFound("node " + node + " of lab " + lab + " has no saved config " + v);
  std::ostringstream text;
  text << in.rdbuf();
  saved.text = text.str();
  saved.bytes = static_cast<int64_t>(saved.text.size());
  saved.sha256 = Sha256Hex(saved.text);
  return saved;
}

}  // namespace labvirt::providers
