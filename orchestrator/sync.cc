#include "orchestrator/sync.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "base/files.h"
#include "dataplane/net.h"
#include "orchestrator/connector.h"
#include "orchestrator/control_server.h"
#include "orchestrator/display.h"
#include "orchestrator/echo_receiver.h"
#include "orchestrator/plan.h"
#include "protocol/report.h"

namespace sluice::orchestrator {
namespace {

void Log(const std::string& message) { std::fprintf(stderr, "sluice: %s\n", message.c_str()); }

// `bytes` random bytes, hex.
std::optional<std::string> RandomHex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) return std::nullopt;
  std::string hex;
  for (const unsigned char b : raw) absl::StrAppendFormat(&hex, "%02x", b);
  return hex;
}

void WriteReport(const std::string& report, const std::string& workdir,
                 const SyncOptions& options) {
  for (const std::string& path :
       {workdir.empty() ? std::string() : workdir + "/report.json", options.report_path}) {
    if (path.empty()) continue;
    if (auto s = base::WriteFileAtomically(path, report); !s.ok()) {
      Log(absl::StrCat("the report was not written: ", s.message()));
    }
  }
}

// The destination's stdout, as the state keeper reads it: its echoed STATEs go to the ledger of
// committed counts, its LOG and TRACE messages to the sync's log.
class EchoObserver final : public protocol::InspectorObserver {
 public:
  explicit EchoObserver(SyncProgress* progress) : progress_(progress) {}
  void OnMessage(protocol::MessageType type, std::string_view line,
                 const protocol::StateEvent*) override {
    if (type == protocol::MessageType::kState) {
      progress_->OnEcho(line);
    } else if (type == protocol::MessageType::kLog || type == protocol::MessageType::kTrace) {
      progress_->OnConnectorMessage("destination", line);
    }
  }

 private:
  SyncProgress* const progress_;
};

// A relay's summary as its channel delivered it; none when it never sent one.
MaybeSummary SummaryOf(const ProgressView& view, const std::string& relay) {
  const auto it = view.relays.find(relay);
  if (it == view.relays.end() || !it->second.summary) return std::nullopt;
  auto summary = dataplane::ParseRelaySummary(*it->second.summary);
  if (!summary.ok()) {
    Log(absl::StrCat("the summary of relay ", relay, " is unreadable (", summary.status().message(),
                     "): its counts are not known"));
    return std::nullopt;
  }
  return std::move(*summary);
}

// What the watch saw.
struct Watched {
  std::vector<Exited> exits;
  std::optional<Exited> cause;  // the failure Blame ranks first
  bool timed_out = false, interrupted = false, no_heartbeat = false;
};

// How long the watch waits for the exits of containers it killed.
constexpr absl::Duration kGiveUpAfterKill = absl::Seconds(30);

