// NodeConfig: a node's configuration over its console (docs/consoles.md "Console scripts"): the
// startup config of console-paste kinds typed once the device is ready (NodeLife asks, and the
// node is ready only once it is applied), and running configs read back and saved
// (node.config.save, lab.config.save) or returned (node.config.get).
//
// Each script is a CliSession on the node's console hub as a script viewer: it takes the write
// lease without forcing it (a person attached read-write is not typed over: the script fails at
// once naming the viewer), and a person forcing the lease away, the console closing or the node
// stopping ends it with that reason. One script per node at a time. The kind's patterns are
// compiled once per kind.
//
// Loop thread only; callbacks run on the loop, once, from a clean stack.
#ifndef LABVIRT_ENGINE_LAB_NODE_CONFIG_H_
#define LABVIRT_ENGINE_LAB_NODE_CONFIG_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/console/cli_session.h"
#include "engine/lab/engine_part.h"
#include "engine/lab/metadata_writer.h"
#include "providers/saved_configs.h"

namespace labvirt::engine {

class NodeConfig : public EnginePart {
 public:
  // At most this many saves of a lab.config.save run at once (each holds a console).
  static constexpr size_t kMaxParallelSaves = 8;

  NodeConfig(const EngineSeams& seams, LabStore& store, MetadataWriter& writer);
  ~NodeConfig();

  // Whether `n` has a startup config to type before it is ready (a console-paste kind whose
  // config was not applied since its disk was made).
  static bool NeedsPaste(const Node& n);
  // Types n's startup config; marks it applied (metadata) on success. `done` gets the error that
  // names the node, the line and the device's answer.
  void Paste(Node& n, std::function<void(Status)> done);

  // ---- Verbs ----
  void Save(const std::string& lab, const std::string& node, Reply reply);
  // Saves every node of the lab whose kind can show its config and that is ready; replies with
  // {"lab","saved":[…],"failed":[{"node","error"}],"skipped":[{"node","reason"}]}.
  void SaveLab(const std::string& lab, Reply reply);
  // A saved config: {"lab","node","version","path","bytes","sha256","text","versions":[…]}.
  void Get(const std::string& lab, const std::string& node, const std::string& version,
           Reply reply);

  // A graceful stop or a destroy of `n` is about to begin: when its save_on_stop is set and it is
  // ready with a kind that shows its config, saves the running config first. `then` runs after,
  // whatever the save's outcome (node.config.saved, or node.config.save_failed with the error:
  // the stop goes on either way), at once when there is nothing to save.
  void SaveBeforeStop(Node& n, std::function<void()> then);

  // Ends the script running on the node, if any, with `why` (the node stops or goes away).
  void Cancel(const std::string& key, const std::string& why);

 private:
  struct Script;
  using ScriptDone = std::function<void(Status, std::vector<std::string>)>;
  using SaveDone = std::function<void(Result<providers::SavedConfig>)>;

  Result<std::shared_ptr<const CliPatterns>> Patterns(const providers::DeviceKind& kind);
  void EmitConfig(Node& n);
  // Types `text` (Paste, once it is read); `finish` gets the script's outcome.
  Status PasteText(Node& n, const std::string& text, std::function<void(Status)> finish);
  // Starts `commands` on n's console. FailedPrecondition (naming the node) when the kind has no
  // console scripts, the console is not attached, a script runs, or a person holds the lease.
  Status RunScript(Node& n, std::vector<CliCommand> commands,
                   std::function<void(int, int)> progress, ScriptDone done);
  Script* FindScript(const std::string& key);
  // What a node's session does: type through the hub as its script viewer, time out on a
  // reactor timer, end from a clean stack (EndScript).
  CliSessionCallbacks SessionCallbacks(const std::string& key,
                                       std::function<void(int, int)> progress);
  void EndScript(const std::string& key);
  // Reads n's running config and stores it as a new version.
  Status SaveNode(Node& n, SaveDone done);
  void SaveNext(std::shared_ptr<struct LabSave> job);

  MetadataWriter& writer_;
  std::map<std::string, std::unique_ptr<Script>> scripts_;              // by node key
  std::map<std::string, std::shared_ptr<const CliPatterns>> patterns_;  // by kind name
};

// {"node","version","path","bytes","sha256"} of a saved config.
std::string SavedConfigJson(const std::string& node, const providers::SavedConfig& saved);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_NODE_CONFIG_H_
