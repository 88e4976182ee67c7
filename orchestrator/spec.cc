#include "orchestrator/spec.h"

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>
#include <yaml-cpp/yaml.h>

#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "protocol/report.h"

namespace sluice::orchestrator {
namespace {

// A YAML value as JSON. Plain scalars that read as null, booleans or numbers become those;
// quoted ones stay strings, as YAML means them.
std::string YamlToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      std::string out = "{";
      for (const auto& kv : n) {
        absl::StrAppend(&out, out.size() > 1 ? "," : "", protocol::JsonString(kv.first.Scalar()), ":",
                        YamlToJson(kv.second));
      }
      return out + "}";
    }
    case YAML::NodeType::Sequence: {
      std::string out = "[";
      for (const auto& item : n) absl::StrAppend(&out, out.size() > 1 ? "," : "", YamlToJson(item));
      return out + "]";
    }
    case YAML::NodeType::Scalar: {
      const std::string& v = n.Scalar();
      if (n.Tag() == "!") return protocol::JsonString(v);  // quoted
      if (v == "~" || v == "null" || v == "Null" || v == "NULL") return "null";
      if (v == "true" || v == "True" || v == "TRUE") return "true";
      if (v == "false" || v == "False" || v == "FALSE") return "false";
      static const std::regex kNumber(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?)");
      if (std::regex_match(v, kNumber)) return v;
      return protocol::JsonString(v);
    }
    default:
      return "null";
  }
}

// Errors say where: "sync.yaml:7: source.command: ...".
class Reader {
 public:
  explicit Reader(const std::string& origin)
      : origin_(origin), dir_(std::filesystem::path(origin).parent_path()) {}

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

  // `requests` and `limits`, each with `cpu` and `memory` quantities, over the defaults in `out`.
  absl::Status Resources(const YAML::Node& node, const std::string& where,
                         orchestrator::Resources* out) const {
    if (!node.IsMap()) return Error(node, where, "must be a map with requests and limits");
    if (auto s = OnlyKeys(node, where, {"requests", "limits"}); !s.ok()) return s;
    static const std::regex kQuantity(R"([0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?)");
    for (const char* group : {"requests", "limits"}) {
      const YAML::Node g = node[group];
      if (!g.IsDefined()) continue;
      const std::string at = absl::StrCat(where, ".", group);
      if (!g.IsMap()) return Error(g, at, "must be a map with cpu and memory");
      if (auto s = OnlyKeys(g, at, {"cpu", "memory"}); !s.ok()) return s;
      const bool requests = std::string_view(group) == "requests";
      for (const char* resource : {"cpu", "memory"}) {
        const YAML::Node q = g[resource];
        if (!q.IsDefined()) continue;
        const std::string key = absl::StrCat(at, ".", resource);
        auto text = String(q, key);
        if (!text.ok()) return text.status();
        if (!std::regex_match(*text, kQuantity)) {
          return Error(q, key,
                       absl::StrCat("'", *text,
                                    "' must be a Kubernetes quantity such as 500m, 2, 64Mi or 1Gi"));
        }
        const bool cpu = std::string_view(resource) == "cpu";
        (requests ? (cpu ? out->cpu_request : out->memory_request)
                  : (cpu ? out->cpu_limit : out->memory_limit)) = *text;
      }
    }
    return absl::OkStatus();
  }

  // A JSON object from `inline_key` (YAML, converted) or `file_key` (a JSON file), or nothing
  // when neither is given. Errors never quote the content: it may hold secrets.
  absl::StatusOr<std::optional<std::string>> JsonObject(const YAML::Node& parent,
                                                        const std::string& where,
                                                        const std::string& inline_key,
                                                        const std::string& file_key) const {
    const YAML::Node inline_node = parent[inline_key];
    const YAML::Node file_node = parent[file_key];
    const std::string inline_name = where.empty() ? inline_key : where + "." + inline_key;
    const std::string file_name = where.empty() ? file_key : where + "." + file_key;
    if (inline_node.IsDefined() && file_node.IsDefined()) {
      return Error(file_node, file_name, absl::StrCat("give ", inline_name, " or ", file_name, ", not both"));
    }
    if (inline_node.IsDefined()) {
      if (!inline_node.IsMap()) return Error(inline_node, inline_name, "must be a map");
      return std::optional<std::string>(YamlToJson(inline_node));
    }
    if (!file_node.IsDefined()) return std::optional<std::string>();
    auto name = String(file_node, file_name);
    if (!name.ok()) return name.status();
    const std::filesystem::path path =
        std::filesystem::path(*name).is_absolute() ? std::filesystem::path(*name) : dir_ / *name;
    std::ifstream in(path);
    if (!in) return Error(file_node, file_name, absl::StrCat("cannot read ", path.string()));
    std::stringstream text;
    text << in.rdbuf();
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(text.str()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
      return Error(file_node, file_name, absl::StrCat(path.string(), " is not a JSON object"));
    }
    return std::optional<std::string>(simdjson::minify(doc));
  }

