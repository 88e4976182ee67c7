#include "dataplane/relay_error.h"

#include <absl/strings/cord.h>
#include <absl/strings/numbers.h>

#include <cstring>

namespace sluice::dataplane {
namespace {
constexpr char kPayload[] = "sluice.dev/exit-code";

// The canonical code that means what the exit code means, for callers that read Status codes.
absl::StatusCode Canonical(ExitCode code) {
  switch (code) {
    case kExitOk:
      return absl::StatusCode::kOk;
    case kExitUsage:
      return absl::StatusCode::kInvalidArgument;
    case kExitFifo:
    case kExitReaderGone:
      return absl::StatusCode::kFailedPrecondition;
    case kExitConnectFailed:
    case kExitPeerLost:
      return absl::StatusCode::kUnavailable;
    case kExitNoPeer:
    case kExitLingerTimeout:
      return absl::StatusCode::kDeadlineExceeded;
    case kExitAuthFailed:
      return absl::StatusCode::kUnauthenticated;
    case kExitTerminated:
      return absl::StatusCode::kCancelled;
    case kExitCorrupt:
      return absl::StatusCode::kDataLoss;
    case kExitIo:
      break;
  }
  return absl::StatusCode::kInternal;
}
}  // namespace

absl::Status RelayError(ExitCode code, std::string message) {
  absl::Status status(Canonical(code), message);
  status.SetPayload(kPayload, absl::Cord(std::to_string(static_cast<int>(code))));
  return status;
}

absl::Status ErrnoError(ExitCode code, std::string message, int errno_value) {
  return RelayError(code, message + ": " + std::strerror(errno_value));
}

int ExitCodeOf(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  const auto payload = status.GetPayload(kPayload);
  int code = kExitIo;
  if (payload && absl::SimpleAtoi(std::string(*payload), &code)) return code;
  return kExitIo;
}

}  // namespace sluice::dataplane
