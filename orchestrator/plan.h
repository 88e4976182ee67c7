// The sync plan: what a sync runs, as a pure function of its spec. No I/O: the same spec and
// inputs give the same plan, which every backend carries out and `sluice render` prints.
//
//   destination pod                         source pod
//     init: sluice-relay init (FIFOs,         init: the same
//           installs sluice-entrypoint)
//     main: the destination, through the      main: the source, through the entrypoint
//           entrypoint, stdio on the FIFOs
//     relay-stdin:  recv, listens on "relay"  relay-stdout: send to destination/relay
//     relay-stdout: send to orchestrator/echo relay-stderr: the connector's log lines
//     relay-stderr: the connector's log lines
//
// Volumes: `pipes` and `sluice-bin` (emptyDir), `tmp` (emptyDir, the connector's /tmp, as its
// root filesystem is read-only), `connector` (the Secret's keys for this connector: config,
// catalog, state) and `relay-secret` (the relays' handshake secret). No secret value is in a
// Pod: only in the Secret.
//
// Endpoints are named, not addressed: a relay connects to `${endpoint:POD/PORT}`, which the
// backend resolves once the pod it names is up (a pod IP on Kubernetes, 127.0.0.1 and the port
// the relay reported on a host network); `orchestrator/report` and `orchestrator/echo` are the
// orchestrator's own, resolved by it. Pods are listed in start order: a pod's endpoints name
// only pods before it. Where the backend asks (PlanOptions::peers_on_channel), the source's
// relay is not given the destination's address at all: it starts with --connect-reported, and
// the orchestrator names the address on the relay's report channel once it resolves, so the
// source's pod need not wait for the destination's to run.
//
//   absl::StatusOr<SyncPlan> plan = MakePlan(spec, inputs, PlanOptions{});
//
// Value types; thread-compatible.

#ifndef SLUICE_ORCHESTRATOR_PLAN_H_
#define SLUICE_ORCHESTRATOR_PLAN_H_

#include <absl/status/statusor.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orchestrator/spec.h"

namespace sluice::orchestrator {

// A port of a pod, by name: resolved into "host:port" by whoever runs the pod.
struct Endpoint {
  std::string pod;   // a pod's name, or "orchestrator"
  std::string port;  // a ContainerPort's name, or "report" / "echo" for the orchestrator
  // The text that stands for it in a command line until it is resolved: ${endpoint:POD/PORT}.
  std::string Placeholder() const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};
inline constexpr char kOrchestrator[] = "orchestrator";

struct VolumeMount {
  std::string volume;
  std::string path;
  bool read_only = false;
  friend bool operator==(const VolumeMount&, const VolumeMount&) = default;
};

struct ContainerPort {
  std::string name;
  int port = 0;  // 0: any free port (host network), reported by the relay
  friend bool operator==(const ContainerPort&, const ContainerPort&) = default;
};

enum class ContainerKind {
  kInit,     // runs to completion before the others
  kMain,     // the connector
  kSidecar,  // a relay: runs beside the connector (a native sidecar when asked for)
};

struct ContainerPlan {
  std::string name;
  ContainerKind kind = ContainerKind::kSidecar;
  std::string image;
  std::vector<std::string> command;  // may hold Endpoint placeholders
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<VolumeMount> mounts;
  std::vector<ContainerPort> ports;
  std::optional<Resources> resources;
  // Its stderr is the connector's log, for people to see as it comes (the relay-stderr sidecar).
  bool shows_connector_log = false;
  friend bool operator==(const ContainerPlan&, const ContainerPlan&) = default;
};

enum class VolumeKind { kEmptyDir, kSecret };

struct VolumePlan {
  std::string name;
  VolumeKind kind = VolumeKind::kEmptyDir;
  // kSecret: the Secret's keys this volume holds, each as a file named `path`.
  std::vector<std::pair<std::string, std::string>> items;  // key, path
  friend bool operator==(const VolumePlan&, const VolumePlan&) = default;
};

struct PodPlan {
  std::string name;  // <sync>-source, <sync>-destination
  std::string role;  // "source" or "destination"
  std::map<std::string, std::string> labels;
  std::vector<VolumePlan> volumes;
  std::vector<ContainerPlan> init_containers;
  std::vector<ContainerPlan> containers;  // main first, then the relays
  std::vector<Endpoint> endpoints;        // what its commands name, to resolve before it starts
  // Relays that connect where the orchestrator says on their report channel, once the pod
  // started and the endpoint resolved (--connect-reported): the name each relay says hello
  // with, and the endpoint to name to it.
  std::vector<std::pair<std::string, Endpoint>> reported_peers;
  const ContainerPlan* Find(std::string_view container) const;
  friend bool operator==(const PodPlan&, const PodPlan&) = default;
};

// The sync's one Secret: the connectors' files and the relays' handshake secret.
struct SecretPlan {
  std::string name;  // <sync>-<id>
  std::map<std::string, std::string> labels;
  std::vector<std::pair<std::string, std::string>> data;  // key, value (not encoded)
  friend bool operator==(const SecretPlan&, const SecretPlan&) = default;
};

struct SyncPlan {
  std::string sync;     // the spec's name
  std::string sync_id;  // this run's id: labels every object
  SecretPlan secret;
  bool native_sidecars = false;  // the spec's relay.native_sidecars
  std::vector<PodPlan> pods;     // in start order: the destination, then the source
  const PodPlan* Find(const std::string& pod) const;
  friend bool operator==(const SyncPlan&, const SyncPlan&) = default;
};

// What varies with the run rather than the spec.
struct PlanInputs {
  std::string sync_id;       // [a-z0-9]{1,12}
  std::string relay_secret;  // the relays' handshake secret (hex)
  // The --state content for the source (StateArgument of the committed state), if any.
  std::optional<std::string> state;
};

// What varies with the backend.
struct PlanOptions {
  // Pods share the host's network (podman, local): relays listen on 127.0.0.1, on a port the
  // kernel picks, and report it. Otherwise on 0.0.0.0 and the named containerPort (9000).
  bool host_network = false;
  // >= 0: listening relays take a socket the backend bound for them, as this file descriptor
  // (--listen-fd), so the pods that connect to them need not wait for them to start (local).
  int listen_fd = -1;
  // Relays that connect to a pod's relay learn its address on their report channel, after
  // their own pod started (--connect-reported): where an address is known only once a pod
  // runs (podman, Kubernetes), the pods then start without waiting for one another.
  bool peers_on_channel = false;
  // The relay binary inside the relay image.
  std::string relay_command = "/usr/local/bin/sluice-relay";
  // Where volumes are mounted: "/sluice/VOLUME" in a container. A backend that cannot mount
  // (local processes) gives a directory of its own: ROOT/ROLE/VOLUME.
  std::string volume_root;
};

// Paths in the pods.
inline constexpr char kRelayPortName[] = "relay";
inline constexpr int kRelayPort = 9000;
inline constexpr char kSecretRelayKey[] = "relay-secret";

absl::StatusOr<SyncPlan> MakePlan(const SyncSpec& spec, const PlanInputs& inputs,
                                  const PlanOptions& options);

// Where `volume` of the pod with `role` is mounted under `options`.
std::string MountPath(const PlanOptions& options, const std::string& role,
                      const std::string& volume);

// `text` with every endpoint placeholder that `resolved` has replaced by its address.
std::string ResolveEndpoints(std::string text, const std::map<Endpoint, std::string>& resolved);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_PLAN_H_
