// A sync plan as manifests: YAML documents (a Secret, then the Pods in start order) that
// `kubectl apply` or `podman kube play` take. Pure: the same plan gives the same text.
//
// Every Pod meets the Kubernetes "restricted" Pod Security Standard: runAsNonRoot (uid and gid
// 65532, fsGroup 65532), seccompProfile RuntimeDefault, and in every container
// allowPrivilegeEscalation false, readOnlyRootFilesystem true and capabilities drop ALL. No
// secret value is in a Pod: the Secret volume (defaultMode 0400) holds them.
//
// Two flavours:
//   kKubernetes  the Secret and the Pods; relays as native sidecars when the spec asks for them
//                (initContainers with restartPolicy Always, run with --hold-until-stopped: the
//                kubelet restarts a native sidecar that exits before the connector).
//   kPodman      hostNetwork Pods; relays always as ordinary containers (podman ignores
//                restartPolicy on init containers); no Secret object: podman 4.3's `kube play`
//                crashes on secret volumes, so they are hostPath volumes of a private directory
//                the backend fills, ${workdir}/secrets/POD/VOLUME.
//
//   std::string yaml = RenderManifests(plan, RenderFlavor::kKubernetes, {});
//
// Placeholders the bindings do not resolve stay as they are: ${endpoint:POD/PORT}, ${workdir}.

#ifndef SLUICE_ORCHESTRATOR_RENDER_H_
#define SLUICE_ORCHESTRATOR_RENDER_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "orchestrator/plan.h"

namespace sluice::orchestrator {

enum class RenderFlavor { kKubernetes, kPodman };

// Parses "kubernetes" or "podman".
std::optional<RenderFlavor> ParseRenderFlavor(std::string_view name);

struct RenderBindings {
  std::map<Endpoint, std::string> endpoints;  // resolved addresses, "host:port"
  std::string workdir;                        // kPodman: the backend's work directory
};

// The plan options of the backend that plays `flavor`'s manifests: its plan_options(), and
// what `sluice render` plans with, so that it prints what that backend runs.
PlanOptions RenderPlanOptions(RenderFlavor flavor);

// All the manifests: the Secret (kKubernetes), then every pod.
std::string RenderManifests(const SyncPlan& plan, RenderFlavor flavor,
                            const RenderBindings& bindings);

// One pod's manifest, as a backend creates it.
std::string RenderPod(const SyncPlan& plan, const PodPlan& pod, RenderFlavor flavor,
                      const RenderBindings& bindings);

// The Secret's manifest (values base64, as `data`).
std::string RenderSecret(const SecretPlan& secret);

// kPodman: where a secret volume's files go, under the work directory.
std::string SecretDirectory(const std::string& workdir, const std::string& pod,
                            const std::string& volume);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_RENDER_H_
