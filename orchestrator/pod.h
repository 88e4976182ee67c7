// A pod as the orchestrator describes it, whatever the backend runs it on: init containers that
// run to completion in order, then containers that run together. The sync builds two (the
// source's and the destination's); the local backend runs them as processes, and the podman
// and kubernetes backends are to render the same description as Pod manifests.

#ifndef SLUICE_ORCHESTRATOR_POD_H_
#define SLUICE_ORCHESTRATOR_POD_H_

#include <string>
#include <utility>
#include <vector>

namespace sluice::orchestrator {

struct Container {
  std::string name;                                      // "main", "relay-stdout", ...
  std::vector<std::string> argv;                         // argv[0] is looked up in PATH
  std::vector<std::pair<std::string, std::string>> env;  // added to the inherited environment
  // Standard streams: a path to open (a FIFO in the pod's pipes directory, a log file), or ""
  // for /dev/null (stdin) or the orchestrator's own (stdout, stderr).
  std::string stdin_path;
  std::string stdout_path;
  std::string stderr_path;
  bool is_main = false;  // the connector itself, as opposed to a sidecar
};

struct Pod {
  std::string name;  // "<sync>-source", "<sync>-destination"
  std::vector<Container> init_containers;
  std::vector<Container> containers;
};

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_POD_H_
