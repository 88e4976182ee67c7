// One YAML document as JSON: how the manifests `sluice render` prints (render.h) become the
// bodies the Kubernetes API takes, so that one piece of code writes each manifest.
//
//   absl::StatusOr<std::string> json = YamlToJson(RenderPod(plan, pod, kKubernetes, bindings));
//
// Scalars keep their YAML types as a YAML 1.2 core schema reader sees them: a quoted scalar is a
// string; a plain one is an integer, a float, true/false or null when it reads as one, and a
// string otherwise. Mappings and sequences keep their order. Thread-safe (pure).

#ifndef SLUICE_ORCHESTRATOR_YAML_JSON_H_
#define SLUICE_ORCHESTRATOR_YAML_JSON_H_

#include <absl/status/statusor.h>

#include <string>
#include <string_view>

namespace sluice::orchestrator {

// The first document of `yaml` as compact JSON. InvalidArgument, with the line, when it is not
// YAML or has an alias or a non-scalar key.
absl::StatusOr<std::string> YamlToJson(std::string_view yaml);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_YAML_JSON_H_
