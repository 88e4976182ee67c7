// One sync, run to its end: the pods built from a SyncSpec, started on the local backend,
// watched, and their outcome turned into one exit code, a report and the committed state.
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

#include <absl/time/time.h>

#include <csignal>
#include <string>

#include "orchestrator/spec.h"

namespace sluice::orchestrator {

// `sluice run` exit codes.
enum SyncExit : int {
  kSyncOk = 0,
  kSyncUsage = 2,               // bad flags, or a spec that does not parse
  kSyncSourceFailed = 20,       // the source connector exited non-zero
  kSyncDestinationFailed = 21,  // the destination exited non-zero, or stopped reading
  kSyncRelayFailed = 22,        // a relay failed, or the counts do not add up
  kSyncTimedOut = 23,           // the spec's timeout passed
  kSyncStartFailed = 24,        // a pod could not start (init container, relay, command)
  kSyncInterrupted = 143,       // SIGINT or SIGTERM
};

struct SyncOptions {
  std::string relay_path = "sluice-relay";  // looked up in PATH unless it has a '/'
  // Pipes, secret, logs, summaries; "" for a new one under $TMPDIR, removed at the end.
  std::string workdir;
  std::string report_path;  // also write the report here; "" for the workdir only
  absl::Duration start_timeout = absl::Seconds(30);  // init containers, relays listening
  absl::Duration failure_grace = absl::Seconds(30);  // after a failure, before SIGTERM
  absl::Duration kill_grace = absl::Seconds(15);     // after SIGTERM, before SIGKILL
  // The committed state file is rewritten at most this often while the sync runs.
  absl::Duration state_write_interval = absl::Seconds(1);
  // Keep the work directory this orchestrator created even after a success (it is always kept
  // after a failure, for debugging; the secret in it is always removed).
  bool keep_workdir = false;
};

// Runs the sync; returns a SyncExit. Logs to stderr. `interrupted` is set by the caller's
// signal handler.
int RunSync(const SyncSpec& spec, const SyncOptions& options,
            const volatile std::sig_atomic_t* interrupted);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_SYNC_H_
