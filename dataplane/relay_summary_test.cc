#include "dataplane/relay_summary.h"

#include <gtest/gtest.h>

#include "protocol/inspector.h"

namespace sluice::dataplane {
namespace {

RelaySummary Example() {
  RelaySummary s;
  s.mode = "recv";
  s.connector = "sync-destination";
  s.engine = "splice";
  s.engine_reason = "io_uring_setup: Operation not permitted";
  s.peer = "127.0.0.1:41234";
  s.bytes = 123456789;
  s.unread_bytes = 42;
  s.seconds = 1.5;
  s.input_wait_seconds = 0.25;
  s.output_wait_seconds = 0.125;
  s.exit_code = 15;
  s.input_complete = true;
  s.checksum = "0123456789abcdef";
  s.exit_reason = "reader_gone";
  s.error = "the destination stopped \"reading\"";
  s.bottleneck = "destination";
  protocol::Inspector inspector;
  inspector.Consume(
      "{\"type\":\"RECORD\",\"record\":{\"stream\":\"users\",\"data\":{\"id\":1},\"emitted_at\":1}}"
      "\n");
  inspector.Finish();
  s.inspector = inspector.Snapshot();
  return s;
}

TEST(RelaySummaryTest, WhatTheRelayWritesTheOrchestratorReadsBack) {
  const RelaySummary s = Example();
  auto back = ParseRelaySummary(FormatRelaySummary(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->mode, s.mode);
  EXPECT_EQ(back->connector, s.connector);
  EXPECT_EQ(back->engine, s.engine);
  EXPECT_EQ(back->engine_reason, s.engine_reason);
  EXPECT_EQ(back->peer, s.peer);
  EXPECT_EQ(back->bytes, s.bytes);
  EXPECT_EQ(back->unread_bytes, s.unread_bytes);
  EXPECT_DOUBLE_EQ(back->seconds, s.seconds);
  EXPECT_DOUBLE_EQ(back->input_wait_seconds, s.input_wait_seconds);
  EXPECT_DOUBLE_EQ(back->output_wait_seconds, s.output_wait_seconds);
  EXPECT_EQ(back->exit_code, s.exit_code);
  EXPECT_EQ(back->input_complete, s.input_complete);
  EXPECT_EQ(back->checksum, s.checksum);
  EXPECT_EQ(back->exit_reason, s.exit_reason);
  EXPECT_EQ(back->error, s.error);
  EXPECT_EQ(back->bottleneck, s.bottleneck);
  ASSERT_TRUE(back->inspector.has_value());
  EXPECT_TRUE(back->inspector->SameResults(*s.inspector));
  EXPECT_EQ(FormatRelaySummary(*back), FormatRelaySummary(s));
}

TEST(RelaySummaryTest, NoInspectorAndNoErrorAreNull) {
  RelaySummary s = Example();
  s.inspector.reset();
  s.error.reset();
  s.checksum.reset();
  const std::string json = FormatRelaySummary(s);
  EXPECT_NE(json.find("\"inspector\":null"), std::string::npos) << json;
  EXPECT_NE(json.find("\"checksum\":null"), std::string::npos) << json;
  auto back = ParseRelaySummary(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->inspector.has_value());
  EXPECT_FALSE(back->error.has_value());
  EXPECT_FALSE(back->checksum.has_value());
}

TEST(RelaySummaryTest, AMissingFieldIsNamed) {
  std::string json = FormatRelaySummary(Example());
  json.replace(json.find("\"unread_bytes\""), 14, "\"unread_bytez\"");
  auto back = ParseRelaySummary(json);
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("unread_bytes"), std::string_view::npos) << back.status();
  EXPECT_FALSE(ParseRelaySummary("{}").ok());
  EXPECT_FALSE(ParseRelaySummary("not json").ok());
}

}  // namespace
}  // namespace sluice::dataplane