// Watches the pods and the orchestrator's relay until everything has exited. The first failure
// starts a grace period in which the rest may finish (the destination may still commit what it
// has); then every container is stopped (SIGTERM, SIGKILL after options.kill_grace).
Watched Watch(const SyncSpec& spec, const SyncOptions& options, const SyncPods& pods,
              Backend& backend, EchoReceiver& echo, const SyncProgress& progress,
              absl::Time started, const volatile std::sig_atomic_t* interrupted) {
  Watched w;
  ProcessGroup& own = echo.processes();
  ProgressDisplay display(spec.name, pods.source, pods.destination,
                          /*delivered_records=*/spec.inspect == Inspection::kBoth, stderr);
  const absl::Time pods_started = absl::Now();
  absl::Time next_look = absl::Now();
  const absl::Time sync_deadline =
      spec.timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : started + spec.timeout;
  absl::Time stop_at = absl::InfiniteFuture(), own_kill_at = absl::InfiniteFuture();
  absl::Time give_up_at = absl::InfiniteFuture();
  bool stopped = false;
  while (backend.running() > 0 || own.running() > 0) {
    const absl::Time now = absl::Now();
    if (now >= give_up_at) {
      // A backend that cannot say what ended (a container engine that hangs) must not hold
      // the sync forever: what it still counts as running is removed with its pods.
      Log(absl::StrCat(backend.running(), " containers did not report an exit ",
                       absl::FormatDuration(kGiveUpAfterKill),
                       " after they were killed: giving up on them"));
      break;
    }
    if (*interrupted && !w.interrupted) {
      w.interrupted = true;
      Log("interrupted: stopping the pods");
      stop_at = now;
    }
    // About four times a second: the display, and the source's heartbeat. A source that runs
    // and sends nothing for heartbeat_timeout is stuck, as the platform judged it.
    if (now >= next_look) {
      next_look = now + absl::Milliseconds(250);
      const ProgressView view = progress.View();
      display.Tick(view, now);
      const auto source_relay = view.relays.find(pods.source);
      const absl::Time heard = std::max(pods_started, source_relay == view.relays.end()
                                                          ? absl::InfinitePast()
                                                          : source_relay->second.last_bytes_change);
      if (!w.no_heartbeat && !w.cause && now - heard > spec.heartbeat_timeout &&
          backend.IsRunning(pods.source, "main")) {
        // Only the source is stopped: its relay then ends the stream, and the destination
        // commits what it received before it exits, as after any other failure.
        w.no_heartbeat = true;
        display.Clear();
        Log(absl::StrCat("the source sent nothing for ",
                         absl::FormatDuration(spec.heartbeat_timeout),
                         " (heartbeat_timeout): stopping it"));
        backend.Stop(pods.source, "main", options.kill_grace);
      }
    }
    if (now >= sync_deadline && !w.timed_out) {
      w.timed_out = true;
      Log(absl::StrCat("the sync ran past its timeout (", absl::FormatDuration(spec.timeout),
                       "): stopping the pods"));
      stop_at = now;
    }
    if (now >= stop_at && !stopped) {
      stopped = true;
      backend.StopAll(options.kill_grace);
      own.SignalAll(SIGTERM);
      own_kill_at = now + options.kill_grace;
      give_up_at = now + options.kill_grace + kGiveUpAfterKill;
    }
    if (now >= own_kill_at) {
      own.SignalAll(SIGKILL);
      own_kill_at = absl::InfiniteFuture();
    }
    std::vector<Exited> sweep = own.WaitAny(now);
    if (sweep.empty()) {
      sweep = backend.WaitAny(std::min({now + absl::Milliseconds(100), stop_at, own_kill_at}));
    }
    if (!sweep.empty()) display.Clear();
    for (const Exited& e : sweep) {
      w.exits.push_back(e);
      Log(absl::StrCat(e.pod, "/", e.container, " exited ", e.exit_code));
    }
    for (const Exited& e : sweep) {
      if (e.exit_code != 0 && (!w.cause || Blame(e, pods) < Blame(*w.cause, pods))) {
        if (!w.cause) stop_at = std::min(stop_at, absl::Now() + options.failure_grace);
        w.cause = e;
      }
    }
  }
  display.Clear();
  return w;
}

