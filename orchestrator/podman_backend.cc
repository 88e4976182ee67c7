#include "orchestrator/podman_backend.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>
#include <fcntl.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <thread>
#include <utility>

#include "base/files.h"
#include "orchestrator/command.h"
#include "orchestrator/cri_log.h"
#include "orchestrator/render.h"

namespace sluice::orchestrator {
namespace {

constexpr uid_t kPodUser = 65532;  // render.h: the pods' runAsUser and fsGroup
constexpr absl::Duration kPollInterval = absl::Milliseconds(250);
// With `podman events` telling when a container died, `podman ps` (tens of ms of CPU each) runs
// when one did, and this often besides, in case an event is missed.
constexpr absl::Duration kPollIntervalWithEvents = absl::Seconds(2);
constexpr absl::Duration kEventCheck = absl::Milliseconds(10);
constexpr char kEventsProcess[] = "events";
constexpr absl::Duration kCommandTimeout = absl::Seconds(60);
constexpr uintmax_t kMaxLogFileBytes = 16 << 20;  // read whole; larger ones go to `podman logs`

// The pods run as uid 65532: a secret volume's files must be theirs (a root podman; a rootless
// one maps uids and cannot give them away).
void GiveToPods(const std::string& path) {
  if (geteuid() == 0 && chown(path.c_str(), kPodUser, kPodUser) != 0) {
    std::fprintf(stderr, "sluice: cannot give %s to uid %u: %s\n", path.c_str(), kPodUser,
                 std::strerror(errno));
  }
}

}  // namespace

PodmanBackend::~PodmanBackend() { (void)Delete(); }

PlanOptions PodmanBackend::plan_options() const { return RenderPlanOptions(RenderFlavor::kPodman); }

// The Secret's keys are written into each pod's secret directories as the pod starts.
absl::Status PodmanBackend::CreateSecret(const SyncPlan&) { return absl::OkStatus(); }

absl::Status PodmanBackend::StartPod(const SyncPlan& plan, const PodPlan& pod,
                                     const std::map<Endpoint, std::string>& endpoints,
                                     absl::Time deadline) {
  for (const VolumePlan& v : pod.volumes) {
    if (v.kind != VolumeKind::kSecret) continue;
    const std::string dir = SecretDirectory(options_.workdir, pod.name, v.name);
    if (auto s = base::MakeDirectories(dir, 0700); !s.ok()) return s;
    secret_dirs_.push_back(dir);
    if (auto s = WriteSecretVolume(plan.secret, pod, v, dir, GiveToPods); !s.ok()) return s;
    chmod(dir.c_str(), 0500);
    GiveToPods(dir);
  }
  const std::string manifests = options_.workdir + "/manifests";
  if (auto s = base::MakeDirectories(manifests, 0700); !s.ok()) return s;
  const std::string file = absl::StrCat(manifests, "/", pod.name, ".yaml");
  const std::string yaml = RenderPod(plan, pod, RenderFlavor::kPodman,
                                     {.endpoints = endpoints, .workdir = options_.workdir});
  if (auto s = base::WriteFileAtomically(file, yaml, 0600); !s.ok()) return s;

  if (events_path_.empty()) WatchEvents();
  pods_.push_back(pod.name);  // from here on, Delete removes it whatever happens
  // It takes most of a second, mostly waiting on the runtime: the next pod's starts beside it.
  plays_.push_back(
      {.pod = pod,
       .file = file,
       .result = std::async(std::launch::async, [podman = options_.podman, file, deadline] {
         return RunCommand({podman, "kube", "play", file}, deadline);
       })});
  return absl::OkStatus();
}

absl::Status PodmanBackend::AwaitStarted(absl::Time) {
  absl::Status first;  // every play is waited for; the first failure is the one told
  for (Play& play : std::exchange(plays_, {})) {
    const absl::StatusOr<CommandResult> played = play.result.get();
    const PodPlan& pod = play.pod;
    absl::Status s;
    if (!played.ok()) {
      s = absl::DeadlineExceededError(
          absl::StrCat(pod.name, ": `podman kube play` did not finish in time"));
    } else if (played->exit_code != 0) {
      s = absl::FailedPreconditionError(absl::StrCat(pod.name, ": `podman kube play ", play.file,
                                                     "` exited ", played->exit_code, ": ",
                                                     base::LastLines(played->output, 5)));
    }
    if (!s.ok()) {
      if (first.ok()) first = s;
      continue;
    }
    for (const ContainerPlan& c : pod.containers) {
      running_.push_back({pod.name, c.name, c.kind == ContainerKind::kMain});
      if (c.shows_connector_log) {
        // The connector's log lines, as they come (podman logs ends when the container does).
        Podman({"logs", "--follow", running_.back().Qualified()});
      }
    }
    port_owners_.Add(pod);
  }
  return first;
}

void PodmanBackend::Podman(std::vector<std::string> args) {
  Process p;
  p.name = absl::StrCat("podman-", ++background_count_);
  p.argv = {options_.podman};
  p.argv.insert(p.argv.end(), args.begin(), args.end());
  p.stdout_path = "/dev/null";  // podman stop names what it stopped; logs are on stderr
  ProcessSet set;
  set.name = "podman";
  set.containers.push_back(std::move(p));
  if (auto s = background_.Start(set, absl::Now()); !s.ok()) {
    std::fprintf(stderr, "sluice: cannot run podman: %s\n", std::string(s.message()).c_str());
  }
}

absl::StatusOr<std::string> PodmanBackend::Resolve(const Endpoint& endpoint, absl::Time deadline) {
  if (auto s = AwaitStarted(deadline); !s.ok()) return s;  // a port of a pod still starting
  absl::Time next_poll = absl::InfinitePast();
  const std::string* const owner = port_owners_.Find(endpoint);
  auto port = AwaitReportedPort(options_.ports, endpoint, deadline, [&] {
    if (absl::Now() >= next_poll) {  // podman ps costs tens of ms: as often as WaitAny polls
      Poll();
      next_poll = absl::Now() + kPollInterval;
    }
    return std::any_of(running_.begin(), running_.end(), [&](const Container& c) {
      return c.pod == endpoint.pod && (owner == nullptr || c.name == *owner);
    });
  });
  if (!port.ok()) return port.status();
  return absl::StrCat("127.0.0.1:", *port);  // hostNetwork pods
}

void PodmanBackend::Poll() {
  if (running_.empty() || pods_.empty()) return;
  std::vector<std::string> args = {options_.podman, "ps", "--all", "--format", "json"};
  for (const std::string& pod : pods_) args.push_back("--filter=pod=" + pod);
  auto ps = RunCommand(args, absl::Now() + kCommandTimeout);
  if (!ps.ok() || ps->exit_code != 0) return;  // tried again at the next poll
  // [{"Names":["POD-CONTAINER"],"State":"exited","ExitCode":N,...},...]
  simdjson::dom::parser parser;
  simdjson::dom::array containers;
  if (parser.parse(ps->output).get(containers) != simdjson::SUCCESS) return;
  for (simdjson::dom::element c : containers) {
    std::string_view name, state;
    int64_t code = 0;
    if (c["Names"].at(0).get(name) != simdjson::SUCCESS ||
        c["State"].get(state) != simdjson::SUCCESS ||
        c["ExitCode"].get(code) != simdjson::SUCCESS || (state != "exited" && state != "stopped")) {
      continue;
    }
    for (auto it = running_.begin(); it != running_.end(); ++it) {
      if (it->Qualified() != name) continue;
      unreported_.push_back({it->pod, it->name, it->is_main, static_cast<int>(code)});
      exited_.push_back(*it);
      running_.erase(it);
      break;
    }
  }
}

void PodmanBackend::WatchEvents() {
  events_path_ = options_.workdir + "/podman-events.jsonl";
  Process p;
  p.name = kEventsProcess;
  p.argv = {options_.podman, "events", "--format", "json", "--filter", "event=died"};
  p.stdout_path = events_path_;
  ProcessSet set;
  set.name = "podman";
  set.containers.push_back(std::move(p));
  events_running_ = background_.Start(set, absl::Now()).ok();
}

bool PodmanBackend::ContainerDied() {
  if (!events_running_) return false;
  const int fd = open(events_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[16384];
  ssize_t n;
  while ((n = pread(fd, buf, sizeof buf, static_cast<off_t>(events_read_))) > 0) {
    events_pending_.append(buf, static_cast<size_t>(n));
    events_read_ += static_cast<size_t>(n);
  }
  close(fd);
  // {"ContainerExitCode":N,"ID":...,"Name":"POD-CONTAINER","Status":"died",...}: only a wake-up;
  // the exit code is read from `podman ps`, as without events.
  bool ours = false;
  for (size_t nl; (nl = events_pending_.find('\n')) != std::string::npos;) {
    const std::string_view line(events_pending_.data(), nl);
    for (const std::string& pod : pods_) {
      ours |= line.find(absl::StrCat("\"Name\":\"", pod, "-")) != std::string_view::npos;
    }
    events_pending_.erase(0, nl + 1);
  }
  return ours;
}

std::vector<Exited> PodmanBackend::WaitAny(absl::Time deadline) {
  for (;;) {
    // Reaps podman stop and logs; `podman events` ending (no event log here) brings back the
    // polling of before.
    for (const Exited& e : background_.WaitAny(absl::Now())) {
      if (e.container == kEventsProcess) events_running_ = false;
    }
    const absl::Duration interval = events_running_ ? kPollIntervalWithEvents : kPollInterval;
    if (ContainerDied() || absl::Now() >= last_poll_ + interval) {
      last_poll_ = absl::Now();
      Poll();
    }
    if (!unreported_.empty() || running_.empty() || absl::Now() >= deadline) {
      return std::exchange(unreported_, {});
    }
    const absl::Time next =
        std::min({deadline, last_poll_ + interval,
                  events_running_ ? absl::Now() + kEventCheck : absl::InfiniteFuture()});
    std::this_thread::sleep_for(
        absl::ToChronoNanoseconds(std::max(next - absl::Now(), absl::ZeroDuration())));
  }
}

bool PodmanBackend::IsRunning(const std::string& pod, const std::string& container) const {
  for (const Container& c : running_) {
    if (c.pod == pod && c.name == container) return true;
  }
  return false;
}

void PodmanBackend::Stop(const std::string& pod, const std::string& container,
                         absl::Duration grace) {
  std::vector<std::string> args = {
      "stop",
      absl::StrCat("--time=", static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(grace))))};
  for (const Container& c : running_) {
    if (c.pod == pod && (container.empty() || c.name == container)) args.push_back(c.Qualified());
  }
  if (args.size() > 2) Podman(std::move(args));
}

