#include "orchestrator/kube_objects.h"

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>
#include <simdjson.h>

#include <array>

namespace sluice::orchestrator {
namespace {

namespace dom = simdjson::dom;

std::string Str(dom::element e, std::string_view key) {
  std::string_view v;
  return e[key].get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
}

void AddContainers(dom::element status, std::string_view key, bool init, KubePod* pod) {
  dom::array list;
  if (status[key].get(list) != simdjson::SUCCESS) return;
  for (dom::element c : list) {
    KubeContainer k;
    k.name = Str(c, "name");
    k.init = init;
    dom::element state;
    if (c["state"].get(state) == simdjson::SUCCESS) {
      dom::element s;
      if (state["terminated"].get(s) == simdjson::SUCCESS) {
        k.state = KubeContainer::State::kTerminated;
        int64_t code = 0;
        if (s["exitCode"].get(code) != simdjson::SUCCESS) code = 0;
        k.exit_code = static_cast<int>(code);
        k.reason = Str(s, "reason");
        k.message = Str(s, "message");
      } else if (state["running"].get(s) == simdjson::SUCCESS) {
        k.state = KubeContainer::State::kRunning;
      } else if (state["waiting"].get(s) == simdjson::SUCCESS) {
        k.state = KubeContainer::State::kWaiting;
        k.reason = Str(s, "reason");
        k.message = Str(s, "message");
      }
    }
    pod->containers.push_back(std::move(k));
  }
}

absl::StatusOr<KubePod> PodFrom(dom::element object) {
  KubePod pod;
  dom::element meta, status;
  if (object["metadata"].get(meta) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("a Pod without metadata");
  }
  pod.name = Str(meta, "name");
  pod.uid = Str(meta, "uid");
  pod.resource_version = Str(meta, "resourceVersion");
  pod.deleting = !Str(meta, "deletionTimestamp").empty();
  if (object["status"].get(status) != simdjson::SUCCESS) return pod;  // not yet seen by anyone
  pod.phase = Str(status, "phase");
  pod.pod_ip = Str(status, "podIP");
  dom::array conditions;
  if (status["conditions"].get(conditions) == simdjson::SUCCESS) {
    for (dom::element c : conditions) {
      if (Str(c, "type") == "PodScheduled" && Str(c, "status") == "False") {
        pod.unscheduled = absl::StrCat(Str(c, "reason"), ": ", Str(c, "message"));
      }
    }
  }
  AddContainers(status, "initContainerStatuses", true, &pod);
  AddContainers(status, "containerStatuses", false, &pod);
  return pod;
}

absl::StatusOr<dom::element> Parse(dom::parser& parser, std::string_view json, const char* what) {
  dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the API server sent a ", what, " that is not JSON: ", std::string(json.substr(0, 200))));
  }
  return root;
}

}  // namespace

const KubeContainer* KubePod::Find(std::string_view container) const {
  for (const KubeContainer& c : containers) {
    if (c.name == container) return &c;
  }
  return nullptr;
}

absl::StatusOr<KubePod> ParsePod(std::string_view json) {
  dom::parser parser;
  auto root = Parse(parser, json, "Pod");
  if (!root.ok()) return root.status();
  return PodFrom(*root);
}

absl::StatusOr<KubePodList> ParsePodList(std::string_view json) {
  dom::parser parser;
  auto root = Parse(parser, json, "PodList");
  if (!root.ok()) return root.status();
  KubePodList list;
  dom::element meta;
  if ((*root)["metadata"].get(meta) == simdjson::SUCCESS) {
    list.resource_version = Str(meta, "resourceVersion");
  }
  dom::array items;
  if ((*root)["items"].get(items) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("a PodList without items");
  }
  for (dom::element item : items) {
    auto pod = PodFrom(item);
    if (!pod.ok()) return pod.status();
    list.items.push_back(std::move(*pod));
  }
  return list;
}

absl::StatusOr<KubeWatchEvent> ParseWatchEvent(std::string_view json) {
  dom::parser parser;
  auto root = Parse(parser, json, "watch event");
  if (!root.ok()) return root.status();
  KubeWatchEvent event;
  event.type = Str(*root, "type");
  dom::element object;
  if ((*root)["object"].get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("a watch event without an object");
  }
  if (event.type == "ERROR") {  // the object is a Status
    int64_t code = 0;
    if (object["code"].get(code) != simdjson::SUCCESS) code = 0;
    event.error_code = static_cast<int>(code);
    event.error_message = absl::StrCat(Str(object, "reason"), ": ", Str(object, "message"));
    return event;
  }
  dom::element meta;
  if (object["metadata"].get(meta) == simdjson::SUCCESS) {
    event.resource_version = Str(meta, "resourceVersion");
  }
  if (event.type == "BOOKMARK") return event;
  if (event.type != "ADDED" && event.type != "MODIFIED" && event.type != "DELETED") {
    return absl::InvalidArgumentError(absl::StrCat("a watch event of type '", event.type, "'"));
  }
  auto pod = PodFrom(object);
  if (!pod.ok()) return pod.status();
  event.pod = std::move(*pod);
  return event;
}

std::string KubeStatusMessage(std::string_view body) {
  dom::parser parser;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS &&
      Str(root, "kind") == "Status") {
    return absl::StrCat(Str(root, "reason"), ": ", Str(root, "message"));
  }
  return std::string(body.substr(0, 300));
}

std::string NewestWarningEvent(std::string_view event_list) {
  dom::parser parser;
  dom::element root;
  dom::array items;
  if (parser.parse(event_list.data(), event_list.size()).get(root) != simdjson::SUCCESS ||
      root["items"].get(items) != simdjson::SUCCESS) {
    return "";
  }
  std::string newest, newest_time;
  for (dom::element e : items) {
    if (Str(e, "type") != "Warning") continue;
    // lastTimestamp (RFC 3339, UTC) orders them; the list's order where it is missing.
    const std::string time = Str(e, "lastTimestamp");
    if (time >= newest_time) {
      newest_time = time;
      newest = absl::StrCat(Str(e, "reason"), ": ", Str(e, "message"));
    }
  }
  return newest;
}

std::string NeverStarts(const KubePod& pod) {
  if (pod.unscheduled) return absl::StrCat("FailedScheduling (", *pod.unscheduled, ")");
  static constexpr std::array<std::string_view, 5> kHopeless = {
      "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
      "CreateContainerError"};
  for (const KubeContainer& c : pod.containers) {
    if (c.state != KubeContainer::State::kWaiting) continue;
    for (const std::string_view reason : kHopeless) {
      if (c.reason == reason) {
        return absl::StrCat("container ", c.name, ": ", c.reason,
                            c.message.empty() ? "" : absl::StrCat(" (", c.message, ")"));
      }
    }
  }
  return "";
}

}  // namespace sluice::orchestrator
