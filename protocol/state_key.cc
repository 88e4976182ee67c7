#include "protocol/state_key.h"

#include <simdjson.h>

#include <string>

namespace sluice::protocol {

std::optional<uint64_t> StateKey(std::string_view message_line) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc, state;
  std::string_view type;
  if (parser.parse(message_line.data(), message_line.size()).get(doc) != simdjson::SUCCESS ||
      doc["type"].get(type) != simdjson::SUCCESS || type != "STATE" ||
      doc["state"].get(state) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  const std::string canonical = simdjson::minify(state);
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64
  for (const unsigned char c : canonical) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace sluice::protocol
