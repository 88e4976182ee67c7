// sluice-relay's exit codes: one per cause, so the orchestrator (and a person reading
// `kubectl get pod`) can tell what happened without the logs. The README lists them.

#ifndef SLUICE_DATAPLANE_EXIT_CODES_H_
#define SLUICE_DATAPLANE_EXIT_CODES_H_

#include <string_view>

namespace sluice::dataplane {

enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 2,           // bad flags or arguments
  kExitFifo = 10,           // a FIFO is missing, is not a FIFO, or cannot be opened
  kExitConnectFailed = 11,  // the peer refused or never listened before the deadline
  kExitNoPeer = 12,         // listening: nobody connected before the deadline
  kExitAuthFailed = 13,     // the peer did not prove the shared secret (or we could not)
  kExitPeerLost = 14,       // the connection was reset or closed mid-stream
  kExitReaderGone = 15,     // recv: the connector closed its stdin before the end
  kExitLingerTimeout = 16,  // send: all bytes sent, but the peer never closed
  kExitIo = 17,             // any other I/O error
  kExitCorrupt = 18,        // recv: the payload's checksum is not the one the sender sent
  kExitTerminated = 143,    // SIGTERM: in-flight bytes drained, then stopped (128 + 15)
};

std::string_view ExitCodeName(int code);

}  // namespace sluice::dataplane

#endif  // SLUICE_DATAPLANE_EXIT_CODES_H_
