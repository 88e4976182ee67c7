#include "orchestrator/yaml_json.h"

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>
#include <yaml-cpp/yaml.h>

#include <regex>
#include <string>

#include "protocol/report.h"

namespace sluice::orchestrator {
namespace {

// YAML 1.2's core schema, for plain scalars.
bool IsJsonNumber(const std::string& s) {
  static const std::regex number(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?)");
  return std::regex_match(s, number);
}

absl::Status Append(const YAML::Node& node, std::string* out) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      out->append("null");
      return absl::OkStatus();
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "?") {  // plain, not quoted
        if (s == "true" || s == "false" || IsJsonNumber(s)) {
          out->append(s);
          return absl::OkStatus();
        }
        if (s == "null" || s == "~" || s.empty()) {
          out->append("null");
          return absl::OkStatus();
        }
      }
      out->append(protocol::JsonString(s));
      return absl::OkStatus();
    }
    case YAML::NodeType::Sequence: {
      out->push_back('[');
      bool first = true;
      for (const YAML::Node& item : node) {
        if (!first) out->push_back(',');
        first = false;
        if (auto s = Append(item, out); !s.ok()) return s;
      }
      out->push_back(']');
      return absl::OkStatus();
    }
    case YAML::NodeType::Map: {
      out->push_back('{');
      bool first = true;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return absl::InvalidArgumentError(absl::StrCat("line ", kv.first.Mark().line + 1,
                                                         ": a mapping key that is not a scalar"));
        }
        if (!first) out->push_back(',');
        first = false;
        out->append(protocol::JsonString(kv.first.Scalar()));
        out->push_back(':');
        if (auto s = Append(kv.second, out); !s.ok()) return s;
      }
      out->push_back('}');
      return absl::OkStatus();
    }
    case YAML::NodeType::Undefined:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("line ", node.Mark().line + 1, ": an undefined node"));
}

}  // namespace

absl::StatusOr<std::string> YamlToJson(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not YAML: ", e.what()));
  }
  std::string json;
  if (auto s = Append(root, &json); !s.ok()) return s;
  return json;
}

}  // namespace sluice::orchestrator
