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
};

// Reads `line` (without its terminator). False when the line is not in the grammar above,
// which says nothing about whether it is a valid message. Reads only the bytes of `line`.
[[nodiscard]] bool ReadCanonicalRecord(std::string_view line, CanonicalRecord* out);

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_CANONICAL_RECORD_H_
