// The outcome of a sync whose containers have all exited: one exit code and its reason (the
// verdict), and the report that says what is known of every count.
//
//   std::optional<Exited> cause;  // the failure blame ranks first, if any
//   Verdict v = Judge(spec, cause, pods, emitted, delivered);
//   std::string report = Report({...}, &table);
//
// Pure: no I/O.

#ifndef SLUICE_ORCHESTRATOR_OUTCOME_H_
#define SLUICE_ORCHESTRATOR_OUTCOME_H_

#include <absl/time/time.h>

#include <optional>
#include <string>
#include <vector>

#include "dataplane/relay_summary.h"
#include "orchestrator/backend.h"
#include "orchestrator/committed_state.h"
#include "orchestrator/progress.h"
#include "orchestrator/spec.h"
#include "protocol/stats.h"

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

// A relay's summary; none when it was killed before it sent one (nothing of it is known).
using MaybeSummary = std::optional<dataplane::RelaySummary>;

struct SyncPods {
  std::string source;       // the source pod's name
  std::string destination;  // the destination pod's name
};

// Which failure a sync's result names, lowest first (see outcome.cc).
int Blame(const Exited& e, const SyncPods& pods);

struct Verdict {
  int code = kSyncOk;
  std::string reason;
};

// The verdict once every container exited; `cause` is the exit Blame ranks first, if any failed.
Verdict Judge(const SyncSpec& spec, const std::optional<Exited>& cause, const SyncPods& pods,
              const MaybeSummary& emitted, const MaybeSummary& delivered);

struct ReportInput {
  const SyncSpec& spec;
  std::string backend;
  std::string sync_id;
  Verdict verdict;
  absl::Duration elapsed;
  std::string workdir;  // "" once removed
  const std::vector<Exited>& exits;
  const MaybeSummary& emitted;             // the source relay's
  const MaybeSummary& delivered;           // the destination's input relay's
  const protocol::InspectorStats* echoed;  // the destination's stdout, as the keeper read it
  const CommittedState& state;
  std::string state_file;        // "" when none was written
  const ProgressView& progress;  // committed counts
};

// The JSON report (one line); `table` gets the per-stream rows for people.
std::string Report(const ReportInput& r, std::string* table);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_OUTCOME_H_
