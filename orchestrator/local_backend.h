// The local backend: pods as processes on this machine, no container engine needed.
//
// A pod's volumes are directories under the work directory (WORKDIR/pods/ROLE/VOLUME), its
// secret volumes filled with their keys (0400) when it starts and removed by Delete(); its init
// containers run in order, then its containers start together as child processes (a
// ProcessGroup). Images, resources and security contexts are a container engine's business and
// are not applied. A relay's log is WORKDIR/logs/POD/CONTAINER.log; the connector's log lines
// (the relay-stderr sidecar) go to the orchestrator's stderr.
//
// Not thread-safe.

#ifndef SLUICE_ORCHESTRATOR_LOCAL_BACKEND_H_
#define SLUICE_ORCHESTRATOR_LOCAL_BACKEND_H_

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orchestrator/backend.h"
#include "orchestrator/processes.h"

namespace sluice::orchestrator {

class LocalBackend final : public Backend {
 public:
  explicit LocalBackend(BackendOptions options) : options_(std::move(options)) {}
  ~LocalBackend() override;

  std::string_view name() const override { return "local"; }
  PlanOptions plan_options() const override;
  absl::Status CreateSecret(const SyncPlan& plan) override;
  absl::Status StartPod(const SyncPlan& plan, const PodPlan& pod,
                        const std::map<Endpoint, std::string>& endpoints,
                        absl::Time deadline) override;
  absl::StatusOr<std::string> Resolve(const Endpoint& endpoint, absl::Time deadline) override;
  absl::Status AwaitListening(const Endpoint& endpoint, absl::Time deadline) override;
  std::vector<Exited> WaitAny(absl::Time deadline) override;
  size_t running() const override { return group_.running(); }
  bool IsRunning(const std::string& pod, const std::string& container) const override;
  void Stop(const std::string& pod, const std::string& container, absl::Duration grace) override;
  void StopAll(absl::Duration grace) override;
  std::string Logs(const std::string& pod, const std::string& container, size_t lines) override;
  absl::Status Delete() override;

 private:
  std::string LogPath(const std::string& pod, const std::string& container) const;
  // The port `endpoint`'s relay reported, waiting until it does, the container serving it exits
  // (or, before the pod is known, every container of its pod) or `deadline` passes.
  absl::StatusOr<int> AwaitReport(const Endpoint& endpoint, absl::Time deadline);

  const BackendOptions options_;
  ProcessGroup group_;
  std::vector<std::string> secret_dirs_;                    // filled by StartPod, removed by Delete
  std::vector<std::pair<std::string, std::string>> names_;  // pod, container of every started one
  PortOwners port_owners_;
  std::map<Endpoint, int> bound_ports_;  // the ports StartPod bound for the listening relays
  // SIGKILL deadlines of stopped containers: (pod, container) -> when.
  std::map<std::pair<std::string, std::string>, absl::Time> kill_at_;
};

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_LOCAL_BACKEND_H_
