// What the inspector knows about a stream of Airbyte messages: per-stream and per-type
// counters, the latest STATE checkpoints, TRACE errors, and what was not protocol.
//
// A value type: a snapshot is a copy, safe to keep, compare and hand to another thread.
//
//   InspectorStats s = inspector.Snapshot();
//   for (const auto& [id, st] : s.streams) printf("%s %lu\n", id.ToString().c_str(), st.records);

#ifndef SLUICE_PROTOCOL_STATS_H_
#define SLUICE_PROTOCOL_STATS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/message.h"

namespace sluice::protocol {

struct Counter {
  uint64_t count = 0;
  uint64_t bytes = 0;
  friend bool operator==(const Counter&, const Counter&) = default;
};

// A STATE checkpoint as the connector wrote it: the `state` object's JSON text, unmodified.
struct KeptState {
  uint64_t line = 0;  // 1-based line number of the STATE message
  uint64_t size = 0;  // bytes of the `state` object as written
  bool kept = false;  // false: larger than InspectorOptions::max_state_bytes, `raw` is empty
  std::string raw;
  friend bool operator==(const KeptState&, const KeptState&) = default;
};

struct StreamStats {
  uint64_t records = 0;
  uint64_t record_bytes = 0;  // whole RECORD lines, line terminator included
  // The `record.data` value serialized compactly: its bytes as written less the whitespace
  // outside strings. String escapes and numbers count as written.
  uint64_t data_bytes = 0;
  uint64_t states = 0;  // STATE messages naming this stream (STREAM, or in GLOBAL stream_states)
  uint64_t records_at_latest_state = 0;   // `records` when the latest of those arrived
  std::optional<KeptState> latest_state;  // the latest STREAM state for this descriptor
  std::string status;                     // latest TRACE STREAM_STATUS, "" when none
  std::optional<int64_t> row_estimate;    // latest TRACE ESTIMATE
  std::optional<int64_t> byte_estimate;
  friend bool operator==(const StreamStats&, const StreamStats&) = default;
};

struct TraceError {
  uint64_t line = 0;
  std::string message;       // at most InspectorOptions::max_error_bytes
  std::string failure_type;  // system_error | config_error | transient_error | "" when absent
  friend bool operator==(const TraceError&, const TraceError&) = default;
};

// A line that was not a protocol message, kept so logs can show what the connector printed.
struct LineSample {
  uint64_t line = 0;
  uint64_t bytes = 0;  // the whole line, terminator included
  std::string prefix;  // at most InspectorOptions::sample_bytes
  friend bool operator==(const LineSample&, const LineSample&) = default;
};

struct InspectorStats {
  uint64_t bytes = 0;           // everything consumed
  uint64_t lines = 0;           // terminated lines, plus a final unterminated one after Finish()
  uint64_t empty_lines = 0;     // "\n" or "\r\n"
  uint64_t oversize_lines = 0;  // longer than InspectorOptions::max_line_bytes
  std::array<Counter, kMessageTypeCount> types{};  // indexed by MessageType
  Counter non_protocol;                          // not JSON, or JSON that is not an Airbyte message
  std::vector<LineSample> non_protocol_samples;  // the first InspectorOptions::max_samples
  std::array<uint64_t, kStateKindCount> state_kinds{};  // indexed by StateKind
  uint64_t oversize_states = 0;  // STATE messages in oversize lines: counted, not kept
  std::optional<KeptState> latest_global;
  std::optional<KeptState> latest_legacy;
  std::array<uint64_t, kTraceKindCount> trace_kinds{};  // indexed by TraceKind
  uint64_t trace_errors = 0;                            // all TRACE ERROR messages
  std::vector<TraceError> errors;  // the first InspectorOptions::max_errors of them
  std::vector<std::pair<StreamId, StreamStats>> streams;  // sorted by StreamId
  // Messages naming streams beyond InspectorOptions::max_streams, counted together (their
  // latest_state is never kept). untracked_streams is false while every stream is tracked.
  bool untracked_streams = false;
  StreamStats untracked;
  // STATE messages not kept because kept state text reached max_total_state_bytes.
  uint64_t unkept_states = 0;
  bool unterminated_final_line = false;                   // the input ended without a newline

  // Lines classified by the canonical-shape fast path: a diagnostic, not part of the result.
  uint64_t fast_path_lines = 0;

  const Counter& type(MessageType t) const { return types[static_cast<size_t>(t)]; }
  // The stream's stats, or nullptr.
  const StreamStats* stream(const StreamId& id) const;
  // Equality of every result field; fast_path_lines is ignored.
  bool SameResults(const InspectorStats& other) const;
};

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_STATS_H_
