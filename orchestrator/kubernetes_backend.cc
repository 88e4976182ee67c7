#include "orchestrator/kubernetes_backend.h"

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "base/files.h"
#include "orchestrator/render.h"
#include "orchestrator/yaml_json.h"
#include "protocol/report.h"

namespace sluice::orchestrator {
namespace {

void Log(const std::string& message) { std::fprintf(stderr, "sluice: %s\n", message.c_str()); }

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out.push_back(c);
    } else {
      absl::StrAppend(&out, "%", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    }
  }
  return out;
}

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::optional<std::string>(v) : std::nullopt;
}

// The first non-loopback IPv4 address of this host's name: a pod's own IP, where $POD_IP is not
// set by the downward API.
std::optional<std::string> HostAddress() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) return std::nullopt;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  if (getaddrinfo(host, nullptr, &hints, &found) != 0) return std::nullopt;
  std::optional<std::string> address;
  for (addrinfo* a = found; a != nullptr && !address; a = a->ai_next) {
    char text[INET_ADDRSTRLEN];
    const auto* in = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof text) != nullptr &&
        std::string_view(text).rfind("127.", 0) != 0) {
      address = text;
    }
  }
  freeaddrinfo(found);
  return address;
}

void Pause(absl::Duration d) {
  if (d > absl::ZeroDuration()) std::this_thread::sleep_for(absl::ToChronoNanoseconds(d));
}

constexpr absl::Duration kRequestTimeout = absl::Seconds(30);
constexpr absl::Duration kPoll = absl::Milliseconds(20);

}  // namespace

std::string WithOwnerReferences(const std::string& json, const std::string& references) {
  static constexpr std::string_view kMetadata = "\"metadata\":{";
  const size_t at = json.find(kMetadata);
  if (references.empty() || at == std::string::npos) return json;
  std::string out = json;
  out.insert(at + kMetadata.size(), absl::StrCat("\"ownerReferences\":", references, ","));
  return out;
}

absl::StatusOr<std::unique_ptr<KubernetesBackend>> KubernetesBackend::Create(
    const BackendOptions& options) {
  auto config = ResolveKubeConfig(options.kube);
  if (!config.ok()) return config.status();
  if (!options.kube_namespace.empty()) config->namespace_name = options.kube_namespace;
  auto client = KubeClient::Create(*config);
  if (!client.ok()) return client.status();
  auto watch_client = KubeClient::Create(*config);
  if (!watch_client.ok()) return watch_client.status();
  std::unique_ptr<KubernetesBackend> backend(
      new KubernetesBackend(options, *config, std::move(*client), std::move(*watch_client)));
  Log(absl::StrCat("kubernetes: ", config->ToString()));
  if (config->in_cluster) {
    // The orchestrator's own pod owns what it creates: the cluster removes the sync's pods and
    // Secret if the orchestrator's pod goes away without deleting them.
    std::string self;
    if (auto name = Env("POD_NAME")) {
      self = *name;
    } else {
      char host[256] = {};
      gethostname(host, sizeof host - 1);
      self = host;
    }
    auto own = backend->client_->Call("GET", backend->Object("pods", self), "",
                                      absl::Now() + kRequestTimeout);
    absl::StatusOr<KubePod> pod = own.ok() && own->status == 200
                                      ? ParsePod(own->body)
                                      : absl::StatusOr<KubePod>(absl::NotFoundError(""));
    if (pod.ok() && !pod->uid.empty()) {
      backend->owner_references_ = absl::StrCat(
          "[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"name\":", protocol::JsonString(self),
          ",\"uid\":", protocol::JsonString(pod->uid), "}]");
    } else {
      Log(absl::StrCat("WARNING: cannot read this orchestrator's own pod ", self,
                       " (set POD_NAME from the downward API): the sync's pods carry no owner "
                       "reference, and are left behind if this orchestrator dies"));
    }
  }
  return backend;
}

KubernetesBackend::KubernetesBackend(BackendOptions options, KubeConfig config,
                                     std::unique_ptr<KubeClient> client,
                                     std::unique_ptr<KubeClient> watch_client)
    : options_(std::move(options)),
      config_(std::move(config)),
      namespace_(config_.namespace_name),
      client_(std::move(client)),
      watch_client_(std::move(watch_client)) {}

KubernetesBackend::~KubernetesBackend() {
  (void)Delete();
  stop_ = true;
  if (watcher_.joinable()) watcher_.join();
}

