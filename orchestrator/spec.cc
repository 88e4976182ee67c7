#include "orchestrator/spec.h"

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

namespace sluice::orchestrator {
namespace {

// Errors say where: "sync.yaml:7: source.command: ...".
class Reader {
 public:
  explicit Reader(const std::string& origin) : origin_(origin) {}

  absl::Status Error(const YAML::Node& at, const std::string& key, const std::string& what) const {
    const int line = at.IsDefined() ? at.Mark().line + 1 : 0;
    return absl::InvalidArgumentError(
        absl::StrCat(origin_, line > 0 ? absl::StrCat(":", line) : "", ": ", key, ": ", what));
  }

  // Keys other than `allowed` are mistakes (a typo must not silently drop a setting).
  absl::Status OnlyKeys(const YAML::Node& map, const std::string& where,
                        const std::set<std::string>& allowed) const {
    for (const auto& kv : map) {
      const std::string key = kv.first.as<std::string>();
      if (allowed.count(key) == 0) {
        std::string list;
        for (const auto& a : allowed) absl::StrAppend(&list, list.empty() ? "" : ", ", a);
        return Error(kv.first, where.empty() ? key : absl::StrCat(where, ".", key),
                     absl::StrCat("unknown key; expected one of: ", list));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> String(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) return Error(node, key, "must be a string");
    return node.as<std::string>();
  }

  absl::StatusOr<absl::Duration> Duration(const YAML::Node& node, const std::string& key) const {
    auto text = String(node, key);
    if (!text.ok()) return text.status();
    absl::Duration d;
    if (!absl::ParseDuration(*text, &d) || d <= absl::ZeroDuration()) {
      return Error(node, key,
                   absl::StrCat("'", *text, "' must be a positive duration such as 90s, 90m or 6h"));
    }
    return d;
  }

  absl::StatusOr<ConnectorSpec> Connector(const YAML::Node& node, const std::string& key) const {
    if (!node.IsDefined()) return Error(node, key, "is missing: give its command");
    if (!node.IsMap()) return Error(node, key, "must be a map with a command");
    if (auto s = OnlyKeys(node, key, {"command", "env"}); !s.ok()) return s;
    ConnectorSpec c;
    const YAML::Node command = node["command"];
    const std::string command_key = absl::StrCat(key, ".command");
    if (!command.IsDefined() || !command.IsSequence() || command.size() == 0) {
      return Error(command.IsDefined() ? command : node, command_key,
                   "must be a non-empty list of strings, e.g. [my-source, read, --config, "
                   "config.json]");
    }
    for (const auto& arg : command) {
      if (!arg.IsScalar()) return Error(arg, command_key, "every item must be a string");
      c.command.push_back(arg.as<std::string>());
    }
    if (const YAML::Node env = node["env"]; env.IsDefined()) {
      const std::string env_key = absl::StrCat(key, ".env");
      if (!env.IsMap()) return Error(env, env_key, "must be a map of NAME: value");
      for (const auto& kv : env) {
        const std::string name = kv.first.as<std::string>();
        if (name.empty() || name.find('=') != std::string::npos) {
          return Error(kv.first, env_key, absl::StrCat("'", name, "' is not a variable name"));
        }
        if (!kv.second.IsScalar()) return Error(kv.second, env_key, "values must be strings");
        c.env.emplace_back(name, kv.second.as<std::string>());
      }
    }
    return c;
  }

 private:
  std::string origin_;
};

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 40 || name.front() == '-' || name.back() == '-') return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<SyncSpec> ParseSyncSpec(std::string_view yaml, std::string_view origin_view) {
  const std::string origin(origin_view);
  const Reader r(origin);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": must be a map with name, source and destination"));
  }
  try {
    if (auto s = r.OnlyKeys(root, "",
                            {"name", "source", "destination", "relay", "state_file", "timeout"});
        !s.ok()) {
      return s;
    }
    SyncSpec spec;
    const YAML::Node name = root["name"];
    if (!name.IsDefined()) return r.Error(root, "name", "is missing");
    auto name_text = r.String(name, "name");
    if (!name_text.ok()) return name_text.status();
    if (!ValidName(*name_text)) {
      return r.Error(name, "name",
                     absl::StrCat("'", *name_text,
                                  "' must be 1-40 characters of a-z, 0-9 and '-', not at either "
                                  "end (it names pods)"));
    }
    spec.name = *name_text;
    auto source = r.Connector(root["source"], "source");
    if (!source.ok()) return source.status();
    spec.source = std::move(*source);
    auto destination = r.Connector(root["destination"], "destination");
    if (!destination.ok()) return destination.status();
    spec.destination = std::move(*destination);
    if (const YAML::Node relay = root["relay"]; relay.IsDefined()) {
      if (!relay.IsMap()) return r.Error(relay, "relay", "must be a map");
      if (auto s = r.OnlyKeys(relay, "relay", {"engine", "inspect", "stall_timeout"}); !s.ok())
        return s;
      if (const YAML::Node engine = relay["engine"]; engine.IsDefined()) {
        auto e = r.String(engine, "relay.engine");
        if (!e.ok()) return e.status();
        if (*e != "auto" && *e != "uring" && *e != "splice" && *e != "copy") {
          return r.Error(engine, "relay.engine",
                         absl::StrCat("'", *e, "' must be auto, uring, splice or copy"));
        }
        spec.engine = *e;
      }
      if (const YAML::Node inspect = relay["inspect"]; inspect.IsDefined()) {
        bool value;
        if (!inspect.IsScalar() || !YAML::convert<bool>::decode(inspect, value)) {
          return r.Error(inspect, "relay.inspect", "must be true or false");
        }
        spec.inspect = value;
      }
      if (const YAML::Node stall = relay["stall_timeout"]; stall.IsDefined()) {
        auto d = r.Duration(stall, "relay.stall_timeout");
        if (!d.ok()) return d.status();
        spec.stall_timeout = *d;
      }
    }
    if (const YAML::Node state = root["state_file"]; state.IsDefined()) {
      auto path = r.String(state, "state_file");
      if (!path.ok()) return path.status();
      spec.state_file = *path;
    }
    if (const YAML::Node timeout = root["timeout"]; timeout.IsDefined()) {
      auto d = r.Duration(timeout, "timeout");
      if (!d.ok()) return d.status();
      spec.timeout = *d;
    }
    return spec;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ":", e.mark.line + 1, ": ", e.msg));
  }
}

absl::StatusOr<SyncSpec> LoadSyncSpec(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the sync spec ", path, ": check the path"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseSyncSpec(text.str(), path);
}

}  // namespace sluice::orchestrator
