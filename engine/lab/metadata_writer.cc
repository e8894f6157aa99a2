#include "engine/lab/metadata_writer.h"

#include "reactor/base/log.h"

namespace labvirt::engine {

void MetadataWriter::PersistMetadata(Node& n, std::function<void()> then) {
  if (then) n.metadata_waiters.push_back(std::move(then));
  // One write at a time per node: two in flight on the worker pool may land in either order,
  // and an older snapshot landing last would undo the newer (seen: a link's carrier state lost).
  if (n.metadata_writing) {
    n.metadata_dirty = true;
    return;
  }
  n.metadata_writing = true;
  n.metadata_dirty = false;
  n.metadata.desired_state = n.desired_running ? "running" : "stopped";
  n.metadata.readiness = std::string(ReadinessStateName(n.readiness.state));
  n.metadata.readiness_detail = n.readiness.ToJson();
  std::vector<std::function<void()>> waiters;
  waiters.swap(n.metadata_waiters);
  hv_.SetMetadata(n.domain, providers::RenderNodeMetadata(n.metadata),
                  [this, key = n.key, node = &n, waiters](Status st) {
                    // NotFound: the domain is gone (undefined by a lab.destroy while the
                    // write of its stop waited, or outside labvirt, which the lifecycle
                    // events report): nothing is left to keep, so no warning.
                    if (st.code() == StatusCode::kNotFound) {
                      LogInfo("metadata not saved: the domain is gone", {{"node", key}});
                    } else if (!st.ok()) {
                      LogWarn("metadata not saved", {{"node", key}, {"error", st.ToString()}});
                    }
                    Node* now = FindNodeByKey(key);
                    if (now == node) {
                      now->metadata_writing = false;
                      if (now->metadata_dirty) PersistMetadata(*now);
                    }
                    for (const auto& w : waiters) w();
                  });
}

}  // namespace labvirt::engine