std::string KubernetesBackend::Collection(std::string_view resource_view) const {
  const std::string resource(resource_view);
  return absl::StrCat("/api/v1/namespaces/", UrlEncode(namespace_), "/", resource);
}

std::string KubernetesBackend::Object(std::string_view resource, const std::string& name) const {
  return absl::StrCat(Collection(resource), "/", UrlEncode(name));
}

std::string KubernetesBackend::LogPath(const std::string& pod, const std::string& container,
                                       const std::string& query) const {
  return absl::StrCat(Object("pods", pod), "/log?container=", UrlEncode(container), "&", query);
}

absl::Status KubernetesBackend::DeleteObject(std::string_view resource, const std::string& name,
                                             int64_t grace_seconds) {
  auto r = client_->Call(
      "DELETE",
      absl::StrCat(Object(resource, name),
                   grace_seconds < 0 ? "" : absl::StrCat("?gracePeriodSeconds=", grace_seconds)),
      "", absl::Now() + kRequestTimeout);
  if (!r.ok()) return r.status();
  if (r->status != 200 && r->status != 202 && r->status != 404) {  // 404: already gone
    return absl::UnavailableError(
        absl::StrCat("HTTP ", r->status, ": ", KubeStatusMessage(r->body)));
  }
  return absl::OkStatus();
}

bool KubernetesBackend::PodRuns(const std::string& pod) const {
  base::MutexLock lock(&mu_);
  return std::any_of(running_.begin(), running_.end(),
                     [&](const Container& c) { return c.pod == pod; });
}

absl::StatusOr<std::string> KubernetesBackend::OrchestratorHost() const {
  if (!options_.advertise_address.empty()) return options_.advertise_address;
  if (config_.in_cluster) {
    if (auto ip = Env("POD_IP")) return *ip;
    if (auto ip = HostAddress()) return *ip;
    return absl::FailedPreconditionError(
        "cannot tell this pod's IP, where the sync's pods report to the orchestrator: set POD_IP "
        "from the downward API (status.podIP), or give --advertise-address=IP");
  }
  return absl::FailedPreconditionError(
      "outside a cluster the sync's pods must be told where to reach this orchestrator (its "
      "relays report their counters and the destination's STATE echoes to it): give "
      "--advertise-address=IP, an address of this machine the cluster's pods can reach");
}

absl::StatusOr<std::string> KubernetesBackend::Body(const std::string& yaml) const {
  auto json = YamlToJson(yaml);
  if (!json.ok()) return json.status();
  return WithOwnerReferences(*json, owner_references_);
}

absl::Status KubernetesBackend::Create(std::string_view resource_view, const std::string& name,
                                       const std::string& yaml, absl::Time deadline) {
  const std::string resource(resource_view);
  auto body = Body(yaml);
  if (!body.ok()) return body.status();
  auto r = client_->Call("POST", Collection(resource), *body, deadline);
  if (!r.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot create ", resource, "/", name, ": ",
                                               std::string(r.status().message())));
  }
  if (r->status == 409) {
    return absl::AlreadyExistsError(absl::StrCat(
        resource, "/", name, " already exists in namespace ", namespace_,
        ": a sync of this name is running there, or one left it behind. This sync does not take "
        "it over: wait for the other to end, or delete what it left (kubectl delete ",
        resource == "pods" ? "pod " : "secret ", name, " -n ", namespace_, ")"));
  }
  if (r->status != 200 && r->status != 201 && r->status != 202) {
    return absl::FailedPreconditionError(absl::StrCat("the API server refused to create ", resource,
                                                      "/", name, ": HTTP ", r->status, ": ",
                                                      KubeStatusMessage(r->body)));
  }
  return absl::OkStatus();
}

absl::Status KubernetesBackend::CreateSecret(const SyncPlan& plan) {
  sync_id_ = plan.sync_id;
  selector_ = UrlEncode(absl::StrCat("sluice.dev/sync-id=", plan.sync_id));
  // Before any pod: the watch sees each pod from its creation on.
  if (!watcher_.joinable()) watcher_ = std::thread([this] { WatchPods(); });
  auto s =
      Create("secrets", plan.secret.name, RenderSecret(plan.secret), absl::Now() + kRequestTimeout);
  if (s.ok()) secret_ = plan.secret.name;
  return s;
}

