// The identity of a STATE checkpoint, to match the one a destination echoes to the one the
// source emitted: a hash of the `state` object written canonically.
//
// Destinations echo the STATE they received, but may write it again their own way (another
// JSON library: other whitespace, escapes or spellings of numbers). Parsing and writing it
// compactly (simdjson's minify of the parsed value) makes those the same; the key order is
// kept, as every Airbyte library keeps it. FNV-1a 64 of that text is the key: the same in every
// process, unlike a seeded hash.
//
//   std::optional<uint64_t> k = StateKey(R"({"type":"STATE","state":{"data":{"c": 1}}})");
//
// Pure, thread-safe.

#ifndef SLUICE_PROTOCOL_STATE_KEY_H_
#define SLUICE_PROTOCOL_STATE_KEY_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::protocol {

// The key of the `state` object of a STATE message's line; nothing when the line is not one.
std::optional<uint64_t> StateKey(std::string_view message_line);

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_STATE_KEY_H_
