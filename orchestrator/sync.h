// One sync, run to its end: the plan made from a SyncSpec (plan.h), its pods started on a
// backend (backend.h), watched, and their outcome (outcome.h) turned into one exit code, a
// report and the committed state.
//
// Data flow (every arrow between pods is TCP, authenticated with a per-sync secret):
//
//   source pod:       main --stdout FIFO--> relay send ----+
//                     main --stderr FIFO--> relay logs     |
//   destination pod:  relay recv --stdin FIFO--> main  <---+
//                     main --stdout FIFO--> relay send ----+
//                     main --stderr FIFO--> relay logs     |
//   orchestrator:     relay recv (inspecting) --> FIFO --> the destination's messages, kept
//
// The source relay's counters are what the source emitted; the destination relay's, what
// reached the destination; STATE messages the destination echoes are what it committed.
//
//   int code = RunSync(spec, options, &interrupted);

#ifndef SLUICE_ORCHESTRATOR_SYNC_H_
#define SLUICE_ORCHESTRATOR_SYNC_H_

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <csignal>
#include <string>

#include "orchestrator/backend.h"
#include "orchestrator/outcome.h"
#include "orchestrator/plan.h"
#include "orchestrator/spec.h"

namespace sluice::orchestrator {

struct SyncOptions {
  BackendKind backend = BackendKind::kLocal;
  // On this machine, for the local backend's pods and the orchestrator's own relay; looked up
  // in PATH unless it has a '/'.
  std::string relay_path = "sluice-relay";
  // Pipes, secrets, logs, manifests; "" for a new one under $TMPDIR, removed at the end.
  std::string workdir;
  std::string report_path;  // also write the report here; "" for the workdir only
  absl::Duration start_timeout = absl::Seconds(60);  // pods started, relays listening
  absl::Duration failure_grace = absl::Seconds(30);  // after a failure, before SIGTERM
  absl::Duration kill_grace = absl::Seconds(15);     // after SIGTERM, before SIGKILL
  // The committed state file is rewritten at most this often while the sync runs.
  absl::Duration state_write_interval = absl::Seconds(1);
  // Keep the work directory this orchestrator created even after a success (it is always kept
  // after a failure, for debugging; the secret in it is always removed).
  bool keep_workdir = false;
  // The kubernetes backend: where the API server is, the namespace ("" for the kubeconfig's),
  // and where the pods reach this orchestrator (BackendOptions).
  KubeConfigOptions kube;
  std::string kube_namespace;
  std::string advertise_address;
};

// What a run of `spec` adds to it: a new sync id and relay secret (from the system's random
// source), and the state the source resumes from (StateArgument of the spec's state_file).
absl::StatusOr<PlanInputs> DrawPlanInputs(const SyncSpec& spec);

// Runs the sync; returns a SyncExit. Logs to stderr. `interrupted` is set by the caller's
// signal handler.
int RunSync(const SyncSpec& spec, const SyncOptions& options,
            const volatile std::sig_atomic_t* interrupted);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_SYNC_H_