absl::Status KubernetesBackend::StartPod(const SyncPlan& plan, const PodPlan& pod,
                                         const std::map<Endpoint, std::string>& endpoints,
                                         absl::Time deadline) {
  const std::string yaml =
      RenderPod(plan, pod, RenderFlavor::kKubernetes, {.endpoints = endpoints, .workdir = ""});
  if (auto s = Create("pods", pod.name, yaml, deadline); !s.ok()) return s;
  pods_.push_back(pod.name);  // from here on, Delete removes it whatever happens
  port_owners_.Add(pod);
  {
    base::MutexLock lock(&mu_);
    created_.insert(pod.name);
    for (const ContainerPlan& c : pod.containers) {
      Container k{pod.name, c.name, c.kind == ContainerKind::kMain};
      running_.push_back(k);
      all_.push_back(k);
    }
  }
  starting_.push_back(pod.name);  // AwaitStarted waits for it, beside the next pod's start
  return absl::OkStatus();
}

absl::Status KubernetesBackend::AwaitStarted(absl::Time deadline) {
  // Started: a container of it runs (or already ended). Every pod is looked at in each round,
  // so a pod that will never start is told at once, whichever it is.
  for (;;) {
    std::string never_pod, never, waiting_pod, state;
    {
      base::MutexLock lock(&mu_);
      for (auto it = starting_.begin(); it != starting_.end();) {
        const std::string& pod = *it;
        if (gone_.contains(pod)) {
          return absl::AbortedError(absl::StrCat("pod ", pod, " was deleted as it started"));
        }
        std::string pod_state = "not yet seen";
        bool started = false;
        if (const auto seen = seen_.find(pod); seen != seen_.end()) {
          const KubePod& p = seen->second;
          for (const KubeContainer& c : p.containers) {
            started |= !c.init && c.state != KubeContainer::State::kWaiting &&
                       c.state != KubeContainer::State::kUnknown;
          }
          started |= p.phase == "Succeeded" || p.phase == "Failed";
          if (!started && never.empty()) {
            never = NeverStarts(p);
            if (!never.empty()) never_pod = pod;
          }
          pod_state = absl::StrCat("phase ", p.phase.empty() ? "unknown" : p.phase);
          for (const KubeContainer& c : p.containers) {
            if (c.state == KubeContainer::State::kWaiting && !c.reason.empty()) {
              absl::StrAppend(&pod_state, ", ", c.name, " waiting: ", c.reason);
            }
          }
        }
        if (started) {
          it = starting_.erase(it);
          continue;
        }
        if (waiting_pod.empty()) {
          waiting_pod = pod;
          state = pod_state;
        }
        ++it;
      }
      if (starting_.empty()) return absl::OkStatus();
    }
    if (!never.empty() || absl::Now() >= deadline) {
      const std::string& pod = never.empty() ? waiting_pod : never_pod;
      const std::string event = NewestWarning(pod);
      const std::string why = absl::StrCat(
          never.empty() ? "did not start in time (" + state + ")" : "will never start: " + never,
          event.empty() ? "" : "; its newest warning: " + event);
      return never.empty() ? absl::DeadlineExceededError(absl::StrCat("pod ", pod, " ", why))
                           : absl::FailedPreconditionError(
                                 absl::StrCat("pod ", pod, " ", why, " (kubectl describe pod ", pod,
                                              " -n ", namespace_, ")"));
    }
    Pause(kPoll);
  }
}

std::string KubernetesBackend::NewestWarning(const std::string& pod) {
  auto r = client_->Call("GET",
                         absl::StrCat(Collection("events"),
                                      "?fieldSelector=", UrlEncode("involvedObject.name=" + pod)),
                         "", absl::Now() + absl::Seconds(5));
  return r.ok() && r->status == 200 ? NewestWarningEvent(r->body) : std::string();
}

absl::StatusOr<std::string> KubernetesBackend::Resolve(const Endpoint& endpoint,
                                                       absl::Time deadline) {
  if (auto s = AwaitStarted(deadline); !s.ok()) return s;  // a port of a pod still starting
  // The relay listens once it said so on its channel; its pod's IP is in the pod's status.
  const std::string* const owner = port_owners_.Find(endpoint);
  auto port = AwaitReportedPort(options_.ports, endpoint, deadline, [&] {
    return owner != nullptr ? IsRunning(endpoint.pod, *owner) : PodRuns(endpoint.pod);
  });
  if (!port.ok()) return port.status();
  for (;;) {
    {
      base::MutexLock lock(&mu_);
      if (const auto it = seen_.find(endpoint.pod);
          it != seen_.end() && !it->second.pod_ip.empty()) {
        return absl::StrCat(it->second.pod_ip, ":", *port);
      }
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("pod ", endpoint.pod, " has no IP in its status in time"));
    }
    Pause(kPoll);
  }
}

