#include "dataplane/relay_summary.h"

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <simdjson.h>

#include "protocol/report.h"

namespace sluice::dataplane {

std::string FormatRelaySummary(const RelaySummary& s) {
  using protocol::JsonString;
  return absl::StrCat(
      "{\"relay\":{\"mode\":", JsonString(s.mode), ",\"connector\":", JsonString(s.connector),
      ",\"engine\":", JsonString(s.engine), ",\"engine_reason\":", JsonString(s.engine_reason),
      ",\"peer\":", JsonString(s.peer), ",\"bytes\":", s.bytes,
      ",\"unread_bytes\":", s.unread_bytes,
      absl::StrFormat(",\"seconds\":%.6f,\"input_wait_seconds\":%.6f,\"output_wait_seconds\":%.6f",
                      s.seconds, s.input_wait_seconds, s.output_wait_seconds),
      ",\"exit_code\":", s.exit_code, ",\"input_complete\":", s.input_complete ? "true" : "false",
      ",\"checksum\":", s.checksum ? JsonString(*s.checksum) : "null",
      ",\"exit_reason\":", JsonString(s.exit_reason),
      ",\"error\":", s.error ? JsonString(*s.error) : "null",
      ",\"bottleneck\":", JsonString(s.bottleneck),
      "},\"inspector\":", s.inspector ? protocol::FormatJson(*s.inspector) : "null", "}\n");
}

absl::StatusOr<RelaySummary> ParseRelaySummary(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc, relay, inspector;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS ||
      doc["relay"].get(relay) != simdjson::SUCCESS ||
      doc["inspector"].get(inspector) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        "a relay summary is an object with \"relay\" and \"inspector\"");
  }
  RelaySummary s;
  const char* missing = nullptr;
  const auto str = [&](const char* key, std::string* out) {
    std::string_view v;
    if (relay[key].get(v) != simdjson::SUCCESS) {
      if (missing == nullptr) missing = key;
      return;
    }
    out->assign(v);
  };
  const auto num = [&](const char* key, auto* out) {
    if (relay[key].get(*out) != simdjson::SUCCESS && missing == nullptr) missing = key;
  };
  str("mode", &s.mode);
  str("connector", &s.connector);
  str("engine", &s.engine);
  str("engine_reason", &s.engine_reason);
  str("peer", &s.peer);
  num("bytes", &s.bytes);
  num("unread_bytes", &s.unread_bytes);
  num("seconds", &s.seconds);
  num("input_wait_seconds", &s.input_wait_seconds);
  num("output_wait_seconds", &s.output_wait_seconds);
  int64_t exit_code = 0;
  num("exit_code", &exit_code);
  s.exit_code = static_cast<int>(exit_code);
  num("input_complete", &s.input_complete);
  str("exit_reason", &s.exit_reason);
  str("bottleneck", &s.bottleneck);
  simdjson::dom::element checksum;
  if (relay["checksum"].get(checksum) != simdjson::SUCCESS) {
    if (missing == nullptr) missing = "checksum";
  } else if (!checksum.is_null()) {
    std::string_view text;
    if (checksum.get(text) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("a relay summary's relay.checksum is not a string");
    }
    s.checksum = std::string(text);
  }
  simdjson::dom::element error;
  if (relay["error"].get(error) != simdjson::SUCCESS) {
    if (missing == nullptr) missing = "error";
  } else if (!error.is_null()) {
    std::string_view text;
    if (error.get(text) == simdjson::SUCCESS) s.error = std::string(text);
  }
  if (missing != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("a relay summary without relay.", missing));
  }
  if (!inspector.is_null()) {
    protocol::InspectorStats stats;
    std::string why;
    if (!protocol::ParseJson(simdjson::minify(inspector), &stats, &why)) {
      return absl::InvalidArgumentError(absl::StrCat("a relay summary's inspector: ", why));
    }
    s.inspector = std::move(stats);
  }
  return s;
}

}  // namespace sluice::dataplane
