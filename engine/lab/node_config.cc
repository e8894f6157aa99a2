#include "engine/lab/node_config.h"

#include <ctime>
#include <deque>

#include "providers/config_medium.h"
#include "providers/node_naming.h"
#include "providers/state_paths.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {

struct NodeConfig::Script {
  ViewerId viewer = 0;
  std::unique_ptr<CliSession> session;
  ScriptDone done;
  Status result;
  std::vector<std::string> captured;
  reactor::OpHandle timer;  // last: dies first
};

// One lab.config.save: nodes waiting, saves in flight, and what each ended with.
struct LabSave {
  std::string lab;
  Reply reply;
  std::deque<std::string> waiting;  // node names
  size_t running = 0;
  std::vector<std::string> saved;                            // SavedConfigJson objects
  std::vector<std::pair<std::string, std::string>> failed;   // node, error
  std::vector<std::pair<std::string, std::string>> skipped;  // node, reason
};

namespace {

Status NodeError(const Node& n, const std::string& what) {
  return FailedPrecondition("node " + n.name + ": " + what).WithField("node");
}

}  // namespace

std::string SavedConfigJson(const std::string& node, const providers::SavedConfig& saved) {
  JsonWriter w;
  w.BeginObject().Key("node").String(node).Key("version").String(saved.version);
  w.Key("path").String(saved.path).Key("bytes").Int(saved.bytes);
  w.Key("sha256").String(saved.sha256).EndObject();
  return w.Take();
}

NodeConfig::NodeConfig(const EngineSeams& seams, LabStore& store, MetadataWriter& writer)
    : EnginePart(seams, store), writer_(writer) {}

NodeConfig::~NodeConfig() = default;

bool NodeConfig::NeedsPaste(const Node& n) {
  return n.kind->day0.method == "console" && n.config_bytes > 0 && !n.metadata.config_applied;
}

Result<std::shared_ptr<const CliPatterns>> NodeConfig::Patterns(const providers::DeviceKind& k) {
  if (auto it = patterns_.find(k.name); it != patterns_.end()) return it->second;
  auto compiled = CliPatterns::Compile(k.cli);
  if (!compiled.ok()) return compiled.status();
  patterns_[k.name] = *compiled;
  return *compiled;
}

NodeConfig::Script* NodeConfig::FindScript(const std::string& key) {
  auto it = scripts_.find(key);
  return it == scripts_.end() ? nullptr : it->second.get();
}

Status NodeConfig::RunScript(Node& n, std::vector<CliCommand> commands,
                             std::function<void(int, int)> progress, ScriptDone done) {
  if (n.kind->cli.prompt.empty()) {
    return NodeError(
        n, "kind " + n.kind->name + " has no console scripts (no cli in its catalog entry)");
  }
  auto patterns = Patterns(*n.kind);
  if (!patterns.ok()) return NodeError(n, patterns.status().message());
  if (scripts_.count(n.key)) return NodeError(n, "a console script is already running on it");
  if (!n.hub || !n.hub->attached()) {
    return NodeError(n, "its console is not attached (is it running?)");
  }
  const std::string key = n.key;
  auto viewer = n.hub->AttachScript({[this, key](std::string_view out) {
                                       if (Script* s = FindScript(key)) s->session->OnOutput(out);
                                     },
                                     [this, key, node = n.name](const std::string& reason) {
                                       if (Script* s = FindScript(key)) {
                                         s->session->Abort(
                                             FailedPrecondition("node " + node + ": " + reason));
                                       }
                                     }});
  if (!viewer.ok()) {
    return NodeError(n, "a person holds the console's write lease (viewer " +
                            std::to_string(n.hub->lease_holder()) +
                            "); the script does not type over them: detach or attach read-only, "
                            "then try again");
  }
  auto script = std::make_unique<Script>();
  Script& s = *script;
  s.viewer = *viewer;
  s.done = std::move(done);
  s.session = std::make_unique<CliSession>(*patterns, n.kind->credentials, std::move(commands),
                                           n.name, SessionCallbacks(key, std::move(progress)));
  scripts_[key] = std::move(script);
  s.session->Start();
  return Status::Ok();
}

