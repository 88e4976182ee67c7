// A connector's word to a person, in its message stream: a LOG message or a TRACE error. The
// relay's report channel, the orchestrator's sync log and `sluice spec|check|discover` all read
// them from raw lines, the same way: here.
//
//   if (auto note = ReadConnectorNote(line)) std::puts(note->ToString().c_str());
//
// Pure, thread-safe.

#ifndef SLUICE_PROTOCOL_CONNECTOR_NOTE_H_
#define SLUICE_PROTOCOL_CONNECTOR_NOTE_H_

#include <optional>
#include <string>
#include <string_view>

namespace sluice::protocol {

struct ConnectorNote {
  bool error = false;        // a TRACE ERROR; otherwise a LOG message
  std::string level;         // the LOG's level ("INFO" when it has none); "ERROR" for an error
  std::string message;
  std::string failure_type;  // a TRACE error's, "" when it has none

  // "INFO the text", or "ERROR the text (config_error)".
  std::string ToString() const;
};

// The LOG message (with log.message) or TRACE error (trace.type ERROR, with
// trace.error.message) on `line`; nothing for any other line.
std::optional<ConnectorNote> ReadConnectorNote(std::string_view line);

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_CONNECTOR_NOTE_H_
