// The committed state, kept as the destination echoes it.
//
// A destination echoes a STATE once everything before it is durable: from then on that state
// is committed, and a crash of the orchestrator must not lose it. The StateKeeper reads the
// destination's stdout (the FIFO its relay writes into) on a thread of its own, inspects it,
// and writes the committed state file atomically whenever new STATEs arrived, at most once per
// `every`; Finish() writes it a last time. What the destination printed besides (its TRACE
// errors, lines that are not protocol) is in the statistics Finish() returns.
//
//   auto keeper = StateKeeper::Start(fifo, "state.json", absl::Seconds(1));
//   ... the sync runs ...
//   StateKeeper::Outcome outcome = (*keeper)->Finish();
//
// The committed state file is a JSON array of the `state` objects of the latest STATE messages:
// the latest per stream, or the global one, or the legacy one, as the platform passes them
// back to a source with --state.
//
// Thread-safe: Finish() may be called from any one thread, once.

#ifndef SLUICE_ORCHESTRATOR_COMMITTED_STATE_H_
#define SLUICE_ORCHESTRATOR_COMMITTED_STATE_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <memory>
#include <string>

#include "protocol/inspector.h"
#include "protocol/stats.h"

namespace sluice::orchestrator {

// The committed state in `stats` (the destination's echoed messages).
struct CommittedState {
  std::string json = "[]";  // the file's content, a JSON array
  size_t messages = 0;      // how many state objects it holds
  // False when some echoed state could not be kept (too large, over the inspector's budget,
  // or of a stream beyond its cap): the file then lacks those streams' cursors, so the next
  // sync reads them again from the start (duplicates, never a loss).
  bool complete = true;
  uint64_t echoed = 0;  // STATE messages echoed so far
};
CommittedState CommittedStateOf(const protocol::InspectorStats& stats);

class StateKeeper {
 public:
  struct Outcome {
    protocol::InspectorStats stats;  // the destination's stdout, inspected
    CommittedState state;
    absl::Status written;  // the last write of the state file ("" path: OK, nothing written)
  };

  // Opens `fifo` for reading (without waiting for a writer) and starts the reader. `state_file`
  // may be "": the state is then only kept, not written.
  // `observer` (may be null, not owned) sees the destination's messages as they are read.
  static absl::StatusOr<std::unique_ptr<StateKeeper>> Start(
      const std::string& fifo, std::string state_file, absl::Duration every,
      protocol::InspectorObserver* observer = nullptr);
  ~StateKeeper();
  StateKeeper(const StateKeeper&) = delete;
  StateKeeper& operator=(const StateKeeper&) = delete;

  // Reads what is left in the pipe without waiting for more, stops the reader, writes the
  // state file a last time.
  Outcome Finish();

 private:
  class Impl;
  explicit StateKeeper(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_COMMITTED_STATE_H_
