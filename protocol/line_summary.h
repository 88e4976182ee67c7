// What one line says, as the inspector's readers report it. Internal to protocol/.
//
// The rules every reader follows (and the reference in protocol/testing/ restates):
// - The line is a message when it is a JSON object whose first `type` key holds one of the nine
//   type names and the payload rules below hold. Otherwise it is not protocol.
// - Duplicate keys: the first occurrence counts. Keys are compared after unescaping.
// - A descriptor is an object with a string `name` and a `namespace` that is a string, null or
//   absent. Anything else is "no descriptor": the message still counts, unattributed.
// - RECORD: `record` is an object with a string `stream` and a `namespace` that is a string,
//   null or absent; else not protocol. data_bytes is the compact size of `data` (0 if absent).
// - STATE: `state` is an object whose `type` is absent (LEGACY) or one of STREAM, GLOBAL,
//   LEGACY; else not protocol. STREAM: the descriptor at `stream.stream_descriptor`. GLOBAL: the
//   descriptors at `global.stream_states[*].stream_descriptor`. raw_state is the `state` object
//   as written.
// - TRACE: `trace` is an object; else not protocol. Its `type` gives the kind (kOther when not a
//   known string). ERROR: `error.message`, `error.failure_type` (strings, else ""). ESTIMATE:
//   descriptor from `estimate.name` / `estimate.namespace`, `row_estimate` and
//   `byte_estimate` when they are integers that fit int64. STREAM_STATUS: the descriptor at
//   `stream_status.stream_descriptor` and `stream_status.status` (a string, else "").
// - Other types: the payload is not read.

#ifndef SLUICE_PROTOCOL_LINE_SUMMARY_H_
#define SLUICE_PROTOCOL_LINE_SUMMARY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/message.h"

namespace sluice::protocol {

struct LineSummary {
  bool is_message = false;
  MessageType type = MessageType::kLog;
  // RECORD's stream; the descriptor of a STREAM state, an ESTIMATE or a STREAM_STATUS.
  bool has_stream = false;
  StreamId stream;
  uint64_t data_bytes = 0;
  StateKind state_kind = StateKind::kLegacy;
  std::vector<StreamId> global_streams;
  std::string_view raw_state;  // into the line; valid while the line is
  bool state_kept = true;      // false in oversize lines: raw_state is empty
  bool trace_details = true;   // false in oversize lines: trace_kind and below are not read
  TraceKind trace_kind = TraceKind::kOther;
  std::string error_message;
  std::string failure_type;
  std::string status;
  std::optional<int64_t> row_estimate;
  std::optional<int64_t> byte_estimate;

  // Back to "not protocol", keeping string capacity for the next line.
  void Clear() {
    is_message = false;
    type = MessageType::kLog;
    has_stream = false;
    stream.ns.reset();
    stream.name.clear();
    data_bytes = 0;
    state_kind = StateKind::kLegacy;
    global_streams.clear();
    raw_state = {};
    state_kept = true;
    trace_details = true;
    trace_kind = TraceKind::kOther;
    error_message.clear();
    failure_type.clear();
    status.clear();
    row_estimate.reset();
    byte_estimate.reset();
  }
};

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_LINE_SUMMARY_H_