// Starts the plan's pods in order, each once the endpoints it names are known (resolved into
// `endpoints`, which holds the orchestrator's own), and returns once they take connections.
// A relay that connects where the orchestrator says is told by `name_peer` once all pods
// started and its peer's endpoint resolved. Cancelled when interrupted.
absl::Status StartPods(
    const SyncPlan& plan, Backend& backend, absl::Time deadline,
    const volatile std::sig_atomic_t* interrupted, std::map<Endpoint, std::string>* endpoints,
    const std::function<void(const std::string& relay, const std::string& address)>& name_peer) {
  // A port that was never taken, with the last words of the container that should have.
  const auto not_listening = [&](const Endpoint& e, const absl::Status& why) {
    std::string log;
    if (const PodPlan* named = plan.Find(e.pod)) {
      for (const ContainerPlan& c : named->containers) {
        for (const ContainerPort& p : c.ports) {
          if (p.name == e.port) log = backend.Logs(e.pod, c.name, 5);
        }
      }
    }
    return absl::UnavailableError(absl::StrCat(why.message(), log.empty() ? "" : ": ", log));
  };
  std::vector<Endpoint> resolved;
  // Into `endpoints`, once: a pod's endpoint and a relay's reported peer may be the same.
  const auto resolve = [&](const Endpoint& e) -> absl::Status {
    if (endpoints->contains(e)) return absl::OkStatus();
    auto address = backend.Resolve(e, deadline);
    if (!address.ok()) return not_listening(e, address.status());
    (*endpoints)[e] = *address;
    resolved.push_back(e);
    return absl::OkStatus();
  };
  for (const PodPlan& pod : plan.pods) {
    if (*interrupted) return absl::CancelledError("interrupted while the pods started");
    for (const Endpoint& e : pod.endpoints) {
      if (auto s = resolve(e); !s.ok()) return s;
    }
    if (auto s = backend.StartPod(plan, pod, *endpoints, deadline); !s.ok()) return s;
  }
  if (auto s = backend.AwaitStarted(deadline); !s.ok()) return s;
  for (const PodPlan& pod : plan.pods) {
    for (const auto& [relay, e] : pod.reported_peers) {
      if (*interrupted) return absl::CancelledError("interrupted while the pods started");
      if (auto s = resolve(e); !s.ok()) return s;
      name_peer(relay, endpoints->at(e));
    }
  }
  // Where the backend bound a port itself, the pods that connect to it did not wait for its
  // relay: a relay that died at start is a failed start all the same.
  for (const Endpoint& e : resolved) {
    if (auto s = backend.AwaitListening(e, deadline); !s.ok()) return not_listening(e, s);
  }
  return absl::OkStatus();
}

// The committed state file, as the keeper wrote it ("" when none): a state that could not be
// written fails a sync that was otherwise fine.
std::string CommittedStateWritten(const SyncSpec& spec, const StateKeeper::Outcome& echoed,
                                  const ProgressView& view, Verdict* verdict) {
  std::string written;
  if (!spec.state_file.empty() && echoed.state.echoed > 0) {
    if (echoed.written.ok()) {
      written = spec.state_file;
      Log(absl::StrCat("committed state (", echoed.state.messages, " STATE messages) written to ",
                       spec.state_file));
    } else {
      Log(absl::StrCat("the committed state was not persisted: ", echoed.written.message()));
      if (verdict->code == kSyncOk) {
        *verdict = {kSyncRelayFailed, "the committed state could not be written"};
      }
    }
  }
  if (!echoed.state.complete) {
    Log("WARNING: some STATE messages the destination echoed were too large (or too many) to "
        "keep: the committed state lacks those streams, and the next sync reads them again");
  }
  if (!view.committed_exact) {
    Log("WARNING: the committed counts are not exact: more STATEs were in flight than the "
        "ledger holds, or some could not be matched");
  }
  return written;
}

}  // namespace

absl::StatusOr<PlanInputs> DrawPlanInputs(const SyncSpec& spec) {
  const std::optional<std::string> secret = RandomHex(32);
  const std::optional<std::string> sync_id = RandomHex(4);
  if (!secret || !sync_id) {
    return absl::UnavailableError(
        "cannot draw the sync's secret: the system's random source failed");
  }
  PlanInputs inputs{.sync_id = *sync_id, .relay_secret = *secret, .state = std::nullopt};
  if (!spec.state_file.empty()) inputs.state = StateArgument(base::ReadFile(spec.state_file));
  return inputs;
}