CliSessionCallbacks NodeConfig::SessionCallbacks(const std::string& key,
                                                 std::function<void(int, int)> progress) {
  CliSessionCallbacks cb;
  cb.type = [this, key](std::string bytes) {
    Script* s = FindScript(key);
    Node* n = FindNodeByKey(key);
    Status st = n && n->hub ? n->hub->Type(s->viewer, std::move(bytes))
                            : FailedPrecondition("the console went away");
    if (!st.ok()) {
      Defer([this, key, st] {
        if (Script* s = FindScript(key)) s->session->Abort(st);
      });
    }
  };
  cb.arm_timer = [this, key](std::chrono::seconds d) {
    if (Script* s = FindScript(key)) {
      s->timer = reactor_.After(d, life_.Bind([this, key] {
        if (Script* s = FindScript(key)) s->session->OnTimeout();
      }));
    }
  };
  cb.progress = std::move(progress);
  cb.done = [this, key](Status st, std::vector<std::string> lines) {
    Script* s = FindScript(key);
    s->result = std::move(st);
    s->captured = std::move(lines);
    s->timer.Cancel();
    // The session is inside its own call: it is destroyed from a clean stack.
    Defer([this, key] { EndScript(key); });
  };
  return cb;
}

void NodeConfig::EndScript(const std::string& key) {
  auto it = scripts_.find(key);
  if (it == scripts_.end()) return;
  std::unique_ptr<Script> s = std::move(it->second);
  scripts_.erase(it);
  Node* n = FindNodeByKey(key);
  if (n != nullptr && n->hub) n->hub->Detach(s->viewer, "console script finished");
  s->done(std::move(s->result), std::move(s->captured));
}

void NodeConfig::Cancel(const std::string& key, const std::string& why) {
  auto it = scripts_.find(key);
  if (it == scripts_.end()) return;
  it->second->session->Abort(FailedPrecondition(why));
}

void NodeConfig::EmitConfig(Node& n) {
  Emit("node.config", &n, StartupConfigJson(*n.kind, ConfigStatusOf(n)));
}

void NodeConfig::Paste(Node& n, std::function<void(Status)> done) {
  const std::string key = n.key;
  n.config_applying = true;
  n.config_lines = n.config_lines_done = 0;
  // The end of a paste, whichever way it ends: the node's config state, an event, `done`.
  auto finish = [this, key, done](Status st) {
    if (Node* n = FindNodeByKey(key)) {
      n->config_applying = false;
      n->config_error = st.ok() ? "" : st.message();
      if (st.ok()) {
        n->metadata.config_applied = true;
        writer_.PersistMetadata(*n);
      }
      EmitConfig(*n);
    }
    done(std::move(st));
  };
  std::string path = providers::Day0TextPath(options_.state_dir, n.lab, n.name);
  Status queued = OnWorker<Result<std::string>>(
      [path] { return providers::ReadDay0Text(path); },
      [this, key, finish](Result<std::string> text) {
        Node* n = FindNodeByKey(key);
        if (n == nullptr) return;
        Status st = text.ok() ? PasteText(*n, *text, finish) : text.status();
        if (!st.ok()) finish(std::move(st));
      });
  if (!queued.ok()) finish(std::move(queued));
}

