// What the orchestrator knows of a running sync, live: each relay's counters and final summary
// (from the report channels, dataplane/report_channel.h), the records committed per stream, and
// the connectors' LOG and TRACE messages, which it prints as they come.
//
// Committed counts, as the platform counts them: the source relay reports, for each STATE the
// source emits, the records it covers (a STREAM state its stream's records before it, a GLOBAL
// or LEGACY state every stream's). Those wait in a ledger until the destination echoes that
// STATE (matched by protocol::StateKey); then they are committed. An echo may arrive before
// the source relay's report of it (two connections): it waits too. The ledger holds at most
// kMaxLedgerStates states (and kMaxLedgerCells stream counts); past that the oldest are dropped
// and the committed counts are marked inexact, never guessed.
//
//   SyncProgress progress("pg-to-s3-source");
//   progress.OnReport(relay, line);   // from the control server's threads
//   progress.OnEcho(line);            // the destination's STATEs, from the state keeper
//   ProgressView view = progress.View();
//
// Thread-safe.

#ifndef SLUICE_ORCHESTRATOR_PROGRESS_H_
#define SLUICE_ORCHESTRATOR_PROGRESS_H_

#include <absl/time/time.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "orchestrator/backend.h"

namespace sluice::orchestrator {

struct StreamFigures {
  uint64_t records = 0;
  uint64_t bytes = 0;
};

struct RelayView {
  bool connected = false;
  uint64_t bytes = 0;
  double input_wait_seconds = 0, output_wait_seconds = 0;
  std::map<std::string, StreamFigures> streams;
  std::optional<std::string> summary;  // its final summary, once sent
  std::optional<int> listening_port;   // a listening relay's port, once bound
  uint64_t dropped_events = 0;
  absl::Time last_bytes_change = absl::InfinitePast();
};

struct ProgressView {
  std::map<std::string, RelayView> relays;  // by relay name
  std::map<std::string, uint64_t> committed;  // records committed per stream
  bool committed_exact = true;
  uint64_t echoes_unmatched = 0;  // echoed STATEs no source STATE was found for (yet)
};

class SyncProgress final : public ListeningPorts {
 public:
  static constexpr size_t kMaxLedgerStates = 100000;
  static constexpr size_t kMaxLedgerCells = 1000000;

  // `source_relay`: the relay whose STATE reports make the ledger (the source's).
  explicit SyncProgress(std::string source_relay);

  // One line of a relay's report channel.
  void OnReport(const std::string& relay, std::string_view line);
  // A STATE the destination echoed (its whole message line).
  void OnEcho(std::string_view line);
  // A LOG or TRACE message line a connector wrote (the destination's, read by the orchestrator
  // itself): printed with its level, as the relays' reports are.
  void OnConnectorMessage(const std::string& who, std::string_view line) const;

  ProgressView View() const;

  // The port the relay named `relay` reported it listens on (a pod's listening relay is named
  // after its pod).
  std::optional<int> ListeningPort(const std::string& relay) const override;
  std::optional<int> AwaitListeningPort(const std::string& relay, absl::Time until) const override;

 private:
  struct Pending {
    uint64_t key = 0;
    bool all_streams = false;  // GLOBAL or LEGACY
    std::vector<std::pair<std::string, uint64_t>> records;  // one stream, or all
  };
  void Ledger(Pending p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Commit(uint64_t key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Print(const std::string& relay, const std::string& what) const;

  const std::string source_relay_;
  mutable base::Mutex mu_;
  mutable base::CondVar port_reported_;  // signalled when a relay reports its port
  ProgressView view_ ABSL_GUARDED_BY(mu_);
  std::deque<Pending> ledger_ ABSL_GUARDED_BY(mu_);
  size_t ledger_cells_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<uint64_t> unmatched_ ABSL_GUARDED_BY(mu_);  // echoes waiting for their report
};

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_PROGRESS_H_
