#include "dataplane/relay_error.h"

#include <absl/strings/cord.h>
#include <absl/strings/numbers.h>

#include <cstring>

namespace sluice::dataplane {
namespace {
constexpr char kPayload[] = "sluice.dev/exit-code";
}  // namespace

absl::Status RelayError(ExitCode code, std::string message) {
  absl::Status status(absl::StatusCode::kUnavailable, message);
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