Status NodeConfig::PasteText(Node& n, const std::string& text, std::function<void(Status)> finish) {
  std::vector<CliCommand> cmds = PasteScript(n.kind->cli, text);
  // Commands done -> config lines done, for the node's progress.
  auto lines_before = std::make_shared<std::vector<int>>(1, 0);
  for (const auto& c : cmds) lines_before->push_back(lines_before->back() + (c.config_line > 0));
  n.config_lines = lines_before->back();
  EmitConfig(n);
  const std::string key = n.key;
  auto progress = [this, key, lines_before](int done_cmds, int) {
    Node* n = FindNodeByKey(key);
    if (n == nullptr) return;
    int before = n->config_lines_done;
    n->config_lines_done = (*lines_before)[static_cast<size_t>(done_cmds)];
    // A progress event per tenth of the config, not per line.
    if (n->config_lines > 0 &&
        n->config_lines_done * 10 / n->config_lines != before * 10 / n->config_lines) {
      EmitConfig(*n);
    }
  };
  return RunScript(n, std::move(cmds), progress,
                   [finish](Status st, std::vector<std::string>) { finish(std::move(st)); });
}

Status NodeConfig::SaveNode(Node& n, SaveDone done) {
  if (n.kind->cli.show_config.empty()) {
    return NodeError(n, "kind " + n.kind->name + " cannot show its config over the console");
  }
  if (n.state != NodeState::kReady) {
    return NodeError(
        n, "it is " + std::string(NodeStateName(n.state)) + "; a config is read from a ready node");
  }
  const std::string key = n.key, lab = n.lab, node = n.name;
  return RunScript(
      n, ShowConfigScript(n.kind->cli), nullptr,
      [this, key, lab, node, done](Status st, std::vector<std::string> lines) {
        Node* n = FindNodeByKey(key);
        if (!st.ok() || n == nullptr)
          return done(st.ok() ? NotFound("node " + node + " is gone") : st);
        auto patterns = Patterns(*n->kind);
        std::string text = patterns.ok() ? ExtractConfig(**patterns, lines) : "";
        if (text.empty()) {
          return done(FailedPrecondition("node " + node + ": the answer to '" +
                                         n->kind->cli.show_config + "' held no config (" +
                                         std::to_string(lines.size()) + " lines)"));
        }
        Status queued = OnWorker<Result<providers::SavedConfig>>(
            [dir = options_.state_dir, lab, node, text] {
              return providers::StoreSavedConfig(dir, lab, node, text, std::time(nullptr));
            },
            [node, done](Result<providers::SavedConfig> saved) {
              if (!saved.ok()) {
                return done(saved.status().WithContext("node " + node + ": saving its config"));
              }
              done(std::move(saved));
            });
        if (!queued.ok()) done(queued);
      });
}

void NodeConfig::SaveBeforeStop(Node& n, std::function<void()> then) {
  if (!n.metadata.save_on_stop || n.state != NodeState::kReady || n.kind->cli.show_config.empty()) {
    return then();
  }
  const std::string lab = n.lab, node = n.name;
  Status st = SaveNode(n, [this, lab, node, then](Result<providers::SavedConfig> saved) {
    if (saved.ok()) {
      EmitFor("node.config.saved", lab, node, SavedConfigJson(node, *saved));
    } else {
      LogWarn("config not saved before stop",
              {{"lab", lab}, {"node", node}, {"error", saved.status().message()}});
      JsonWriter w;
      w.BeginObject().Key("node").String(node).Key("error").String(saved.status().message());
      EmitFor("node.config.save_failed", lab, node, w.EndObject().Take());
    }
    then();
  });
  if (!st.ok()) {
    LogWarn("config not saved before stop",
            {{"lab", lab}, {"node", node}, {"error", st.message()}});
    then();
  }
}

void NodeConfig::Save(const std::string& lab, const std::string& node, Reply reply) {
  Node* n = FindNode(lab, node);
  if (n == nullptr) return reply(NoNode(lab, node));
  Status st = SaveNode(*n, [this, lab, node, reply](Result<providers::SavedConfig> saved) {
    if (!saved.ok()) return reply(saved.status());
    std::string json = SavedConfigJson(node, *saved);
    EmitFor("node.config.saved", lab, node, json);
    reply(json);
  });
  if (!st.ok()) reply(st);
}

