// How a connector is invoked: its command as it is, or on the Airbyte CLI, with the files that
// CLI reads (config, catalog, state) written privately beside it.
//
//   auto argv = ConnectorCommand(spec.source, "read", workdir + "/source",
//                                {.catalog = spec.catalog_json, .state = committed});
//   // [source-postgres, read, --config, W/source/config.json, --catalog, W/source/catalog.json,
//   //  --state, W/source/state.json]
//
// The files are 0600: a config holds credentials. Their paths, never their content, are on the
// command line. RemoveConnectorFiles() deletes the configs when the sync ends.

#ifndef SLUICE_ORCHESTRATOR_CONNECTOR_H_
#define SLUICE_ORCHESTRATOR_CONNECTOR_H_

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <cstdio>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/spec.h"

namespace sluice::orchestrator {

struct ConnectorInputs {
  std::optional<std::string> catalog;  // the configured catalog (read, write)
  // The committed state of the last sync, as the state file holds it (a JSON array); read only.
  std::optional<std::string> state;
};

// A connector's command line and the files it names (config, catalog, state), not yet written:
// `argv` names them as `dir`/NAME wherever that directory is (a pod's secret volume).
struct ConnectorFile {
  std::string name;     // config.json, catalog.json or state.json
  std::string content;  // a config holds credentials
};
struct ConnectorCall {
  std::vector<std::string> argv;
  std::vector<ConnectorFile> files;
};
absl::StatusOr<ConnectorCall> PlanConnectorCall(const ConnectorSpec& connector,
                                                std::string_view verb, const std::string& dir,
                                                const ConnectorInputs& inputs);

// PlanConnectorCall, with the files written (0600) into `dir` on this machine.
// `verb` is spec, check, discover, read or write. A connector without a config runs its command
// unchanged. Files go into `dir`, which must exist.
absl::StatusOr<std::vector<std::string>> ConnectorCommand(const ConnectorSpec& connector,
                                                          std::string_view verb,
                                                          const std::string& dir,
                                                          const ConnectorInputs& inputs);

// Deletes the config ConnectorCommand wrote into `dir`, if any.
void RemoveConnectorFiles(const std::string& dir);

// The --state argument's content for a committed state file's: the array of STREAM states or
// the one GLOBAL state, as is; a LEGACY state as its `data`, as the platform passes it.
// Nothing (no --state) for an empty or unreadable one.
std::optional<std::string> StateArgument(std::string_view committed);

// `sluice spec|check|discover`: exit codes.
enum ConnectorVerbExit : int {
  kVerbOk = 0,              // the SPEC or CATALOG printed; check: SUCCEEDED
  kVerbCheckFailed = 1,     // check: the connector answered FAILED (its message is printed)
  kVerbUsage = 2,           // bad arguments or connector spec
  kVerbConnectorFailed = 20,  // it exited non-zero, or never gave the message, or timed out
};

// Runs `verb` (spec, check or discover) of `connector` as a child process, its config in a
// private temporary directory removed afterwards. Prints the answer (the SPEC's `spec`, the
// CONNECTION_STATUS's `connectionStatus`, the CATALOG's `catalog`) as JSON on `out`, and the
// connector's LOG and TRACE messages on stderr. Returns a ConnectorVerbExit.
int RunConnectorVerb(const ConnectorSpec& connector, std::string_view verb, absl::Duration timeout,
                     std::FILE* out);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_CONNECTOR_H_
