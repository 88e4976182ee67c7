#include "protocol/connector_note.h"

#include <gtest/gtest.h>

namespace sluice::protocol {
namespace {

TEST(ConnectorNoteTest, LogMessagesAndTraceErrors) {
  auto log = ReadConnectorNote(R"({"type":"LOG","log":{"level":"WARN","message":"slow"}})");
  ASSERT_TRUE(log.has_value());
  EXPECT_FALSE(log->error);
  EXPECT_EQ(log->ToString(), "WARN slow");
  EXPECT_EQ(ReadConnectorNote(R"({"type":"LOG","log":{"message":"m"}})")->ToString(), "INFO m");
  auto error = ReadConnectorNote(
      R"({"type":"TRACE","trace":{"type":"ERROR","emitted_at":1,"error":{"message":"401","failure_type":"config_error"}}})");
  ASSERT_TRUE(error.has_value());
  EXPECT_TRUE(error->error);
  EXPECT_EQ(error->ToString(), "ERROR 401 (config_error)");
}

TEST(ConnectorNoteTest, OtherLinesAreNotNotes) {
  for (const char* line : {
           R"({"type":"RECORD","record":{"stream":"s","data":{},"emitted_at":1}})",
           R"({"type":"TRACE","trace":{"type":"ESTIMATE","estimate":{"name":"s","type":"STREAM"}}})",
           R"({"type":"TRACE","trace":{"type":"ERROR","error":{}}})",
           R"({"type":"LOG","log":{"level":"INFO"}})", "not json", ""}) {
    EXPECT_FALSE(ReadConnectorNote(line).has_value()) << line;
  }
}

}  // namespace
}  // namespace sluice::protocol
