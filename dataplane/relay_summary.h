// What a relay says when it exits: one JSON object, written by the relay (on its report channel
// and --summary) and read by the orchestrator. This file owns the format; nothing else writes
// or parses it.
//
//   {"relay":{"mode":"send","connector":NAME,"engine":"splice","engine_reason":"...",
//             "peer":"127.0.0.1:9000","bytes":N,"unread_bytes":N,"seconds":S,
//             "input_wait_seconds":S,"output_wait_seconds":S,"exit_code":N,
//             "input_complete":B,"checksum":null|"16 hex digits","exit_reason":"ok",
//             "error":null|"...","bottleneck":"..."},
//    "inspector":null|{protocol::FormatJson's object}}
//
//   std::string json = FormatRelaySummary(summary);
//   absl::StatusOr<RelaySummary> back = ParseRelaySummary(json);
//
// A value type.

#ifndef SLUICE_DATAPLANE_RELAY_SUMMARY_H_
#define SLUICE_DATAPLANE_RELAY_SUMMARY_H_

#include <absl/status/statusor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/stats.h"

namespace sluice::dataplane {

struct RelaySummary {
  std::string mode;       // send | recv
  std::string connector;  // its --name
  std::string engine, engine_reason;
  std::string peer;
  uint64_t bytes = 0;         // moved into its output
  uint64_t unread_bytes = 0;  // recv: left in the FIFO by a connector that stopped reading
  double seconds = 0, input_wait_seconds = 0, output_wait_seconds = 0;
  int exit_code = 0;
  bool input_complete = false;  // it read its input to the end: its counts cover all of it
  // The XXH3-64 of every payload byte it moved (dataplane/end_marker.h), as 16 hex digits; none
  // when it did not checksum (send: not inspecting; recv: neither inspecting nor verifying).
  std::optional<std::string> checksum;
  std::string exit_reason;
  std::optional<std::string> error;
  std::string bottleneck;
  std::optional<protocol::InspectorStats> inspector;  // none with --no-inspect
};

// One line, newline included.
std::string FormatRelaySummary(const RelaySummary& summary);

// An error names what is missing or wrong.
absl::StatusOr<RelaySummary> ParseRelaySummary(std::string_view json);

}  // namespace sluice::dataplane

#endif  // SLUICE_DATAPLANE_RELAY_SUMMARY_H_
