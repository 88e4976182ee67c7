// A sync as its user writes it: a YAML file naming a source and a destination command.
//
//   name: pg-to-s3                  # [a-z0-9-], 1-40 characters: names the pods and files
//   source:
//     command: [my-source, read, --config, /secrets/source.json, --catalog, catalog.json]
//     env: {LOG_LEVEL: info}        # optional
//   destination:
//     command: [my-destination, write, --config, /secrets/destination.json]
//   relay:                           # optional
//     engine: auto                   # auto | uring | splice | copy
//     inspect: true
//     stall_timeout: 60s             # a relay gives up after this long without progress
//   state_file: state/pg-to-s3.json  # optional: where the committed state is written
//   timeout: 6h                      # optional: the whole sync (absl duration syntax)
//
//   absl::StatusOr<SyncSpec> spec = LoadSyncSpec("sync.yaml");
//
// Errors name the file, the line and the key, and say what is expected.

#ifndef SLUICE_ORCHESTRATOR_SPEC_H_
#define SLUICE_ORCHESTRATOR_SPEC_H_

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::orchestrator {

struct ConnectorSpec {
  std::vector<std::string> command;                      // argv; [0] is looked up in PATH
  std::vector<std::pair<std::string, std::string>> env;  // added to the inherited environment
};

struct SyncSpec {
  std::string name;
  ConnectorSpec source;
  ConnectorSpec destination;
  std::string engine = "auto";
  bool inspect = true;
  // A relay whose peer shows no progress for this long gives up (a destination that reads,
  // however slowly, is progress).
  absl::Duration stall_timeout = absl::Seconds(60);
  std::string state_file;  // "" for none
  absl::Duration timeout = absl::InfiniteDuration();
};

// `origin` names the text in errors ("sync.yaml").
absl::StatusOr<SyncSpec> ParseSyncSpec(std::string_view yaml, std::string_view origin);
absl::StatusOr<SyncSpec> LoadSyncSpec(const std::string& path);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_SPEC_H_
