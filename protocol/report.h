// Renders inspector statistics for people (a per-stream table) and for programs (JSON).
// Pure formatting: the caller writes the text where it wants.
//
//   std::string table = FormatTable(inspector.Snapshot());
//   std::string json = FormatJson(inspector.Snapshot());

#ifndef SLUICE_PROTOCOL_REPORT_H_
#define SLUICE_PROTOCOL_REPORT_H_

#include <string>
#include <string_view>

#include "protocol/stats.h"

namespace sluice::protocol {

// A fixed-width table: one row per stream, then totals by message type, state kinds, trace
// errors and samples of lines that were not protocol.
std::string FormatTable(const InspectorStats& stats);

// One JSON object with every field of `stats` (schema: docs in the README, "Summary JSON").
// Kept state checkpoints are embedded as JSON values, not strings.
std::string FormatJson(const InspectorStats& stats);

// The inverse of FormatJson: every field it writes comes back (a kept state's text minified).
// What it leaves out comes back empty: fast_path_lines, and of `untracked` all but its
// records, record_bytes, data_bytes and states. Returns false and sets `error`, naming the
// field, on text that is not FormatJson's.
[[nodiscard]] bool ParseJson(std::string_view json, InspectorStats* stats, std::string* error);

// `s` as a JSON string literal, quotes included. Bytes that are not UTF-8 become U+FFFD.
std::string JsonString(std::string_view s);

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_REPORT_H_
