// What the test connectors share: writing Airbyte messages on stdout.
//
//   Emit(R"({"type":"LOG","log":{"level":"INFO","message":)" + Json(text) + "}}");
//   Emit(TraceError("cannot write: disk full", "system_error"));

#ifndef SLUICE_TESTS_CONNECTORS_AIRBYTE_CLI_H_
#define SLUICE_TESTS_CONNECTORS_AIRBYTE_CLI_H_

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "protocol/report.h"

namespace sluice::testing {

// `s` as a JSON string literal.
inline std::string Json(std::string_view s) { return protocol::JsonString(s); }

// Milliseconds since the epoch: a message's emitted_at.
inline int64_t NowMillis() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

// One message line on stdout (buffered: flush where it must be seen).
inline void Emit(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
}

// A TRACE ERROR message, as connectors report a failure.
inline std::string TraceError(const std::string& message, const char* failure_type) {
  return R"({"type":"TRACE","trace":{"type":"ERROR","emitted_at":)" + std::to_string(NowMillis()) +
         R"(,"error":{"message":)" + Json(message) + R"(,"failure_type":")" + failure_type + "\"}}}";
}

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_CONNECTORS_AIRBYTE_CLI_H_