std::vector<Exited> KubernetesBackend::WaitAny(absl::Time deadline) {
  for (;;) {
    {
      base::MutexLock lock(&mu_);
      if (!unreported_.empty() || running_.empty() || absl::Now() >= deadline) {
        return std::exchange(unreported_, {});
      }
    }
    Pause(std::min(kPoll, deadline - absl::Now()));
  }
}

size_t KubernetesBackend::running() const {
  base::MutexLock lock(&mu_);
  return running_.size();
}

bool KubernetesBackend::IsRunning(const std::string& pod, const std::string& container) const {
  base::MutexLock lock(&mu_);
  return std::any_of(running_.begin(), running_.end(),
                     [&](const Container& c) { return c.pod == pod && c.name == container; });
}

void KubernetesBackend::Stop(const std::string& pod, const std::string& container,
                             absl::Duration grace) {
  if (!container.empty()) {
    Log(absl::StrCat("kubernetes stops pods, not containers: stopping ", container, " deletes pod ",
                     pod));
  }
  const int64_t seconds =
      std::max<int64_t>(0, absl::ToInt64Seconds(absl::Ceil(grace, absl::Seconds(1))));
  if (auto s = DeleteObject("pods", pod, seconds); !s.ok()) {
    Log(absl::StrCat("cannot delete pod ", pod, " to stop it: ", s.message()));
  }
}

void KubernetesBackend::StopAll(absl::Duration grace) {
  for (const std::string& pod : pods_) {
    if (PodRuns(pod)) Stop(pod, "", grace);
  }
}

std::string KubernetesBackend::Logs(const std::string& pod, const std::string& container,
                                    size_t lines) {
  auto r = client_->Call("GET", LogPath(pod, container, absl::StrCat("tailLines=", lines)), "",
                         absl::Now() + absl::Seconds(10));
  if (r.ok() && r->status == 200) return r->body;
  return base::LastLines(
      base::ReadFile(absl::StrCat(options_.workdir, "/logs/", pod, "/", container, ".log")), lines);
}

void KubernetesBackend::SaveLogs() {
  for (const Container& c : all_) {
    auto r = client_->Call("GET", LogPath(c.pod, c.name, absl::StrCat("limitBytes=", 16 << 20)), "",
                           absl::Now() + absl::Seconds(10));
    if (!r.ok() || r->status != 200) continue;
    const std::string dir = absl::StrCat(options_.workdir, "/logs/", c.pod);
    if (!base::MakeDirectories(dir, 0700).ok()) continue;
    (void)base::WriteFileAtomically(absl::StrCat(dir, "/", c.name, ".log"), r->body);
  }
}

absl::Status KubernetesBackend::Delete() {
  std::vector<std::string> failed;
  if (!pods_.empty()) SaveLogs();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (const std::string& pod : pods_) {
    if (!DeleteObject("pods", pod, 0).ok()) failed.push_back("pod " + pod);
  }
  if (!secret_.empty()) {
    if (!DeleteObject("secrets", secret_, -1).ok()) failed.push_back("secret " + secret_);
    secret_.clear();
  }
  // Gone means gone: the next sync of this name may create its pods.
  for (const std::string& pod : pods_) {
    for (;;) {
      auto r = client_->Call("GET", Object("pods", pod), "", absl::Now() + kRequestTimeout);
      if (r.ok() && r->status == 404) break;
      if (absl::Now() >= deadline) {
        failed.push_back("pod " + pod + " (still there after 60 s)");
        break;
      }
      Pause(absl::Milliseconds(200));
    }
  }
  pods_.clear();
  {
    base::MutexLock lock(&mu_);
    running_.clear();
  }
  stop_ = true;
  if (watcher_.joinable()) watcher_.join();
  if (!failed.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "could not delete ", absl::StrJoin(failed, ", "), " in namespace ", namespace_,
        ": remove them with kubectl delete pods,secrets -l sluice.dev/sync-id=", sync_id_, " -n ",
        namespace_));
  }
  return absl::OkStatus();
}

