#include "orchestrator/backend.h"

#include <absl/strings/str_cat.h>

#include <algorithm>

#include "base/files.h"
#include "orchestrator/command.h"
#include "orchestrator/kubernetes_backend.h"
#include "orchestrator/local_backend.h"
#include "orchestrator/podman_backend.h"

namespace sluice::orchestrator {

void PortOwners::Add(const PodPlan& pod) {
  for (const ContainerPlan& c : pod.containers) {
    for (const ContainerPort& p : c.ports) owners_[{pod.name, p.name}] = c.name;
  }
}

const std::string* PortOwners::Find(const Endpoint& endpoint) const {
  const auto it = owners_.find(endpoint);
  return it != owners_.end() ? &it->second : nullptr;
}

absl::Status WriteSecretVolume(const SecretPlan& secret, const PodPlan& pod,
                               const VolumePlan& volume, const std::string& dir,
                               const std::function<void(const std::string&)>& written) {
  for (const auto& [key, path] : volume.items) {
    const std::string* value = nullptr;
    for (const auto& [k, v] : secret.data) {
      if (k == key) value = &v;
    }
    if (value == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(pod.name, ": volume ", volume.name,
                                                        " names key ", key, ", not in the Secret"));
    }
    const std::string file = absl::StrCat(dir, "/", path);
    if (auto s = base::WriteFileAtomically(file, *value, 0400); !s.ok()) return s;
    if (written) written(file);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> AwaitReportedPort(const ListeningPorts* ports, const Endpoint& endpoint,
                                      absl::Time deadline, const std::function<bool()>& pod_runs) {
  if (ports == nullptr) return absl::FailedPreconditionError("no relay reports ports");
  for (;;) {
    // The next pod starts the moment this port is known, so wake with the report; look at the
    // pod between waits of 50 ms.
    if (const auto port = ports->AwaitListeningPort(
            endpoint.pod, std::min(deadline, absl::Now() + absl::Milliseconds(50)))) {
      return *port;
    }
    const bool runs = pod_runs();
    if (!runs || absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(endpoint.pod, " did not listen on its port ",
                                                      endpoint.port,
                                                      runs ? " in time" : ": it exited"));
    }
  }
}

std::optional<BackendKind> ParseBackendKind(std::string_view name) {
  if (name == "local") return BackendKind::kLocal;
  if (name == "podman") return BackendKind::kPodman;
  if (name == "kubernetes") return BackendKind::kKubernetes;
  return std::nullopt;
}

std::string_view BackendKindName(BackendKind kind) {
  switch (kind) {
    case BackendKind::kLocal:
      return "local";
    case BackendKind::kPodman:
      return "podman";
    case BackendKind::kKubernetes:
      return "kubernetes";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(BackendKind kind,
                                                     const BackendOptions& options) {
  switch (kind) {
    case BackendKind::kLocal:
      return std::make_unique<LocalBackend>(options);
    case BackendKind::kPodman: {
      // Said now, before any pod: podman missing or unable to run is a start failure.
      auto version = RunCommand({options.podman, "version", "--format", "{{.Client.Version}}"},
                                absl::Now() + absl::Seconds(30));
      if (!version.ok() || version->exit_code != 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the podman backend needs podman: `", options.podman, " version` ",
            version.ok() ? absl::StrCat("exited ", version->exit_code, ": ", version->output)
                         : std::string(version.status().message()),
            " (scripts/install-deps.sh installs and configures it)"));
      }
      return std::make_unique<PodmanBackend>(options);
    }
    case BackendKind::kKubernetes: {
      auto backend = KubernetesBackend::Create(options);
      if (!backend.ok()) return backend.status();
      return std::unique_ptr<Backend>(std::move(*backend));
    }
  }
  return absl::InvalidArgumentError("unknown backend");
}

}  // namespace sluice::orchestrator
