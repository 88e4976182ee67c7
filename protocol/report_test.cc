#include "protocol/report.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "protocol/inspector.h"
#include "protocol/testing/generator.h"

namespace sluice::protocol {
namespace {

TEST(ReportTest, JsonIsValidAndCarriesTheCounts) {
  testing::MessageGenerator gen(5);
  std::string input;
  for (int i = 0; i < 500; ++i) gen.AppendLine(&input);
  input += "\xff\xfe not utf-8\n";
  Inspector inspector({.max_samples = 100});
  inspector.Consume(input);
  inspector.Finish();
  const InspectorStats s = inspector.Snapshot();
  const std::string json = FormatJson(s);

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(json).get(root), simdjson::SUCCESS) << json.substr(0, 400);
  EXPECT_EQ(uint64_t(root["lines"]), s.lines);
  EXPECT_EQ(uint64_t(root["types"]["RECORD"]["count"]), s.type(MessageType::kRecord).count);
  simdjson::dom::array streams = root["streams"];
  ASSERT_EQ(streams.size(), s.streams.size());
  uint64_t records = 0;
  for (simdjson::dom::element st : streams) records += uint64_t(st["records"]);
  EXPECT_EQ(records, s.type(MessageType::kRecord).count);
}

// Every field FormatJson writes comes back: the relay writes its summary with FormatJson and
// the orchestrator reads it with ParseJson.
TEST(ReportTest, ParseJsonReadsBackEveryField) {
  testing::MessageGenerator gen(7);
  std::string input;
  for (int i = 0; i < 300; ++i) gen.AppendLine(&input);
  input +=
      R"({"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{"lsn":7},"stream_states":[{"stream_descriptor":{"name":"a"},"stream_state":{"c":1}}]}}})"
      "\n"
      R"({"type":"STATE","state":{"data":{"legacy":true}}})"
      "\n"
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users","namespace":"public"},"stream_state":{"cursor":"2024"}}}})"
      "\n"
      R"({"type":"TRACE","trace":{"type":"ERROR","emitted_at":1,"error":{"message":"boom \"quoted\"","failure_type":"config_error"}}})"
      "\n"
      R"({"type":"TRACE","trace":{"type":"ESTIMATE","emitted_at":1,"estimate":{"name":"users","namespace":"public","type":"STREAM","row_estimate":10,"byte_estimate":-3}}})"
      "\n"
      R"({"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1,"stream_status":{"stream_descriptor":{"name":"users","namespace":"public"},"status":"RUNNING"}}})"
      "\n"
      "not json at all\n\n"
      R"({"type":"RECORD","record":{"stream":"beyond-the-cap","data":{},"emitted_at":1}})"
      "\n"
      "no newline";
  Inspector inspector({.max_samples = 3, .max_streams = 4});
  inspector.Consume(input);
  inspector.Finish();
  const InspectorStats s = inspector.Snapshot();
  ASSERT_TRUE(s.untracked_streams);  // the input reaches every optional part
  ASSERT_TRUE(s.latest_global && s.latest_legacy && !s.errors.empty());
  ASSERT_FALSE(s.non_protocol_samples.empty());

  InspectorStats back;
  std::string error;
  ASSERT_TRUE(ParseJson(FormatJson(s), &back, &error)) << error;
  EXPECT_EQ(FormatJson(back), FormatJson(s));
  // The untracked streams' bucket has only its counts in the format.
  EXPECT_EQ(back.untracked.records, s.untracked.records);
  EXPECT_EQ(back.untracked.states, s.untracked.states);
  back.untracked = s.untracked;
  EXPECT_TRUE(back.SameResults(s));
}

TEST(ReportTest, ParseJsonNamesTheFieldItMisses) {
  std::string json = FormatJson(InspectorStats{});
  const size_t at = json.find("\"trace_errors\"");
  ASSERT_NE(at, std::string::npos);
  json.replace(at, 14, "\"trace_errorz\"");
  InspectorStats s;
  std::string error;
  EXPECT_FALSE(ParseJson(json, &s, &error));
  EXPECT_NE(error.find("trace_errors"), std::string::npos) << error;
  EXPECT_FALSE(ParseJson("[1]", &s, &error));
}

TEST(ReportTest, JsonStringEscapesAndReplacesInvalidBytes) {
  EXPECT_EQ(JsonString("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(JsonString("\xC3\xA9"), "\"\xC3\xA9\"");
  EXPECT_EQ(JsonString("\xFF"), "\"\xEF\xBF\xBD\"");
  EXPECT_EQ(JsonString("\xE6\x97"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(ReportTest, TableHasOneRowPerStream) {
  Inspector inspector;
  inspector.Consume(
      R"({"type":"RECORD","record":{"namespace":"public","stream":"users","data":{},"emitted_at":1}})"
      "\n");
  inspector.Finish();
  const std::string table = FormatTable(inspector.Snapshot());
  EXPECT_NE(table.find("public.users"), std::string::npos) << table;
  EXPECT_NE(table.find("RECORD=1"), std::string::npos) << table;
}

}  // namespace
}  // namespace sluice::protocol
