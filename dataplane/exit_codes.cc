#include "dataplane/exit_codes.h"

namespace sluice::dataplane {

std::string_view ExitCodeName(int code) {
  switch (code) {
    case kExitOk:
      return "ok";
    case kExitUsage:
      return "usage";
    case kExitFifo:
      return "fifo";
    case kExitConnectFailed:
      return "connect_failed";
    case kExitNoPeer:
      return "no_peer";
    case kExitAuthFailed:
      return "auth_failed";
    case kExitPeerLost:
      return "peer_lost";
    case kExitReaderGone:
      return "reader_gone";
    case kExitLingerTimeout:
      return "linger_timeout";
    case kExitIo:
      return "io";
    case kExitCorrupt:
      return "corrupt";
    case kExitTerminated:
      return "terminated";
    default:
      return "unknown";
  }
}

}  // namespace sluice::dataplane
