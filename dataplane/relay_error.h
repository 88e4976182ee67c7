// Errors that end the relay carry their exit code (dataplane/exit_codes.h) inside an
// absl::Status, so every layer returns a Status and main() maps it to one exit code.
//
//   return RelayError(kExitFifo, "open /pipes/stdout: no such file");
//   ...
//   return ExitCodeOf(status);

#ifndef SLUICE_DATAPLANE_RELAY_ERROR_H_
#define SLUICE_DATAPLANE_RELAY_ERROR_H_

#include <absl/status/status.h>

#include <string>

#include "dataplane/exit_codes.h"

namespace sluice::dataplane {

absl::Status RelayError(ExitCode code, std::string message);
// The message with strerror(errno_value) appended.
absl::Status ErrnoError(ExitCode code, std::string message, int errno_value);
// The exit code a status carries: kExitOk for OK, kExitIo when it carries none.
int ExitCodeOf(const absl::Status& status);

}  // namespace sluice::dataplane

#endif  // SLUICE_DATAPLANE_RELAY_ERROR_H_
