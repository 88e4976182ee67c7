// The kubernetes backend: the plan's pods through the API server (kube_client.h), the
// manifests `sluice render --backend=kubernetes` prints (render.h, flavour kKubernetes).
//
// - Start: the Secret, then every pod (POST, as JSON), one after the other without waiting:
//   the source's relay learns the destination's address on its report channel
//   (PlanOptions::peers_on_channel), so the pods are scheduled and pulled side by side.
//   AwaitStarted waits for them all. A pod has started once a container of it runs; one whose
//   status says it never will (PodScheduled False, a container waiting on ErrImagePull,
//   ImagePullBackOff, InvalidImageName, CreateContainerConfigError or CreateContainerError) fails
//   the start at once, naming the pod, the reason and the newest Warning event. 409 AlreadyExists:
//   a sync of that name runs; nothing is taken over.
// - Endpoints: a relay's pod IP and the port it reported listening on, on its channel.
// - Watch: a thread lists the sync's pods (label sluice.dev/sync-id) and watches from the list's
//   resourceVersion with bookmarks; when a stream ends it watches again from the last version
//   seen, and after 410 Gone it lists again. Exit codes come from the containerStatuses (and
//   initContainerStatuses: a relay as a native sidecar, which the kubelet stops after the
//   connector, runs with --hold-until-stopped and exits with its own result, 0 when its stream
//   was whole: being stopped is no failure).
// - Stop: Kubernetes stops pods, not containers: stopping a container deletes its pod with the
//   grace period, and the watch reads the exit codes the kubelet writes before it goes.
// - Delete: every container's log is saved into WORKDIR/logs/POD/CONTAINER.log, then the pods
//   and the Secret are deleted, and Delete waits until the pods are gone.
// - In a cluster, every object carries an ownerReference to the orchestrator's own pod
//   ($POD_NAME, else the host name): if the orchestrator dies, the cluster removes them.
//
// Not thread-safe (one thread drives it); its watch thread is its own.

#ifndef SLUICE_ORCHESTRATOR_KUBERNETES_BACKEND_H_
#define SLUICE_ORCHESTRATOR_KUBERNETES_BACKEND_H_

#include <absl/base/thread_annotations.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "orchestrator/backend.h"
#include "orchestrator/kube_client.h"
#include "orchestrator/kube_objects.h"
#include "orchestrator/render.h"

namespace sluice::orchestrator {

class KubernetesBackend final : public Backend {
 public:
  // Resolves the API server (options.kube) and, in a cluster, the orchestrator's own pod.
  static absl::StatusOr<std::unique_ptr<KubernetesBackend>> Create(const BackendOptions& options);
  ~KubernetesBackend() override;

  std::string_view name() const override { return "kubernetes"; }
  PlanOptions plan_options() const override {  // pod IPs, port 9000
    return RenderPlanOptions(RenderFlavor::kKubernetes);
  }
  absl::StatusOr<std::string> OrchestratorHost() const override;
  absl::Status CreateSecret(const SyncPlan& plan) override;
  absl::Status StartPod(const SyncPlan& plan, const PodPlan& pod,
                        const std::map<Endpoint, std::string>& endpoints,
                        absl::Time deadline) override;
  absl::Status AwaitStarted(absl::Time deadline) override;
  absl::StatusOr<std::string> Resolve(const Endpoint& endpoint, absl::Time deadline) override;
  std::vector<Exited> WaitAny(absl::Time deadline) override;
  size_t running() const override;
  bool IsRunning(const std::string& pod, const std::string& container) const override;
  void Stop(const std::string& pod, const std::string& container, absl::Duration grace) override;
  void StopAll(absl::Duration grace) override;
  std::string Logs(const std::string& pod, const std::string& container, size_t lines) override;
  absl::Status Delete() override;

 private:
  struct Container {
    std::string pod, name;
    bool is_main = false;
  };
  KubernetesBackend(BackendOptions options, KubeConfig config, std::unique_ptr<KubeClient> client,
                    std::unique_ptr<KubeClient> watch_client);

  std::string Collection(std::string_view resource) const;  // /api/v1/namespaces/NS/RESOURCE
  std::string Object(std::string_view resource, const std::string& name) const;  // .../NAME
  // A container's log, with `query` (tailLines=N, limitBytes=N).
  std::string LogPath(const std::string& pod, const std::string& container,
                      const std::string& query) const;
  // DELETE, with gracePeriodSeconds unless it is negative; already gone (404) is OK.
  absl::Status DeleteObject(std::string_view resource, const std::string& name,
                            int64_t grace_seconds);
  bool PodRuns(const std::string& pod) const;  // a container of it has not been seen exiting
  // A manifest from render.h as the JSON body to POST, with the owner reference.
  absl::StatusOr<std::string> Body(const std::string& yaml) const;
  absl::Status Create(std::string_view resource, const std::string& name, const std::string& yaml,
                      absl::Time deadline);
  std::string NewestWarning(const std::string& pod);
  void SaveLogs();

  // The watch thread: list, then watch, until stop_.
  void WatchPods();
  void Apply(const KubePod& pod, bool deleted) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const BackendOptions options_;
  const KubeConfig config_;
  const std::string namespace_;
  const std::unique_ptr<KubeClient> client_;        // the driving thread's
  const std::unique_ptr<KubeClient> watch_client_;  // the watch thread's
  std::string owner_references_;                    // JSON, "" outside a cluster
  std::string sync_id_;
  std::string selector_;           // sluice.dev/sync-id=ID, URL-encoded
  std::string secret_;             // created, deleted by Delete
  std::vector<std::string> pods_;  // created, in order
  std::vector<std::string> starting_;  // created, not yet seen started (AwaitStarted)
  PortOwners port_owners_;         // of the pods created
  std::vector<Container> all_;     // every container of pods_, for logs
  std::thread watcher_;
  std::atomic<bool> stop_{false};

  mutable base::Mutex mu_;
  std::map<std::string, KubePod> seen_ ABSL_GUARDED_BY(mu_);  // the newest status of each pod
  std::set<std::string> created_ ABSL_GUARDED_BY(mu_);        // pods_, for the watch thread
  std::set<std::string> gone_ ABSL_GUARDED_BY(mu_);           // seen DELETED
  std::vector<Container> running_ ABSL_GUARDED_BY(mu_);
  std::vector<Exited> unreported_ ABSL_GUARDED_BY(mu_);
};

// `json` (an object whose first key path is metadata) with metadata.ownerReferences set to
// `references` (a JSON array); `json` itself when `references` is "".
std::string WithOwnerReferences(const std::string& json, const std::string& references);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_KUBERNETES_BACKEND_H_
