// A sync as its user writes it: a YAML file naming a source and a destination connector.
//
//   name: pg-to-s3                  # [a-z0-9-], 1-40 characters: names the pods and files
//   source:
//     image: airbyte/source-postgres:3.6   # the container backends run this image
//     command: [source-postgres]           # the local backend runs this command
//     config: {host: db, password: ...}    # or config_file: source.json (JSON)
//     env: {LOG_LEVEL: info}               # optional
//   destination:
//     command: [destination-s3]
//     config_file: destination.json
//   catalog_file: catalog.json       # the configured catalog (or catalog: {streams: [...]})
//   relay:                           # optional
//     engine: auto                   # auto | uring | splice | copy
//     inspect: true                  # true (count once) | both | false (see Inspection)
//     stall_timeout: 60s             # a relay gives up after this long without progress
//     image: localhost/sluice-relay:dev   # the container backends' relay (and init) image
//     resources:                     # each relay container's, as in a Pod (these are defaults)
//       requests: {cpu: 100m, memory: 64Mi}
//       limits: {cpu: "1", memory: 256Mi}
//     native_sidecars: false         # kubernetes 1.29+: relays as restartable init containers
//   state_file: state/pg-to-s3.json  # optional: the committed state, written and resumed from
//   timeout: 6h                      # optional: the whole sync (absl duration syntax)
//   heartbeat_timeout: 3h            # optional: the source sending nothing this long fails it
//
// A connector with a config runs as Airbyte runs connectors: `read --config F --catalog F
// [--state F]` and `write --config F --catalog F` are appended to its command, with the files
// written by the orchestrator into the sync's private work directory. A connector without one
// runs its command as it is. Files named in the spec are relative to the spec's directory.
//
//   absl::StatusOr<SyncSpec> spec = LoadSyncSpec("sync.yaml");
//
// Errors name the file, the line and the key, and say what is expected. A config's values are
// secrets: no error, log or report quotes them.

#ifndef SLUICE_ORCHESTRATOR_SPEC_H_
#define SLUICE_ORCHESTRATOR_SPEC_H_

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/engine.h"

namespace sluice::orchestrator {

struct ConnectorSpec {
  std::string image;                                     // for the container backends
  std::vector<std::string> command;                      // argv; [0] is looked up in PATH
  std::vector<std::pair<std::string, std::string>> env;  // added to the inherited environment
  // The connector's config as a JSON object's text; absent for a command run as it is.
  std::optional<std::string> config_json;
};

// CPU and memory of a container, as Kubernetes quantities ("100m", "256Mi"); "" for unset.
struct Resources {
  std::string cpu_request = "100m";
  std::string memory_request = "64Mi";
  std::string cpu_limit = "1";
  std::string memory_limit = "256Mi";
  friend bool operator==(const Resources&, const Resources&) = default;
};

// Which relays read the Airbyte messages as they pass.
enum class Inspection {
  kOff,  // neither: the verdict rests on exit codes and byte counts alone
  // The source's relay counts every message and checksums the payload; the destination's relay
  // checksums what it delivers and checks the two agree, so the source's counts are the
  // delivered ones without a second parse ("count once"). When the stream is cut mid-way (a
  // relay or the network failed), records delivered per stream are unknown, not guessed.
  kSource,
  // Both relays count: records delivered per stream are known even when the stream was cut,
  // and progress shows them live. Each relay parses every line: the sync moves fewer MB/s.
  kBoth,
};

struct SyncSpec {
  std::string name;
  ConnectorSpec source;
  ConnectorSpec destination;
  dataplane::EngineKind engine = dataplane::EngineKind::kAuto;
  Inspection inspect = Inspection::kSource;
  // A relay whose peer shows no progress for this long gives up (a destination that reads,
  // however slowly, is progress).
  absl::Duration stall_timeout = absl::Seconds(60);
  std::string relay_image = "localhost/sluice-relay:dev";  // relays and init containers
  Resources relay_resources;
  // Relays as native sidecars (init containers with restartPolicy Always): Kubernetes stops
  // them after the connector. Only the kubernetes backend honours it; podman ignores
  // restartPolicy on init containers, so it always gets ordinary containers.
  bool native_sidecars = false;
  std::optional<std::string> catalog_json;  // the configured catalog, a JSON object's text
  std::string state_file;  // "" for none
  absl::Duration timeout = absl::InfiniteDuration();
  // The source sending nothing for this long, while it runs, fails the sync (the platform's
  // heartbeat).
  absl::Duration heartbeat_timeout = absl::Hours(3);
};

// `origin` names the text in errors ("sync.yaml"); files the spec names are relative to its
// directory.
absl::StatusOr<SyncSpec> ParseSyncSpec(std::string_view yaml, std::string_view origin);
absl::StatusOr<SyncSpec> LoadSyncSpec(const std::string& path);

// One connector alone, for `sluice spec|check|discover CONNECTOR.yaml`: the keys a source or a
// destination has in a sync spec, at the top level.
absl::StatusOr<ConnectorSpec> ParseConnectorSpec(std::string_view yaml, std::string_view origin);
absl::StatusOr<ConnectorSpec> LoadConnectorSpec(const std::string& path);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_SPEC_H_
