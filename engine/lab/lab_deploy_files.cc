// Deployer (engine/lab/deployer.h), the step of a deploy that makes files: each new node's
// overlay, log and NVRAM directories and day-0 media, on workers, in parts at once.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <thread>

#include "engine/lab/deployer.h"
#include "providers/config_medium.h"
#include "providers/overlay.h"

namespace labvirt::engine {
namespace {

// What making one part of a deploy's files came to: the first failure of the part, with the
// build's index (deploy order) and the failing node's name and member for the answer's field.
struct FilesMade {
  Status status;
  size_t index = 0;
  std::string node, member;
};

// Overlays, log directories and day-0 media of builds[i] for i = first, first + step, … (file
// I/O; on a worker), stopping at the first failure.
FilesMade MakeFiles(const std::vector<DeployJob::Build>& builds, size_t first, size_t step) {
  for (size_t i = first; i < builds.size(); i += step) {
    const auto& b = builds[i];
    std::error_code ec;
    std::filesystem::create_directories(b.log_dir, ec);
    // Stateful-UEFI kinds (N9Kv) keep their NVRAM under STATE_DIR/nvram/LAB/.
    std::filesystem::create_directories(b.nvram_dir, ec);
    if (!b.overlay.empty()) {  // a container has none
      std::filesystem::create_directories(std::filesystem::path(b.overlay).parent_path(), ec);
    }
    if (ec) return {Internal("create " + b.log_dir + ": " + ec.message()), i, "", ""};
    if (b.overlay.empty()) continue;  // a container: its image is its disk
    // An overlay left by an earlier deploy of the same node is kept (its disk state).
    auto made = providers::EnsureOverlay(b.base, b.overlay);
    if (!made.ok()) return {made.status(), i, b.node, ""};
    if (b.config_text.empty()) continue;
    // A new node's medium is made from the config it was deployed with, every time.
    Status day0 =
        providers::WriteDay0Files(b.day0, b.config_text, b.config_text_path, b.config_medium);
    if (!day0.ok()) {
      return {day0.WithContext("node " + b.node + ": startup config"), i, b.node, "startup_config"};
    }
  }
  return {Status::Ok(), builds.size(), "", ""};
}

// Parts a deploy's files are made in at once, one per core (at most 4). Made when qemu-img made
// each overlay (~20 ms of CPU a node: 300 took ~6 s on one worker); labvirt now writes them itself
// in microseconds, and the parts still spread the file system's waits (directories, syncs of a
// slow disk) over workers.
size_t FileParts(size_t builds) {
  size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::clamp<size_t>(std::min<size_t>(cores, 4), 1, std::max<size_t>(builds, 1));
}

}  // namespace

void Deployer::DeployFiles(uint64_t id) {
  // The parts run on workers at once; once all have answered, the failure earliest in deploy
  // order (if any) fails the deploy, as a single pass in order would have.
  auto builds = std::make_shared<const std::vector<DeployJob::Build>>(jobs_.at(id)->builds);
  const size_t parts = FileParts(builds->size());
  struct Parts {
    size_t open;
    FilesMade first{Status::Ok(), SIZE_MAX, "", ""};
  };
  auto state = std::make_shared<Parts>(Parts{parts});
  auto part_done = [this, id, state](FilesMade made) {
    if (!made.status.ok() && made.index < state->first.index) state->first = std::move(made);
    if (--state->open > 0 || !jobs_.count(id)) return;
    const FilesMade& first = state->first;
    if (first.status.ok()) return DefineMore(id);
    std::string field =
        first.node.empty() ? "lab" : jobs_.at(id)->NodeField(first.node, first.member);
    DeployFinish(id, first.status, field);
  };
  for (size_t p = 0; p < parts; ++p) {
    Status st =
        OnWorker<FilesMade>([builds, p, parts] { return MakeFiles(*builds, p, parts); }, part_done);
    // The pool refused the part: it counts as a failure before any node.
    if (!st.ok()) part_done({st, 0, "", ""});
  }
}

}  // namespace labvirt::engine
