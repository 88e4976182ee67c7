// sluice-relay's modes as functions, so tests and the CLI share them.
//
//   send  FIFO (the connector's stdout) -> TCP
//   recv  TCP -> FIFO (the connector's stdin)
//   logs  FIFO (stderr) -> our stderr, line by line, prefixed with the connector's name
//   init  create the FIFOs (an init container needs no shell)
//
// send and recv either --listen or --connect. Before any payload byte the two ends run the
// handshake of dataplane/auth.h unless --insecure-no-auth. EOF is end to end: send reaches EOF
// on the FIFO, delivers every byte, half-closes, and waits for the peer to close; recv sees the
// half-close, delivers every byte to the FIFO, closes it (the connector sees end of input),
// then closes the connection.
//
//   RelayConfig config;  // ... from flags
//   int exit_code = RunTransfer(config, stop_fd);

#ifndef SLUICE_DATAPLANE_RELAY_H_
#define SLUICE_DATAPLANE_RELAY_H_

#include <absl/time/time.h>

#include <string>
#include <vector>

#include "dataplane/engine.h"
#include "protocol/inspector.h"

namespace sluice::dataplane {

// send: FIFO -> TCP; recv: TCP -> FIFO.
enum class Mode { kSend, kRecv };
std::string ModeName(Mode mode);  // "send", "recv"

struct RelayConfig {
  Mode mode = Mode::kSend;
  std::string name = "connector";  // for logs and metric labels
  std::string fifo;
  std::string listen;  // exactly one of listen, listen_fd, connect and connect_reported
  // A listening TCP socket inherited from whoever started the relay, bound already: the
  // orchestrator's local backend binds it, so the peer's address is known before the relay runs.
  int listen_fd = -1;
  std::string connect;
  // Connect to the address the orchestrator names on the report channel: the relay can start
  // before its peer's pod has an address. Needs report_to (and so the secret).
  bool connect_reported = false;
  // connect: retry until then (with connect_reported, the wait for the address counts too)
  absl::Duration connect_timeout = absl::Seconds(120);
  absl::Duration accept_timeout = absl::Seconds(300);   // listen: wait for a peer until then
  absl::Duration handshake_timeout = absl::Seconds(10);
  absl::Duration linger_timeout = absl::Seconds(60);  // send: wait for the peer's close
  absl::Duration drain_timeout = absl::Seconds(10);   // SIGTERM: flush in-flight bytes
  EngineKind engine = EngineKind::kAuto;
  bool inspect = true;
  // recv, authenticated: checksum the payload even when not inspecting, and check it against
  // the sender's (dataplane/end_marker.h). With inspection on it is checked anyway: the
  // checksum rides along with the inspector's copy of the bytes. The orchestrator asks it of
  // the destination's relay when only the source's inspects ("count once").
  bool verify = false;
  protocol::InspectorOptions inspector;
  std::string secret_file;
  std::string secret_env = "SLUICE_SECRET";
  bool insecure_no_auth = false;
  std::string metrics_addr;  // "" for none
  std::string summary_path;  // "" for none
  std::string port_file;     // listen: the bound port is written here (atomically); "" for none
  // The orchestrator's address for the live report channel (dataplane/report_channel.h); ""
  // for none. Needs the secret (not with --insecure-no-auth).
  std::string report_to;
  // Also report the connector's messages (what each STATE covers, LOG, TRACE) on that channel,
  // not only counters and the summary. The orchestrator asks it of the source's relay.
  bool report_messages = false;
  size_t pipe_bytes = 1 << 20;
};

// send or recv; returns the exit code (dataplane/exit_codes.h). Logs to stderr. `stop_fd`
// becomes readable on SIGTERM.
int RunTransfer(const RelayConfig& config, int stop_fd);

// logs: copies `fifo` to stderr line by line, each prefixed "[name] ". Lines longer than
// 64 KiB are split, the pieces marked " [continued]". Returns the exit code.
int RunLogs(const std::string& fifo, const std::string& name, int stop_fd);

// init: creates each FIFO with `mode` (an existing FIFO is left as it is) and, when
// `install_entrypoint` is not empty, copies sluice-entrypoint (found beside this binary) there,
// executable, for a main container whose image has no shell. Returns the exit code.
int RunInit(const std::vector<std::string>& paths, unsigned mode,
            const std::string& install_entrypoint = "");

}  // namespace sluice::dataplane

#endif  // SLUICE_DATAPLANE_RELAY_H_