void NodeConfig::SaveLab(const std::string& lab, Reply reply) {
  auto it = labs_.find(lab);
  if (it == labs_.end()) return reply(NotFound("no lab named '" + lab + "'").WithField("lab"));
  auto job = std::make_shared<LabSave>();
  job->lab = lab;
  job->reply = std::move(reply);
  for (const auto& [name, n] : it->second->nodes) {
    if (n->kind->cli.show_config.empty()) {
      job->skipped.emplace_back(name, "kind " + n->kind->name + " cannot show its config");
    } else if (n->state != NodeState::kReady) {
      job->skipped.emplace_back(name, std::string(NodeStateName(n->state)));
    } else {
      job->waiting.push_back(name);
    }
  }
  SaveNext(job);
}

void NodeConfig::SaveNext(std::shared_ptr<LabSave> job) {
  while (job->running < kMaxParallelSaves && !job->waiting.empty()) {
    std::string node = job->waiting.front();
    job->waiting.pop_front();
    Node* n = FindNode(job->lab, node);
    if (n == nullptr) {
      job->skipped.emplace_back(node, "removed");
      continue;
    }
    ++job->running;
    Status st = SaveNode(*n, [this, job, node](Result<providers::SavedConfig> saved) {
      --job->running;
      if (saved.ok()) {
        job->saved.push_back(SavedConfigJson(node, *saved));
        EmitFor("node.config.saved", job->lab, node, job->saved.back());
      } else {
        job->failed.emplace_back(node, saved.status().message());
      }
      SaveNext(job);
    });
    if (!st.ok()) {
      --job->running;
      job->failed.emplace_back(node, st.message());
    }
  }
  if (job->running > 0 || !job->waiting.empty()) return;
  JsonWriter w;
  w.BeginObject().Key("lab").String(job->lab).Key("saved").BeginArray();
  for (const auto& s : job->saved) w.Raw(s);
  w.EndArray();
  for (const auto& [key, list] :
       {std::pair{"failed", &job->failed}, std::pair{"skipped", &job->skipped}}) {
    w.Key(key).BeginArray();
    for (const auto& [node, why] : *list) {
      w.BeginObject().Key("node").String(node).Key(key == std::string("failed") ? "error"
                                                                                : "reason");
      w.String(why).EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  Reply reply = std::move(job->reply);
  job->reply = nullptr;
  if (reply) reply(w.Take());
}

void NodeConfig::Get(const std::string& lab, const std::string& node, const std::string& version,
                     Reply reply) {
  // Saved configs outlive their lab (a re-deploy starts from them): the names are checked, not
  // looked up, before they reach a path.
  Status names = providers::ValidateName("lab", lab);
  if (names.ok()) names = providers::ValidateName("node", node);
  if (!names.ok()) return reply(InvalidArgument(names.message()));
  struct Loaded {
    Result<providers::SavedConfig> saved = Internal("not loaded");
    std::vector<std::string> versions;
  };
  Status st = OnWorker<Loaded>(
      [dir = options_.state_dir, lab, node, version] {
        return Loaded{providers::LoadSavedConfig(dir, lab, node, version),
                      providers::ListSavedVersions(dir, lab, node)};
      },
      [lab, node, reply](Loaded loaded) {
        if (!loaded.saved.ok()) {
          Status s = loaded.saved.status();
          return reply(s.WithField(s.code() == StatusCode::kNotFound ? "node" : "version"));
        }
        const providers::SavedConfig& c = *loaded.saved;
        JsonWriter w;
        w.BeginObject().Key("lab").String(lab).Key("node").String(node);
        w.Key("version").String(c.version).Key("path").String(c.path);
        w.Key("bytes").Int(c.bytes).Key("sha256").String(c.sha256).Key("text").String(c.text);
        w.Key("versions").BeginArray();
        for (const auto& v : loaded.versions) w.String(v);
        w.EndArray().EndObject();
        reply(w.Take());
      });
  if (!st.ok()) reply(Internal(st.message()).WithField("pool").WithSummary("busy"));
}

}  // namespace labvirt::engine
