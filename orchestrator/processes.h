// Child processes run as a pod's containers would be: a set of them starts after its "init"
// processes ran in order and exited 0, each with its standard streams opened on the paths its
// Process names (a FIFO open blocks in the child until the other end comes, as it would in a
// container). Children are reaped and each exit reported; nothing is restarted. The local
// backend runs pods with it; the orchestrator runs its own relay with it.
//
//   ProcessGroup group;
//   if (auto s = group.Start(set, deadline); !s.ok()) ...
//   while (group.running() > 0) { for (const Exited& e : group.WaitAny(deadline)) ... }
//
// Not thread-safe.

#ifndef SLUICE_ORCHESTRATOR_PROCESSES_H_
#define SLUICE_ORCHESTRATOR_PROCESSES_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/time/time.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "dataplane/unique_fd.h"
#include "orchestrator/backend.h"

namespace sluice::orchestrator {

struct Process {
  std::string name;                                      // "main", "relay-stdout", ...
  std::vector<std::string> argv;                         // argv[0] is looked up in PATH
  std::vector<std::pair<std::string, std::string>> env;  // added to the inherited environment
  // Standard streams: a path to open (a FIFO in the pod's pipes directory, a log file), or ""
  // for /dev/null (stdin) or the orchestrator's own (stdout, stderr).
  std::string stdin_path;
  std::string stdout_path;
  std::string stderr_path;
  bool is_main = false;  // the connector itself, as opposed to a sidecar
  // A listening socket the process inherits as file descriptor kInheritedListenFd, or -1: one
  // the orchestrator bound for a relay (`--listen-fd`). The caller closes its own copy.
  int listen_fd = -1;
};

// Where a process finds Process::listen_fd.
inline constexpr int kInheritedListenFd = 3;

struct ProcessSet {
  std::string name;  // names them in Exited::pod
  std::vector<Process> init_containers;
  std::vector<Process> containers;
};

class ProcessGroup {
 public:
  ProcessGroup() = default;
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;
  // Kills (SIGKILL) and reaps whatever still runs.
  ~ProcessGroup();

  // Runs the init processes (each within `init_deadline`), then starts the others.
  absl::Status Start(const ProcessSet& set, absl::Time init_deadline);

  // The exits of started processes found in one sweep (in no particular order: exits that
  // close together cannot be ordered by polling), or none at `deadline`.
  std::vector<Exited> WaitAny(absl::Time deadline);

  // Sends `sig` to every running process.
  void SignalAll(int sig);
  // Sends `sig` to one process, if it runs.
  void Signal(const std::string& pod, const std::string& container, int sig);

  size_t running() const { return children_.size(); }
  // Whether that process was started and has not exited (an exit WaitAny has not yet reported
  // counts as one).
  bool IsRunning(const std::string& pod, const std::string& container) const;

 private:
  struct Child {
    pid_t pid;
    std::string pod;
    std::string container;
    bool is_main;
    // Readable once the child exited: waits wake with the exit, not at the next look. Invalid
    // where the kernel has no pidfd_open (before 5.3): those children are looked at every 5 ms.
    dataplane::UniqueFd exit_fd;
  };
  absl::StatusOr<Child> Spawn(const Process& c);

  std::vector<Child> children_;
};

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_PROCESSES_H_
