#include "orchestrator/local_backend.h"

#include <absl/strings/str_cat.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include "base/files.h"
#include "dataplane/net.h"

namespace sluice::orchestrator {

LocalBackend::~LocalBackend() { (void)Delete(); }

PlanOptions LocalBackend::plan_options() const {
  return {.host_network = true,
          .listen_fd = kInheritedListenFd,
          .relay_command = options_.relay_path,
          .volume_root = options_.workdir + "/pods"};
}

// The Secret's keys are written into each pod's secret volumes as the pod starts.
absl::Status LocalBackend::CreateSecret(const SyncPlan&) { return absl::OkStatus(); }

std::string LocalBackend::LogPath(const std::string& pod, const std::string& container) const {
  return absl::StrCat(options_.workdir, "/logs/", pod, "/", container, ".log");
}

absl::Status LocalBackend::StartPod(const SyncPlan& plan, const PodPlan& pod,
                                    const std::map<Endpoint, std::string>& endpoints,
                                    absl::Time deadline) {
  const PlanOptions layout = plan_options();
  for (const VolumePlan& v : pod.volumes) {
    const std::string dir = MountPath(layout, pod.role, v.name);
    if (auto s = base::MakeDirectories(dir); !s.ok()) return s;
    if (v.kind != VolumeKind::kSecret) continue;
    chmod(dir.c_str(), 0700);
    secret_dirs_.push_back(dir);
    if (auto s = WriteSecretVolume(plan.secret, pod, v, dir); !s.ok()) return s;
  }
  if (auto s = base::MakeDirectories(absl::StrCat(options_.workdir, "/logs/", pod.name)); !s.ok())
    return s;
  // Each listening relay's port, bound here: its address is known before the relay runs, so
  // the pods that connect to it start at once. The relay holds the only copy once started.
  std::map<std::string, dataplane::UniqueFd> listeners;  // by container
  for (const ContainerPlan& c : pod.containers) {
    if (c.ports.empty()) continue;
    if (c.ports.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(pod.name, "/", c.name, ": a local container listens on one port at most"));
    }
    auto listener = dataplane::Listen({"127.0.0.1", 0});
    if (!listener.ok()) {
      return absl::UnavailableError(
          absl::StrCat(pod.name, "/", c.name, ": ", listener.status().message()));
    }
    bound_ports_[{pod.name, c.ports[0].name}] = dataplane::LocalPort(listener->get());
    listeners[c.name] = std::move(*listener);
  }
  const auto process = [&](const ContainerPlan& c) {
    Process p;
    p.name = c.name;
    for (const std::string& arg : c.command) p.argv.push_back(ResolveEndpoints(arg, endpoints));
    p.env = c.env;
    p.is_main = c.kind == ContainerKind::kMain;
    if (const auto it = listeners.find(c.name); it != listeners.end())
      p.listen_fd = it->second.get();
    // The connector's own stdio is the entrypoint's business; a sidecar's log is a file, except
    // the connector's log lines, which people watch as they come.
    if (!c.shows_connector_log && !p.is_main) p.stderr_path = LogPath(pod.name, c.name);
    return p;
  };
  ProcessSet set;
  set.name = pod.name;
  for (const ContainerPlan& c : pod.init_containers) set.init_containers.push_back(process(c));
  for (const ContainerPlan& c : pod.containers) {
    set.containers.push_back(process(c));
    names_.emplace_back(pod.name, c.name);
  }
  port_owners_.Add(pod);
  return group_.Start(set, deadline);
}

absl::StatusOr<std::string> LocalBackend::Resolve(const Endpoint& endpoint, absl::Time deadline) {
  // The pods share this machine's network.
  if (const auto it = bound_ports_.find(endpoint); it != bound_ports_.end()) {
    return absl::StrCat("127.0.0.1:", it->second);
  }
  auto port = AwaitReport(endpoint, deadline);
  if (!port.ok()) return port.status();
  return absl::StrCat("127.0.0.1:", *port);
}

absl::Status LocalBackend::AwaitListening(const Endpoint& endpoint, absl::Time deadline) {
  if (!bound_ports_.contains(endpoint)) return absl::OkStatus();  // Resolve() waited for it
  return AwaitReport(endpoint, deadline).status();
}

absl::StatusOr<int> LocalBackend::AwaitReport(const Endpoint& endpoint, absl::Time deadline) {
  const std::string* const owner = port_owners_.Find(endpoint);
  return AwaitReportedPort(options_.ports, endpoint, deadline, [&] {
    if (owner != nullptr) return IsRunning(endpoint.pod, *owner);
    return std::any_of(names_.begin(), names_.end(), [&](const auto& name) {
      return name.first == endpoint.pod && IsRunning(name.first, name.second);
    });
  });
}

std::vector<Exited> LocalBackend::WaitAny(absl::Time deadline) {
  absl::Time until = deadline;
  for (const auto& [who, at] : kill_at_) until = std::min(until, at);
  std::vector<Exited> exited = group_.WaitAny(until);
  for (const Exited& e : exited) kill_at_.erase({e.pod, e.container});
  const absl::Time now = absl::Now();
  for (auto it = kill_at_.begin(); it != kill_at_.end();) {
    if (now < it->second) {
      ++it;
      continue;
    }
    group_.Signal(it->first.first, it->first.second, SIGKILL);
    it = kill_at_.erase(it);
  }
  return exited;
}

bool LocalBackend::IsRunning(const std::string& pod, const std::string& container) const {
  return group_.IsRunning(std::string(pod), std::string(container));
}

void LocalBackend::Stop(const std::string& pod, const std::string& container,
                        absl::Duration grace) {
  const absl::Time kill = absl::Now() + grace;
  for (const auto& [p, c] : names_) {
    if (p != pod || (!container.empty() && c != container) || !IsRunning(p, c)) continue;
    group_.Signal(p, c, SIGTERM);
    auto [it, inserted] = kill_at_.emplace(std::pair{p, c}, kill);
    if (!inserted) it->second = std::min(it->second, kill);
  }
}

void LocalBackend::StopAll(absl::Duration grace) {
  // Each container once: a second SIGTERM is a forced stop to some connectors.
  std::set<std::string> pods;
  for (const auto& [p, c] : names_) pods.insert(p);
  for (const std::string& p : pods) Stop(p, "", grace);
}

std::string LocalBackend::Logs(const std::string& pod, const std::string& container, size_t lines) {
  return base::LastLines(base::ReadFile(LogPath(pod, container)), lines);
}

absl::Status LocalBackend::Delete() {
  group_.SignalAll(SIGKILL);
  while (group_.running() > 0) group_.WaitAny(absl::InfiniteFuture());
  // The secret and the connectors' configs are never left behind.
  for (const std::string& dir : secret_dirs_) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  secret_dirs_.clear();
  return absl::OkStatus();
}

}  // namespace sluice::orchestrator
