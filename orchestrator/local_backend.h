// The local backend: pods as processes on this machine, no container engine needed.
//
// Init containers run in order and must exit 0; then a pod's containers start together, each
// a child process with its standard streams opened on the paths its Container names (a FIFO
// open blocks in the child until the other end comes, as it would in the container). The
// backend reaps children and reports each exit; it never restarts anything.
//
//   LocalBackend backend;
//   if (auto s = backend.StartPod(pod, deadline); !s.ok()) ...
//   while (backend.running() > 0) { for (const Exited& e : backend.WaitAny(deadline)) ... }
//
// Not thread-safe.

#ifndef SLUICE_ORCHESTRATOR_LOCAL_BACKEND_H_
#define SLUICE_ORCHESTRATOR_LOCAL_BACKEND_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/time/time.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "orchestrator/pod.h"

namespace sluice::orchestrator {

struct Exited {
  std::string pod;
  std::string container;
  bool is_main = false;
  int exit_code = 0;  // 128 + signal number when a signal ended it
};

class LocalBackend {
 public:
  LocalBackend() = default;
  LocalBackend(const LocalBackend&) = delete;
  LocalBackend& operator=(const LocalBackend&) = delete;
  // Kills (SIGKILL) and reaps whatever still runs.
  ~LocalBackend();

  // Runs the init containers (each within `init_deadline`), then starts the containers.
  absl::Status StartPod(const Pod& pod, absl::Time init_deadline);

  // The exits of started containers found in one sweep (in no particular order: exits that
  // close together cannot be ordered by polling), or none at `deadline`.
  std::vector<Exited> WaitAny(absl::Time deadline);

  // Sends `sig` to every running container.
  void SignalAll(int sig);
  // Sends `sig` to one container, if it runs.
  void Signal(const std::string& pod, const std::string& container, int sig);

  size_t running() const { return children_.size(); }
  bool IsRunning(const std::string& pod, const std::string& container) const;

 private:
  struct Child {
    pid_t pid;
    std::string pod;
    std::string container;
    bool is_main;
  };
  absl::StatusOr<pid_t> Spawn(const Container& c);

  std::vector<Child> children_;
};

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_LOCAL_BACKEND_H_
