// The general reader: any line, any key order, any whitespace, escapes, through simdjson
// On-Demand. Follows the rules in protocol/line_summary.h.
//
//   OnDemandReader reader(16 << 20);
//   LineSummary s;
//   bool message = reader.Read(padded_line, &s);

#ifndef SLUICE_PROTOCOL_ONDEMAND_READER_H_
#define SLUICE_PROTOCOL_ONDEMAND_READER_H_

#include <simdjson.h>

#include <string>
#include <string_view>

#include "protocol/line_summary.h"

namespace sluice::protocol {

// Not thread-safe: one reader per inspector.
class OnDemandReader {
 public:
  // Lines up to `max_line_bytes` can be read.
  explicit OnDemandReader(size_t max_line_bytes);
  OnDemandReader(const OnDemandReader&) = delete;
  OnDemandReader& operator=(const OnDemandReader&) = delete;

  // Reads one line (without terminator). `line` must be followed by simdjson::SIMDJSON_PADDING
  // readable bytes. Returns out->is_message. Views in `out` point into `line`.
  bool Read(std::string_view line, LineSummary* out);

 private:
  enum class Payload { kAbsent, kOk, kInvalid };

  static Payload IsObject(simdjson::ondemand::value& value, bool* json_error);
  static Payload OpenObject(simdjson::ondemand::value& value, simdjson::ondemand::object* object,
                            bool* json_error);
  Payload ReadRecord(simdjson::ondemand::value value, LineSummary* out, bool* json_error);
  Payload ReadState(simdjson::ondemand::value value, LineSummary* out, bool* json_error);
  Payload ReadStateCopy(simdjson::ondemand::value value, LineSummary* out, bool* json_error);
  Payload ReadStateFields(simdjson::ondemand::object object, LineSummary* out, bool* json_error);
  Payload ReadTrace(simdjson::ondemand::value value, LineSummary* out, bool* json_error);

  simdjson::ondemand::parser parser_;
  std::string_view line_;                    // the line being read
  simdjson::ondemand::parser state_parser_;  // re-reads a `state` object on its own
  std::string state_copy_;                   // that object plus padding
  StreamId record_stream_;                   // payload descriptors until `type` is known
  StreamId trace_stream_;
};

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_ONDEMAND_READER_H_
