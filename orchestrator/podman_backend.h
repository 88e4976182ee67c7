// The podman backend: the plan's pods as real containers, through `podman kube play` of the
// manifests `sluice render --backend=podman` prints (render.h, flavour kPodman).
//
// - Start: `podman kube play` of every pod at once (StartPod returns while it runs,
//   AwaitStarted waits for them all): a relay that connects to another pod learns its address
//   on its report channel (PlanOptions::peers_on_channel), so no pod waits for another.
// - Network: pods share the host's network, relays listen on 127.0.0.1 on ports the kernel
//   picks and report them, so syncs at once never collide.
// - Secrets: podman 4.3 (Debian bookworm) crashes on secret volumes in `kube play`, so a secret
//   volume is a hostPath of a private directory (0500, files 0400, owned by the pods' uid
//   65532), WORKDIR/secrets/POD/VOLUME, removed by Delete().
// - Exits: read from `podman ps -a` (container POD-CONTAINER, its State and ExitCode) as soon
//   as `podman events` says one of the sync's containers died, and every 2 s in any case
//   (every 250 ms where `podman events` cannot run).
// - Logs: the connector's log lines (the relay-stderr sidecar) are followed live onto the
//   orchestrator's stderr; every container's log is saved into WORKDIR/logs/POD/CONTAINER.log
//   before its pod is removed: read from podman's k8s-file log files (cri_log.h), which one
//   `podman container inspect` finds, or through `podman logs` for another log driver.
// - Delete: `podman pod rm --force` of every pod it created, after their exits were read; the
//   destructor does the same for the paths that end early (a failure, SIGINT).
//
// The default seccomp profile stays on: in the containers io_uring is blocked, and the relay's
// epoll + splice engine runs (its summary says so).
//
// Not thread-safe.

#ifndef SLUICE_ORCHESTRATOR_PODMAN_BACKEND_H_
#define SLUICE_ORCHESTRATOR_PODMAN_BACKEND_H_

#include <future>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orchestrator/backend.h"
#include "orchestrator/command.h"
#include "orchestrator/processes.h"

namespace sluice::orchestrator {

class PodmanBackend final : public Backend {
 public:
  explicit PodmanBackend(BackendOptions options) : options_(std::move(options)) {}
  ~PodmanBackend() override;

  std::string_view name() const override { return "podman"; }
  PlanOptions plan_options() const override;
  absl::Status CreateSecret(const SyncPlan& plan) override;
  absl::Status StartPod(const SyncPlan& plan, const PodPlan& pod,
                        const std::map<Endpoint, std::string>& endpoints,
                        absl::Time deadline) override;
  absl::Status AwaitStarted(absl::Time deadline) override;
  absl::StatusOr<std::string> Resolve(const Endpoint& endpoint, absl::Time deadline) override;
  std::vector<Exited> WaitAny(absl::Time deadline) override;
  size_t running() const override { return running_.size(); }
  bool IsRunning(const std::string& pod, const std::string& container) const override;
  void Stop(const std::string& pod, const std::string& container, absl::Duration grace) override;
  void StopAll(absl::Duration grace) override;
  std::string Logs(const std::string& pod, const std::string& container, size_t lines) override;
  absl::Status Delete() override;

 private:
  struct Container {
    std::string pod;
    std::string name;
    bool is_main = false;
    std::string Qualified() const { return pod + "-" + name; }  // podman's container name
  };
  // Polls `podman ps -a` once: the containers that exited since the last poll move from
  // running_ to exited_, and their exits to unreported_, for the next WaitAny.
  void Poll();
  void Podman(std::vector<std::string> args);  // in the background; reaped by WaitAny
  // Starts `podman events` (died containers) into events_path_, in the background.
  void WatchEvents();
  // Whether a line `podman events` wrote since the last call names a container of the sync.
  bool ContainerDied();

  // A `podman kube play` under way, on a thread of its own.
  struct Play {
    PodPlan pod;
    std::string file;  // the manifest
    std::future<absl::StatusOr<CommandResult>> result;
  };
  void SaveLogs();

  const BackendOptions options_;
  std::vector<std::string> pods_;  // created, in order; removed by Delete
  std::vector<Play> plays_;        // started by StartPod, not yet awaited
  std::vector<std::string> secret_dirs_;
  std::vector<Container> running_;
  PortOwners port_owners_;
  std::vector<Container> exited_;
  std::vector<Exited> unreported_;  // seen by a Poll (also Resolve's), not yet by WaitAny
  ProcessGroup background_;         // podman stop, podman logs --follow and podman events
  std::string events_path_;         // what `podman events` writes; "" until it runs
  bool events_running_ = false;
  size_t events_read_ = 0;      // bytes of events_path_ read
  std::string events_pending_;  // an event line not yet whole
  absl::Time last_poll_ = absl::InfinitePast();
  int background_count_ = 0;
};

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_PODMAN_BACKEND_H_
