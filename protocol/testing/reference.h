// The reference inspector: the plainest correct reading of the rules in
// protocol/line_summary.h, for tests and fuzzing. It splits the whole input at once, parses
// every line fully with a strict RFC 8259 parser written for this purpose, and walks the tree.
// Slow on purpose: it shares no parsing code with the inspector.
//
//   InspectorStats expected = ReferenceInspect(input, options);
//   EXPECT_TRUE(expected.SameResults(inspector.Snapshot()));

#ifndef SLUICE_PROTOCOL_TESTING_REFERENCE_H_
#define SLUICE_PROTOCOL_TESTING_REFERENCE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/inspector.h"

namespace sluice::protocol::testing {

struct JsonField;

// A parsed JSON value that remembers how it was written.
struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  std::string_view raw;  // the value's text as written
  std::string text;      // strings: unescaped; numbers: as written
  std::vector<Json> items;
  std::vector<JsonField> fields;  // in order, duplicates kept

  // The first field named `key`, or nullptr.
  const Json* Find(std::string_view key) const;
  // The value's size written compactly, strings and numbers as written.
  uint64_t CompactSize() const;
};

struct JsonField {
  std::string key;           // unescaped
  std::string_view raw_key;  // as written, quotes included
  Json value;
};

inline constexpr size_t kReferenceMaxDepth = 256;

// Strict RFC 8259: one value, optional surrounding whitespace, valid UTF-8, no raw control
// characters in strings, valid escapes and surrogate pairs, depth at most kReferenceMaxDepth.
bool ParseJson(std::string_view text, Json* out);

// The statistics the inspector must produce for `input` consumed whole and then finished
// (when `finish`). fast_path_lines is 0.
InspectorStats ReferenceInspect(std::string_view input, const InspectorOptions& options,
                                bool finish = true);

// True when the reference reads `line` (without terminator) as valid JSON.
bool ReferenceValidJson(std::string_view line);

}  // namespace sluice::protocol::testing

#endif  // SLUICE_PROTOCOL_TESTING_REFERENCE_H_
