// Where pods run: one interface, a backend each for local processes, podman and the Kubernetes
// API server, chosen once per sync (the shape of dataplane/engine.h).
//
// A backend carries out a SyncPlan's pods; the sync (sync.h) does the rest: the order, the
// watching, the blame, the committed state and the report. A backend never restarts anything.
//
//   auto backend = MakeBackend(BackendKind::kPodman, {.workdir = dir, .ports = &progress});
//   (*backend)->CreateSecret(plan);
//   (*backend)->StartPod(plan, plan.pods[0], endpoints, deadline);   // each pod, in order
//   (*backend)->AwaitStarted(deadline);
//   auto address = (*backend)->Resolve({plan.pods[0].name, "relay"}, deadline);
//   ... (*backend)->WaitAny(deadline) until running() == 0 ...
//   (*backend)->Delete();
//
// Not thread-safe: one thread drives a backend.

#ifndef SLUICE_ORCHESTRATOR_BACKEND_H_
#define SLUICE_ORCHESTRATOR_BACKEND_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/kube_config.h"
#include "orchestrator/plan.h"

namespace sluice::orchestrator {

// A container that ended.
struct Exited {
  std::string pod;
  std::string container;
  bool is_main = false;
  int exit_code = 0;  // 128 + signal number when a signal ended it
};

// The container of each started pod that serves each of its ports, from the pods' plans. The
// wait for a relay's port ends when that container exits, not only when its whole pod has: a
// relay that died at start beside a connector still running would otherwise be waited for
// until the deadline.
class PortOwners {
 public:
  void Add(const PodPlan& pod);
  // The container that serves `endpoint`, or nullptr when no plan names one.
  const std::string* Find(const Endpoint& endpoint) const;

 private:
  std::map<Endpoint, std::string> owners_;
};

// Where the relays said they listen: on a host network a relay listens on a port the kernel
// picks and reports it on its channel to the orchestrator, under its pod's name.
class ListeningPorts {
 public:
  virtual ~ListeningPorts() = default;
  virtual std::optional<int> ListeningPort(const std::string& pod) const = 0;
  // The same, waiting for the report until `until` (it returns as soon as the report comes).
  virtual std::optional<int> AwaitListeningPort(const std::string& pod, absl::Time until) const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;
  // The plan options this backend's pods need (network, where volumes are).
  virtual PlanOptions plan_options() const = 0;
  // The address at which this backend's pods reach the orchestrator's own endpoints (its
  // control server and its relay). Asked before anything is created: a backend whose pods
  // cannot reach this machine fails here, saying what to give.
  virtual absl::StatusOr<std::string> OrchestratorHost() const { return std::string("127.0.0.1"); }

  // Makes the plan's Secret available to its pods. First, before any pod.
  virtual absl::Status CreateSecret(const SyncPlan& plan) = 0;

  // Creates `pod` with its endpoint placeholders replaced by `endpoints`, and starts it: it
  // returns once the init containers finished and the containers started, or fails (naming
  // the pod, the container and why) at `deadline`. A backend may instead return once the start
  // is under way, so that the next pod starts beside it; AwaitStarted then waits for both.
  virtual absl::Status StartPod(const SyncPlan& plan, const PodPlan& pod,
                                const std::map<Endpoint, std::string>& endpoints,
                                absl::Time deadline) = 0;
  // After StartPod of every pod: returns once every pod started, or fails as StartPod would
  // have. The same for a backend whose StartPod waits.
  virtual absl::Status AwaitStarted(absl::Time /*deadline*/) { return absl::OkStatus(); }

  // The address ("host:port") at which a started pod's port takes connections, once it does;
  // or at once, where the backend bound the port itself (PlanOptions::listen_fd).
  virtual absl::StatusOr<std::string> Resolve(const Endpoint& endpoint, absl::Time deadline) = 0;
  // Once every pod started: fails when a port Resolve() answered at once was never taken by its
  // relay (it exited first, or `deadline` passed), saying which.
  virtual absl::Status AwaitListening(const Endpoint& /*endpoint*/, absl::Time /*deadline*/) {
    return absl::OkStatus();
  }

  // The exits found by `deadline` (none when nothing ended by then).
  virtual std::vector<Exited> WaitAny(absl::Time deadline) = 0;
  // Containers started and not yet seen exiting.
  virtual size_t running() const = 0;
  virtual bool IsRunning(const std::string& pod, const std::string& container) const = 0;

  // Stops one container ("" for every container of the pod): SIGTERM, then SIGKILL once
  // `grace` passed. Returns at once; WaitAny reports the exits.
  virtual void Stop(const std::string& pod, const std::string& container, absl::Duration grace) = 0;
  // Stops every container of every pod the same way.
  virtual void StopAll(absl::Duration grace) = 0;

  // The last `lines` lines of a container's log (its stderr), for an error message.
  virtual std::string Logs(const std::string& pod, const std::string& container, size_t lines) = 0;

  // Removes the pods and the Secret. Call it once the exits were read; whatever still runs is
  // killed. The destructor does it too, for the paths that end early.
  virtual absl::Status Delete() = 0;
};

// For the backends that fill secret volumes themselves: writes the files of `volume` (a
// kSecret volume of `pod`) from the plan's Secret into `dir`, which exists, each 0400;
// `written` (may be empty) sees each file's path.
absl::Status WriteSecretVolume(const SecretPlan& secret, const PodPlan& pod,
                               const VolumePlan& volume, const std::string& dir,
                               const std::function<void(const std::string&)>& written = {});

// Waits until the relay of `endpoint.pod` reports its listening port on its channel, and returns
// it (on a host network the relay's address is 127.0.0.1:PORT; on a cluster, the pod's IP).
// Fails at `deadline`, or once `pod_runs` (asked between looks) says the report can no longer
// come: the container that serves the port (PortOwners) exited.
absl::StatusOr<int> AwaitReportedPort(const ListeningPorts* ports, const Endpoint& endpoint,
                                      absl::Time deadline, const std::function<bool()>& pod_runs);

enum class BackendKind { kLocal, kPodman, kKubernetes };
std::optional<BackendKind> ParseBackendKind(std::string_view name);
std::string_view BackendKindName(BackendKind kind);
inline constexpr std::string_view kBackendChoices = "local | podman | kubernetes";

struct BackendOptions {
  std::string workdir;     // this sync's private directory on this machine
  std::string relay_path;  // local: the sluice-relay binary
  const ListeningPorts* ports = nullptr;
  std::string podman = "podman";  // podman: the command
  KubeConfigOptions kube;         // kubernetes: where the API server is (kube_config.h)
  std::string kube_namespace;     // kubernetes: "" for the kubeconfig's (or the pod's) own
  // kubernetes: the address of this machine the cluster's pods reach; "" in a cluster for this
  // pod's IP ($POD_IP, else its host name's address).
  std::string advertise_address;
};

absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(BackendKind kind,
                                                     const BackendOptions& options);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_BACKEND_H_