  absl::StatusOr<ConnectorSpec> Connector(const YAML::Node& node, const std::string& key) const {
    if (!node.IsDefined()) return Error(node, key, "is missing: give its command");
    if (!node.IsMap()) return Error(node, key, "must be a map with a command");
    if (auto s = OnlyKeys(node, key, {"image", "command", "env", "config", "config_file"}); !s.ok())
      return s;
    ConnectorSpec c;
    if (const YAML::Node image = node["image"]; image.IsDefined()) {
      auto text = String(image, key + ".image");
      if (!text.ok()) return text.status();
      c.image = *text;
    }
    auto config = JsonObject(node, key, "config", "config_file");
    if (!config.ok()) return config.status();
    c.config_json = std::move(*config);
    const YAML::Node command = node["command"];
    const std::string command_key = absl::StrCat(key, ".command");
    if (!command.IsDefined() || !command.IsSequence() || command.size() == 0) {
      return Error(command.IsDefined() ? command : node, command_key,
                   c.config_json ? "must be a non-empty list of strings: the connector's "
                                   "executable, e.g. [source-postgres]"
                                 : "must be a non-empty list of strings, e.g. [my-source, read, "
                                   "--config, config.json]");
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
  std::filesystem::path dir_;
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
                            {"name", "source", "destination", "catalog", "catalog_file", "relay",
                             "state_file", "timeout", "heartbeat_timeout"});
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
    auto catalog = r.JsonObject(root, "", "catalog", "catalog_file");
    if (!catalog.ok()) return catalog.status();
    spec.catalog_json = std::move(*catalog);
    if ((spec.source.config_json || spec.destination.config_json) && !spec.catalog_json) {
      return r.Error(root["catalog"], "catalog",
                     "is missing: a connector with a config runs as Airbyte runs it (read/write "
                     "--catalog), so give the configured catalog (catalog: or catalog_file:)");
    }
    if (const YAML::Node relay = root["relay"]; relay.IsDefined()) {
      if (!relay.IsMap()) return r.Error(relay, "relay", "must be a map");
      if (auto s = r.OnlyKeys(relay, "relay",
                              {"engine", "inspect", "stall_timeout", "image", "resources",
                               "native_sidecars"});
          !s.ok()) {
        return s;
      }
      if (const YAML::Node image = relay["image"]; image.IsDefined()) {
        auto text = r.String(image, "relay.image");
        if (!text.ok()) return text.status();
        spec.relay_image = *text;
      }
      if (const YAML::Node resources = relay["resources"]; resources.IsDefined()) {
        if (auto s = r.Resources(resources, "relay.resources", &spec.relay_resources); !s.ok()) {
          return s;
        }
      }
      if (const YAML::Node native = relay["native_sidecars"]; native.IsDefined()) {
        bool value;
        if (!native.IsScalar() || !YAML::convert<bool>::decode(native, value)) {
          return r.Error(native, "relay.native_sidecars", "must be true or false");
        }
        spec.native_sidecars = value;
      }
      if (const YAML::Node engine = relay["engine"]; engine.IsDefined()) {
        auto e = r.String(engine, "relay.engine");
        if (!e.ok()) return e.status();
        const auto kind = dataplane::ParseEngineKind(*e);
        if (!kind || *kind == dataplane::EngineKind::kUringOps) {  // that one is for benchmarks
          return r.Error(engine, "relay.engine",
                         absl::StrCat("'", *e, "' must be ", std::string(dataplane::kEngineChoices)));
        }
        spec.engine = *kind;
      }
      if (const YAML::Node inspect = relay["inspect"]; inspect.IsDefined()) {
        bool value;
        if (inspect.IsScalar() && inspect.Scalar() == "both") {
          spec.inspect = Inspection::kBoth;
        } else if (inspect.IsScalar() && YAML::convert<bool>::decode(inspect, value)) {
          spec.inspect = value ? Inspection::kSource : Inspection::kOff;
        } else {
          return r.Error(inspect, "relay.inspect",
                         "must be true (the source's relay counts, the destination's checks "
                         "the checksum), both (both relays count) or false");
        }
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
    if (const YAML::Node heartbeat = root["heartbeat_timeout"]; heartbeat.IsDefined()) {
      auto d = r.Duration(heartbeat, "heartbeat_timeout");
      if (!d.ok()) return d.status();
      spec.heartbeat_timeout = *d;
    }
    return spec;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ":", e.mark.line + 1, ": ", e.msg));
  }
}

absl::StatusOr<ConnectorSpec> ParseConnectorSpec(std::string_view yaml, std::string_view origin_view) {
  const std::string origin(origin_view);
  const Reader r(origin);
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": must be a map with the connector's command and config"));
    }
    return r.Connector(root, "connector");
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ":", e.mark.line + 1, ": ", e.msg));
  }
}

absl::StatusOr<ConnectorSpec> LoadConnectorSpec(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read the connector spec ", path, ": check the path"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseConnectorSpec(text.str(), path);
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
