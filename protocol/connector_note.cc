#include "protocol/connector_note.h"

#include <simdjson.h>

namespace sluice::protocol {

std::string ConnectorNote::ToString() const {
  return level + " " + message + (failure_type.empty() ? "" : " (" + failure_type + ")");
}

std::optional<ConnectorNote> ReadConnectorNote(std::string_view line) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view type, text, kind;
  if (parser.parse(line.data(), line.size()).get(doc) != simdjson::SUCCESS ||
      doc["type"].get(type) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  ConnectorNote note;
  if (type == "LOG") {
    if (doc["log"]["message"].get(text) != simdjson::SUCCESS) return std::nullopt;
    if (doc["log"]["level"].get(kind) != simdjson::SUCCESS) kind = "INFO";
    note.level = std::string(kind);
    note.message = std::string(text);
    return note;
  }
  std::string_view trace_type;
  if (type != "TRACE" || doc["trace"]["type"].get(trace_type) != simdjson::SUCCESS ||
      trace_type != "ERROR" || doc["trace"]["error"]["message"].get(text) != simdjson::SUCCESS) {
    return std::nullopt;  // estimates and statuses are counters, not words to a person
  }
  if (doc["trace"]["error"]["failure_type"].get(kind) != simdjson::SUCCESS) kind = {};
  note.error = true;
  note.level = "ERROR";
  note.message = std::string(text);
  note.failure_type = std::string(kind);
  return note;
}

}  // namespace sluice::protocol
