// The fast path: RECORD lines in the shapes the Python and Java CDKs write, read without
// parsing `record.data`.
//
// Accepted grammar (sp is zero or one ' '; anything else goes to the general reader):
//   line   := '{"type":' sp '"RECORD",' sp '"record":' sp '{' fields '"data":' sp data
//             ',' sp '"emitted_at":' sp int '}}'
//   fields := any order of, at most once each, '"stream":' sp str ',' sp  (required) and
//             '"namespace":' sp (str | 'null') ',' sp
//   str    := '"' bytes without '"', '\' or control characters '"'
//   data   := a '{...}' span accepted by ScanContainer() (protocol/json_scan.h)
//   int    := '-'? ('0' | [1-9][0-9]*)
// The whole line must also be valid UTF-8.
//
//   CanonicalRecord r;
//   if
//   (ReadCanonicalRecord(R"({"type":"RECORD","record":{"stream":"s","data":{},"emitted_at":1}})",
//   &r))
//     ... r.stream == "s", r.data_bytes == 2 ...

#ifndef SLUICE_PROTOCOL_CANONICAL_RECORD_H_
#define SLUICE_PROTOCOL_CANONICAL_RECORD_H_

#include <cstdint>
#include <string_view>

namespace sluice::protocol {

struct CanonicalRecord {
  bool has_namespace = false;  // false: absent or null
  std::string_view ns;         // views into the line
  std::string_view stream;
  uint64_t data_bytes = 0;  // compact size of `data`
  // Where `data` starts in the line, when ReadCanonicalRecord() read it; 0 when
  // ReadAnyOrderRecord() did. What comes before it is the stream's prefix (record_prefix.h).
  size_t data_offset = 0;
  // Where ReadAnyOrderRecord() found the values that change from one record of a stream to the
  // next: `data` at [data_begin, data_end) and `emitted_at`'s integer at [at_begin, at_end)
  // (both 0 when it has none). All 0 when ReadCanonicalRecord() read the line. The rest of the
  // line is the stream's shape (record_shape.h).
  size_t data_begin = 0;
  size_t data_end = 0;
  size_t at_begin = 0;
  size_t at_end = 0;
};

// Reads `line` (without its terminator). False when the line is not in the grammar above,
// which says nothing about whether it is a valid message. Reads only the bytes of `line`.
[[nodiscard]] bool ReadCanonicalRecord(std::string_view line, CanonicalRecord* out);

// The rest of a line whose first `data_offset` bytes are those of a line ReadCanonicalRecord()
// accepted, up to its `data` (CanonicalRecord::data_offset): ReadCanonicalRecord() of this line
// would read those bytes the same way, so this reads only `data` and the suffix after it, with
// the same checks. `prefix_ascii`: no byte before `data_offset` is >= 0x80. False when the line
// is not in the grammar from there (ReadCanonicalRecord() may still take it, another way:
// `data` after one more space, say); otherwise sets *data_bytes.
[[nodiscard]] bool ReadCanonicalTail(std::string_view line, size_t data_offset, bool prefix_ascii,
                                     uint64_t* data_bytes);

// The same message with its keys in any order and any JSON whitespace between tokens, as
// connectors built on other CDKs write it:
//   line   := ws '{' ws member (ws ',' ws member)* ws '}' ws, members '"type":' ws '"RECORD"'
//             and '"record":' ws record, once each (':' may have ws around it, here and below)
//   record := '{' ws field (ws ',' ws field)* ws '}', fields once each: '"stream":' str
//             (required), '"namespace":' (str | 'null'), '"data":' data (required),
//             '"emitted_at":' int; and any other field no reader counts ("meta", ...) with a
//             JSON value (strings with their escapes checked; containers as `data`)
// Keys with escapes, repeated known keys and other top-level keys are not in it (the general
// reader takes those lines, with their first-one-wins rules). Slower than
// ReadCanonicalRecord() on its shapes; same results on every line both accept.
[[nodiscard]] bool ReadAnyOrderRecord(std::string_view line, CanonicalRecord* out);

// The inspector's fast path: ReadCanonicalRecord(), else ReadAnyOrderRecord() unless the line
// already showed that it is another type of message.
[[nodiscard]] bool ReadRecordFast(std::string_view line, CanonicalRecord* out);

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_CANONICAL_RECORD_H_
