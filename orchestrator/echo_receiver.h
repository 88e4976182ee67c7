// The orchestrator's own end of a sync, on this machine, whatever backend runs the pods: a
// relay receiving the destination's stdout (what it echoes: the STATEs it committed) into a
// FIFO, read by the StateKeeper, which persists the committed state as it comes.
//
//   auto echo = EchoReceiver::Start({...}, &observer, deadline);
//   endpoints[{"orchestrator", "echo"}] = (*echo)->address();
//   ... start the pods, then: if (auto s = (*echo)->AwaitListening(progress, deadline); ...)
//   ... watch (*echo)->processes() with the pods ...
//   StateKeeper::Outcome outcome = (*echo)->Finish();
//
// Its files live in WORKDIR/orchestrator: the FIFO, the relay's log, a copy of the relays'
// secret (0400, removed by the destructor). Not thread-safe.

#ifndef SLUICE_ORCHESTRATOR_ECHO_RECEIVER_H_
#define SLUICE_ORCHESTRATOR_ECHO_RECEIVER_H_

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <memory>
#include <string>

#include "orchestrator/committed_state.h"
#include "orchestrator/processes.h"
#include "orchestrator/progress.h"
#include "orchestrator/spec.h"
#include "protocol/inspector.h"

namespace sluice::orchestrator {

class EchoReceiver {
 public:
  struct Options {
    const SyncSpec& spec;
    std::string workdir;
    std::string relay_path;                 // sluice-relay on this machine
    std::string secret;                     // the relays' handshake secret
    std::string report_to;                  // the control server, host:port
    std::string host = "127.0.0.1";         // where the pods reach this machine
    std::string listen_host = "127.0.0.1";  // where its relay listens ("" for every address)
    absl::Duration state_write_interval = absl::Seconds(1);
  };

  // What names its relay's exit (Exited::pod).
  static std::string PodName(const SyncSpec& spec) { return spec.name + "-orchestrator"; }
  // The relay's name on its report channel.
  static std::string RelayName(const SyncSpec& spec) { return spec.name + "-echo"; }

  // Binds the relay's port, starts the relay on it and the keeper; returns without waiting
  // for the relay (address() is known at once), or fails at `deadline` (the init container's).
  // `observer` sees the destination's messages.
  static absl::StatusOr<std::unique_ptr<EchoReceiver>> Start(const Options& options,
                                                             protocol::InspectorObserver* observer,
                                                             absl::Time deadline);
  ~EchoReceiver();

  // Once the relay took its port: it reported it on `ports`. Fails when the relay exited before
  // (with its last words) or at `deadline`.
  absl::Status AwaitListening(const ListeningPorts& ports, absl::Time deadline);

  // host:port for the destination's relay-stdout.
  const std::string& address() const { return address_; }
  // Its relay, to watch beside the pods.
  ProcessGroup& processes() { return group_; }
  // The last lines of its relay's log.
  std::string Logs(size_t lines) const;
  // Once its relay exited: the keeper's last write and what it read.
  StateKeeper::Outcome Finish();

 private:
  EchoReceiver() = default;
  std::string dir_;
  std::string address_;
  std::string relay_;  // its name on the report channel
  std::string pod_;    // what names it in group_
  ProcessGroup group_;
  std::unique_ptr<StateKeeper> keeper_;
};

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_ECHO_RECEIVER_H_
