// The Kubernetes API's objects as the kubernetes backend reads them: a Pod's status, a PodList,
// a WatchEvent, a Status. Only the fields a sync needs, by the API reference's names (core/v1
// Pod, PodStatus, ContainerStatus; meta/v1 WatchEvent, ListMeta, Status). Pure.
//
//   absl::StatusOr<WatchEvent> e = ParseWatchEvent(line);     // one line of a watch
//   if (e->pod) { if (auto why = NeverStarts(*e->pod)) fail(*why); }

#ifndef SLUICE_ORCHESTRATOR_KUBE_OBJECTS_H_
#define SLUICE_ORCHESTRATOR_KUBE_OBJECTS_H_

#include <absl/status/statusor.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::orchestrator {

// containerStatuses[] and initContainerStatuses[]: the state it is in now.
struct KubeContainer {
  enum class State { kUnknown, kWaiting, kRunning, kTerminated };
  std::string name;
  bool init = false;
  State state = State::kUnknown;
  std::string reason, message;  // of waiting or terminated
  int exit_code = 0;            // terminated
};

struct KubePod {
  std::string name, uid, resource_version;
  std::string phase;  // Pending, Running, Succeeded, Failed, Unknown
  std::string pod_ip;
  bool deleting = false;  // metadata.deletionTimestamp is set
  // PodScheduled is False: "REASON: MESSAGE" (Unschedulable: 0/3 nodes are available: ...).
  std::optional<std::string> unscheduled;
  std::vector<KubeContainer> containers;
  const KubeContainer* Find(std::string_view container) const;
};

struct KubeWatchEvent {
  std::string type;              // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  std::optional<KubePod> pod;    // ADDED, MODIFIED, DELETED
  std::string resource_version;  // the object's (a BOOKMARK has only this)
  int error_code = 0;            // ERROR: the Status's code (410: list again)
  std::string error_message;
};

struct KubePodList {
  std::string resource_version;  // metadata.resourceVersion: where a watch starts
  std::vector<KubePod> items;
};

absl::StatusOr<KubePod> ParsePod(std::string_view json);
absl::StatusOr<KubePodList> ParsePodList(std::string_view json);
absl::StatusOr<KubeWatchEvent> ParseWatchEvent(std::string_view json);

// The message of a Status body ("reason: message"), or the body's start when it is not one.
std::string KubeStatusMessage(std::string_view body);

// The newest Warning of an EventList (core/v1 Event: reason, message), "REASON: MESSAGE"; ""
// when there is none.
std::string NewestWarningEvent(std::string_view event_list);

// Why `pod` will never start, when its status says so: not schedulable, or a container waiting
// for a reason no wait cures (ErrImagePull, ImagePullBackOff, InvalidImageName,
// CreateContainerConfigError, CreateContainerError). "" when it may still start.
std::string NeverStarts(const KubePod& pod);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_KUBE_OBJECTS_H_
