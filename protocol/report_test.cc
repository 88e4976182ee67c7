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