void KubernetesBackend::Apply(const KubePod& pod, bool deleted) {
  seen_[pod.name] = pod;
  if (deleted) gone_.insert(pod.name);
  for (auto it = running_.begin(); it != running_.end();) {
    const KubeContainer* k = it->pod == pod.name ? pod.Find(it->name) : nullptr;
    const bool ended = k != nullptr && k->state == KubeContainer::State::kTerminated;
    if (it->pod != pod.name || (!ended && !deleted)) {
      ++it;
      continue;
    }
    // A container the pod's deletion took before its status said how it ended was killed. A
    // native sidecar the kubelet stopped after the connector exits with its own result
    // (sluice-relay --hold-until-stopped): 0 when its stream was whole.
    unreported_.push_back({it->pod, it->name, it->is_main, ended ? k->exit_code : 128 + 9});
    it = running_.erase(it);
  }
}

void KubernetesBackend::WatchPods() {
  const std::string pods = Collection("pods");
  std::string version;  // the last resourceVersion seen; "" to list
  int failures = 0;
  const auto pause = [&] {  // after a failure: capped backoff, cut short by stop_
    const absl::Time until = absl::Now() + KubeClient::Backoff(failures++);
    while (!stop_ && absl::Now() < until) Pause(absl::Milliseconds(50));
  };
  while (!stop_) {
    if (version.empty()) {
      // Only a pod whose creation was answered before the list was asked for must be in it; one
      // created while the list is on its way is not missing from it.
      std::set<std::string> created_before;
      {
        base::MutexLock lock(&mu_);
        created_before = created_;
      }
      auto r = watch_client_->Call("GET", absl::StrCat(pods, "?labelSelector=", selector_), "",
                                   absl::Now() + kRequestTimeout);
      absl::StatusOr<KubePodList> list =
          !r.ok()            ? absl::StatusOr<KubePodList>(r.status())
          : r->status != 200 ? absl::StatusOr<KubePodList>(absl::UnavailableError(absl::StrCat(
                                   "HTTP ", r->status, ": ", KubeStatusMessage(r->body))))
                             : ParsePodList(r->body);
      if (!list.ok()) {
        if (failures == 0)
          Log(absl::StrCat("cannot list the sync's pods: ", list.status().message()));
        pause();
        continue;
      }
      base::MutexLock lock(&mu_);
      std::set<std::string> listed;
      for (const KubePod& p : list->items) {
        listed.insert(p.name);
        Apply(p, false);
      }
      // A pod created and gone while nobody watched.
      for (const std::string& created : created_before) {
        if (!listed.contains(created)) {
          KubePod gone;
          gone.name = created;
          Apply(gone, true);
        }
      }
      version = list->resource_version;
    }
    bool relist = false;
    const absl::Status s = watch_client_->Watch(
        absl::StrCat(pods, "?watch=1&allowWatchBookmarks=true&resourceVersion=", UrlEncode(version),
                     "&labelSelector=", selector_),
        absl::Now() + absl::Minutes(5),
        [&](std::string_view line) {
          auto event = ParseWatchEvent(line);
          if (!event.ok()) {
            Log(std::string(event.status().message()));
            return true;
          }
          if (event->type == "ERROR") {
            relist = true;  // 410 Gone (expired) or another error: start again from a list
            Log(absl::StrCat("the watch of the sync's pods ended with ", event->error_code, " (",
                             event->error_message, "): listing them again"));
            return false;
          }
          if (!event->resource_version.empty()) version = event->resource_version;
          if (event->pod) {
            base::MutexLock lock(&mu_);
            Apply(*event->pod, event->type == "DELETED");
          }
          failures = 0;
          return true;
        },
        &stop_);
    if (relist || s.code() == absl::StatusCode::kOutOfRange) {
      if (!relist)
        Log(absl::StrCat("the pods' watch expired (", s.message(), "): listing them again"));
      version.clear();
      continue;
    }
    if (!s.ok() && s.code() != absl::StatusCode::kDeadlineExceeded) {
      if (failures == 0) Log(absl::StrCat("the watch of the sync's pods failed: ", s.message()));
      pause();
    }
    // Otherwise the server ended the stream (as it does after a while): watch again from where
    // it ended.
  }
}

}  // namespace sluice::orchestrator
