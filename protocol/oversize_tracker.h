// Reads a line longer than the inspector's buffer as it streams past, in constant memory:
// top-level `type`, `record.stream`, `record.namespace`, the compact size of `record.data` and
// `state.type`. It checks JSON structure (strings, brackets, commas, colons) and UTF-8; atoms
// (numbers, true, false, null) are not checked beyond their characters.
//
//   OversizeTracker t;
//   t.Feed(first_part); t.Feed(second_part);
//   LineSummary s;
//   bool message = t.Finish(&s);   // s.type, s.stream, s.data_bytes, s.state_kind

#ifndef SLUICE_PROTOCOL_OVERSIZE_TRACKER_H_
#define SLUICE_PROTOCOL_OVERSIZE_TRACKER_H_

#include <simdjson.h>

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/line_summary.h"

namespace sluice::protocol {

// Not thread-safe. Memory: a few KiB, whatever the line length.
class OversizeTracker {
 public:
  static constexpr size_t kMaxDepth = 1024;
  static constexpr size_t kMaxKeyBytes = 64;         // longer keys are none of ours
  static constexpr size_t kMaxCapturedBytes = 4096;  // longer names: the line is unattributed

  OversizeTracker() { Reset(); }

  void Reset();
  // The next bytes of the line (no terminator).
  void Feed(std::string_view bytes);
  // Ends the line. Returns out->is_message; fills it per protocol/line_summary.h, except that
  // STATE and TRACE payloads are not kept (state_kept and trace_details are false).
  bool Finish(LineSummary* out);

 private:
  enum class Expect : uint8_t {
    kValue,
    kValueOrClose,
    kKey,
    kKeyOrClose,
    kColon,
    kCommaOrClose,
    kDone
  };
  // What the value being read means to us.
  enum class Role : uint8_t {
    kNone,
    kType,
    kRecord,
    kState,
    kTrace,
    kStream,
    kNamespace,
    kData,
    kStateType
  };
  enum class Top : uint8_t { kOther, kRecord, kState };  // the depth-1 value we are inside

  void Fail() { failed_ = true; }
  bool Utf8Step(uint8_t b);
  // A value starts with `c` at the current depth: notes what it means to us.
  Role BeginValue(char c);
  void EndString();
  void EndAtom();
  void Capture(char c);
  // Bytes inside a string that need no attention: validated and counted in bulk.
  size_t SkipPlainStringBytes(const char* p, const char* end);

  bool failed_;
  Expect expect_;
  size_t depth_;
  std::bitset<kMaxDepth + 1> is_object_;  // per depth: object (1) or array (0)
  // Strings.
  bool in_string_, escape_, string_is_key_;
  Role string_role_;
  std::string capture_;  // key or value string being captured (raw, escapes included)
  bool capture_overflow_;
  // Keys and roles.
  std::string key_[3];  // the current key at depths 1 and 2 (unescaped)
  Top top_;
  Role atom_role_;  // an atom value in progress
  bool in_atom_;
  // Data counting.
  bool data_active_;
  uint64_t data_bytes_;
  // UTF-8 (Unicode table 3-7).
  uint8_t utf8_need_, utf8_lo_, utf8_hi_;
  // Results.
  bool seen_type_, type_is_string_, seen_record_, record_is_object_, seen_state_, state_is_object_;
  bool seen_trace_, trace_is_object_, seen_stream_, stream_is_string_, seen_namespace_;
  bool namespace_ok_, seen_data_, seen_state_type_, state_type_is_string_;
  std::string type_, stream_, namespace_, state_type_;
  bool has_namespace_;
  simdjson::ondemand::parser unescaper_;
  std::string unescape_buf_;
  bool Unescape(const std::string& raw, std::string* out);
};

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_OVERSIZE_TRACKER_H_
