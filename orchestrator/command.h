// Runs a command to its end and captures what it prints: for the podman CLI.
//
//   auto r = RunCommand({"podman", "pod", "ls"}, absl::Now() + absl::Seconds(30));
//   if (r.ok() && r->exit_code == 0) ... r->output ...
//
// Thread-compatible.

#ifndef SLUICE_ORCHESTRATOR_COMMAND_H_
#define SLUICE_ORCHESTRATOR_COMMAND_H_

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <string>
#include <vector>

namespace sluice::orchestrator {

struct CommandResult {
  int exit_code = 0;   // 128 + signal number when a signal ended it
  std::string output;  // stdout and stderr, interleaved; at most its last 1 MiB
};

// Runs argv (argv[0] looked up in PATH) with stdin on /dev/null. A command still running at
// `deadline` is killed (its whole process group) and is a DeadlineExceeded error.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv, absl::Time deadline);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_COMMAND_H_