void PodmanBackend::StopAll(absl::Duration grace) {
  for (const std::string& pod : pods_) Stop(pod, "", grace);
}

std::string PodmanBackend::Logs(const std::string& pod, const std::string& container,
                                size_t lines) {
  auto logs = RunCommand(
      {options_.podman, "logs", "--tail", std::to_string(lines), absl::StrCat(pod, "-", container)},
      absl::Now() + kCommandTimeout);
  return logs.ok() ? logs->output : std::string();
}

void PodmanBackend::SaveLogs() {
  std::vector<const Container*> containers;
  for (const auto* list : {&exited_, &running_}) {
    for (const Container& c : *list) containers.push_back(&c);
  }
  if (containers.empty()) return;
  // One `podman container inspect` says where each log file is, and the files are read here:
  // one `podman logs` per container took 0.35-0.47 s at the end of every sync. A log of another
  // driver, or a file too large to read whole, is asked of `podman logs`, as before.
  std::map<std::string, std::string> files;  // container -> its k8s-file log
  std::vector<std::string> args = {options_.podman, "container", "inspect", "--format",
                                   "{{.Name}}\t{{.HostConfig.LogConfig.Type}}\t"
                                   "{{.HostConfig.LogConfig.Path}}"};
  for (const Container* c : containers) args.push_back(c->Qualified());
  if (auto inspected = RunCommand(args, absl::Now() + kCommandTimeout);
      inspected.ok() && inspected->exit_code == 0) {
    const std::vector<std::string> lines =
        absl::StrSplit(inspected->output, '\n', absl::SkipEmpty());
    for (const std::string& line : lines) {
      const std::vector<std::string> f = absl::StrSplit(line, '\t');
      if (f.size() == 3 && f[1] == "k8s-file") files[f[0]] = f[2];
    }
  }
  for (const Container* c : containers) {
    std::optional<std::string> text;
    if (const auto it = files.find(c->Qualified()); it != files.end()) {
      std::error_code ec;
      const auto size = std::filesystem::file_size(it->second, ec);
      if (!ec && size <= kMaxLogFileBytes) text = CriLogText(base::ReadFile(it->second));
    }
    if (!text) {
      auto logs =
          RunCommand({options_.podman, "logs", c->Qualified()}, absl::Now() + kCommandTimeout);
      if (!logs.ok()) continue;
      text = std::move(logs->output);
    }
    const std::string dir = absl::StrCat(options_.workdir, "/logs/", c->pod);
    if (!base::MakeDirectories(dir, 0700).ok()) continue;
    (void)base::WriteFileAtomically(absl::StrCat(dir, "/", c->name, ".log"), *text);
  }
}

absl::Status PodmanBackend::Delete() {
  (void)AwaitStarted(absl::Now());  // a pod still starting is removed too; its error was told
  absl::Status status;
  if (!pods_.empty()) {
    SaveLogs();
    std::vector<std::string> args = {options_.podman, "pod", "rm", "--force", "--time=0"};
    args.insert(args.end(), pods_.begin(), pods_.end());
    auto rm = RunCommand(args, absl::Now() + kCommandTimeout);
    if (!rm.ok() || rm->exit_code != 0) {
      status = absl::UnavailableError(absl::StrCat(
          "`podman pod rm` of ", absl::StrJoin(pods_, " "), " failed: ",
          rm.ok() ? base::LastLines(rm->output, 3) : std::string(rm.status().message()),
          "; remove them with `podman pod rm --force NAME`"));
    }
    pods_.clear();
    running_.clear();
  }
  background_.SignalAll(SIGKILL);
  while (background_.running() > 0) background_.WaitAny(absl::InfiniteFuture());
  if (!secret_dirs_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(options_.workdir + "/secrets", ec);
    secret_dirs_.clear();
  }
  return status;
}

}  // namespace sluice::orchestrator