int RunSync(const SyncSpec& spec, const SyncOptions& options,
            const volatile std::sig_atomic_t* interrupted) {
  const absl::Time started = absl::Now();
  std::string workdir = options.workdir;
  const bool own_workdir = workdir.empty();
  if (own_workdir) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/sluice-", spec.name, "-XXXXXX");
    if (mkdtemp(templ.data()) == nullptr) {
      Log(absl::StrCat("cannot create a work directory under ", tmp != nullptr ? tmp : "/tmp", ": ",
                       std::strerror(errno), "; give one with --workdir"));
      return kSyncStartFailed;
    }
    workdir = templ;
  } else if (mkdir(workdir.c_str(), 0700) != 0 && errno != EEXIST) {
    Log(absl::StrCat("cannot create ", workdir, ": ", std::strerror(errno)));
    return kSyncStartFailed;
  }
  // What a run before left in a work directory given again must not be taken for this one's.
  unlink((workdir + "/report.json").c_str());
  auto inputs = DrawPlanInputs(spec);
  if (!inputs.ok()) {
    Log(std::string(inputs.status().message()));
    return kSyncStartFailed;
  }
  const std::string& secret = inputs->relay_secret;
  Log(absl::StrCat("sync ", spec.name, " (", inputs->sync_id, ") on the ",
                   std::string(BackendKindName(options.backend)), " backend: work directory ",
                   workdir));

  SyncProgress progress(spec.name + "-source");
  std::vector<Exited> exits;
  std::unique_ptr<Backend> backend;
  // The end of the sync, whichever way it came: the report, and the work directory removed
  // after a success (kept after a failure, for debugging, without any secret).
  const auto finish = [&](Verdict verdict, const MaybeSummary& emitted,
                          const MaybeSummary& delivered, const StateKeeper::Outcome* echo,
                          const std::string& state_file) {
    if (backend) {
      if (auto s = backend->Delete(); !s.ok()) {
        Log(std::string(s.message()));
        if (verdict.code == kSyncOk) verdict = {kSyncRelayFailed, std::string(s.message())};
      }
    }
    const bool remove = own_workdir && verdict.code == kSyncOk && !options.keep_workdir;
    std::string table;
    const CommittedState none;
    const ProgressView view = progress.View();
    const std::string report =
        Report({spec, std::string(BackendKindName(options.backend)), inputs->sync_id, verdict,
                absl::Now() - started, remove ? "" : workdir, exits, emitted, delivered,
                echo ? &echo->stats : nullptr, echo ? echo->state : none, state_file, view},
               &table);
    WriteReport(report, remove ? "" : workdir, options);
    if (remove) std::filesystem::remove_all(workdir);
    if (!table.empty()) {
      std::fprintf(stderr, "  %-32s %14s %14s %14s %8s\n%s", "stream", "emitted", "delivered",
                   "committed", "states", table.c_str());
    }
    Log(absl::StrCat(
        "sync ", spec.name, " ", verdict.code == kSyncOk ? "succeeded" : "failed", " (",
        verdict.reason, ", exit ", verdict.code, ") in ",
        absl::FormatDuration(absl::Trunc(absl::Now() - started, absl::Milliseconds(1))),
        remove ? (options.report_path.empty() ? std::string() : "; report: " + options.report_path)
               : "; report: " + workdir + "/report.json"));
    return verdict.code;
  };
  const auto start_failed = [&](const std::string& why) {
    Log(why);
    return finish({kSyncStartFailed, why}, std::nullopt, std::nullopt, nullptr, "");
  };
  // Until the sync ends, the report says it runs: a report found after a crash tells the truth.
  WriteReport(
      absl::StrCat("{\"sync\":", protocol::JsonString(spec.name),
                   ",\"result\":\"running\",\"workdir\":", protocol::JsonString(workdir), "}\n"),
      workdir, options);

  auto made = MakeBackend(options.backend, {.workdir = workdir,
                                            .relay_path = options.relay_path,
                                            .ports = &progress,
                                            .kube = options.kube,
                                            .kube_namespace = options.kube_namespace,
                                            .advertise_address = options.advertise_address});
  if (!made.ok()) return start_failed(std::string(made.status().message()));
  backend = std::move(*made);
  // Where the pods reach this orchestrator: known before anything is created.
  auto host = backend->OrchestratorHost();
  if (!host.ok()) return start_failed(std::string(host.status().message()));
  // On loopback only where the pods are on this machine; else on every address, for the pods
  // to reach (each relay proves the sync's secret before anything it says is taken).
  const bool loopback = host->rfind("127.", 0) == 0 || *host == "::1" || *host == "localhost";
  const std::string listen_host = loopback ? *host : "";

  // The plan. The source resumes from the state the last sync committed.
  auto plan = MakePlan(spec, *inputs, backend->plan_options());
  if (!plan.ok()) return start_failed(std::string(plan.status().message()));
  if (inputs->state)
    Log(absl::StrCat("the source resumes from the state committed in ", spec.state_file));
  const SyncPods pods{plan->pods.back().name, plan->pods.front().name};

  // The orchestrator's own end: the relays report on a channel authenticated with the secret,
  // and the destination's stdout comes back to the state keeper.
  auto control = ControlServer::Start({listen_host, 0}, secret, &progress);
  if (!control.ok()) return start_failed(std::string(control.status().message()));
  const std::string report_to = dataplane::Address{*host, (*control)->port()}.ToString();
  EchoObserver echoes(&progress);
  const absl::Time start_deadline = absl::Now() + options.start_timeout;
  auto echo = EchoReceiver::Start({.spec = spec,
                                   .workdir = workdir,
                                   .relay_path = options.relay_path,
                                   .secret = secret,
                                   .report_to = report_to,
                                   .host = *host,
                                   .listen_host = listen_host,
                                   .state_write_interval = options.state_write_interval},
                                  &echoes, start_deadline);
  if (!echo.ok()) return start_failed(std::string(echo.status().message()));

  // The pods, in the plan's order: each once the endpoints it names are up.
  if (auto s = backend->CreateSecret(*plan); !s.ok()) return start_failed(std::string(s.message()));
  std::map<Endpoint, std::string> endpoints = {
      {{std::string(kOrchestrator), "report"}, report_to},
      {{std::string(kOrchestrator), "echo"}, (*echo)->address()}};
  const auto name_peer = [&control](const std::string& relay, const std::string& address) {
    (*control)->NamePeer(relay, address);
  };
  if (auto s = StartPods(*plan, *backend, start_deadline, interrupted, &endpoints, name_peer);
      !s.ok()) {
    if (s.code() == absl::StatusCode::kCancelled) {
      Log(std::string(s.message()));
      return finish({kSyncInterrupted, "interrupted"}, std::nullopt, std::nullopt, nullptr, "");
    }
    return start_failed(std::string(s.message()));
  }
  // The pods did not wait for the orchestrator's relay, whose port was bound for it: now it
  // must have taken it.
  if (auto s = (*echo)->AwaitListening(progress, start_deadline); !s.ok()) {
    return start_failed(std::string(s.message()));
  }
  Log(absl::StrCat("sync ", spec.name, ": pods started; the destination listens at ",
                   endpoints[{pods.destination, std::string(kRelayPortName)}]));

  const Watched watched =
      Watch(spec, options, pods, *backend, **echo, progress, started, interrupted);
  exits = watched.exits;

  // Every relay has exited: what they sent on their channels is read, summaries included.
  (*control)->Drain(absl::Now() + absl::Seconds(5));
  const ProgressView view = progress.View();
  const MaybeSummary emitted = SummaryOf(view, pods.source);
  const MaybeSummary delivered = SummaryOf(view, pods.destination);
  // The destination's stdout, as the keeper read it (its relay's summary says the same, but
  // only once it exits, and not at all when it was killed).
  const StateKeeper::Outcome echoed = (*echo)->Finish();

  Verdict verdict =
      watched.interrupted ? Verdict{kSyncInterrupted, "interrupted"}
      : watched.timed_out ? Verdict{kSyncTimedOut, "timed out"}
      : watched.no_heartbeat
          ? Verdict{kSyncSourceFailed, absl::StrCat("the source sent nothing for ",
                                                    absl::FormatDuration(spec.heartbeat_timeout),
                                                    " (heartbeat_timeout) while it ran")}
          : Judge(spec, watched.cause, pods, emitted, delivered);
  if (verdict.code == kSyncRelayFailed && watched.cause && !watched.cause->is_main) {
    const Exited& c = *watched.cause;
    Log(absl::StrCat("the end of ", c.pod, "/", c.container, "'s log:\n",
                     c.pod == EchoReceiver::PodName(spec) ? (*echo)->Logs(5)
                                                          : backend->Logs(c.pod, c.container, 5)));
  }

  const std::string state_written = CommittedStateWritten(spec, echoed, view, &verdict);
  echo->reset();  // its secret copy goes before the report says where the work directory is
  return finish(verdict, emitted, delivered, &echoed, state_written);
}

}  // namespace sluice::orchestrator
