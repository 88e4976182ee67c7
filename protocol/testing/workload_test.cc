#include "protocol/testing/workload.h"

#include <gtest/gtest.h>

#include "protocol/inspector.h"
#include "protocol/testing/reference.h"

namespace sluice::protocol::testing {
namespace {

// The workload's own bookkeeping, the reference and the inspector must agree: the relay tests
// and benchmarks check the relay's counters against this ground truth.
void ExpectTruthMatches(const WorkloadOptions& options) {
  Workload w(options);
  std::string out;
  while (out.size() < (2 << 20)) w.AppendLine(&out);
  const GroundTruth& truth = w.truth();
  ASSERT_EQ(truth.bytes, out.size());
  InspectorOptions io;
  io.max_line_bytes = 64 << 10;
  for (const InspectorStats& s : {ReferenceInspect(out, io), [&] {
                                    Inspector inspector(io);
                                    inspector.Consume(out);
                                    inspector.Finish();
                                    return inspector.Snapshot();
                                  }()}) {
    EXPECT_EQ(s.lines, truth.lines);
    EXPECT_EQ(s.type(MessageType::kRecord).count, truth.records);
    EXPECT_EQ(s.type(MessageType::kState).count, truth.states);
    ASSERT_EQ(s.streams.size(), truth.streams.size());
    for (const auto& [id, t] : truth.streams) {
      const StreamStats* st = s.stream(id);
      ASSERT_NE(st, nullptr) << id.ToString();
      EXPECT_EQ(st->records, t.records);
      EXPECT_EQ(st->record_bytes, t.record_bytes);
      EXPECT_EQ(st->data_bytes, t.data_bytes);
      EXPECT_EQ(st->states, t.states);
    }
  }
}

TEST(WorkloadTest, CompactRecordsOverEightStreamsWithStates) {
  ExpectTruthMatches({.record_bytes = 200, .streams = 8, .state_every = 1000});
}
TEST(WorkloadTest, StreamsInRandomOrder) {
  ExpectTruthMatches(
      {.record_bytes = 200, .streams = 16, .random_streams = true, .state_every = 10});
}
TEST(WorkloadTest, SpacedRecordsWithoutNamespace) {
  ExpectTruthMatches(
      {.record_bytes = 5000, .streams = 3, .state_every = 7, .spaced = true, .ns = ""});
}
TEST(WorkloadTest, SortedKeysCompactAndSpaced) {
  ExpectTruthMatches({.record_bytes = 200, .streams = 4, .state_every = 100, .sorted_keys = true});
  ExpectTruthMatches({.record_bytes = 1000, .streams = 2, .spaced = true, .sorted_keys = true});
}
TEST(WorkloadTest, SortedKeysAreReadWithoutTheGeneralReader) {
  Workload w({.record_bytes = 200, .streams = 4, .spaced = true, .sorted_keys = true});
  std::string out;
  while (out.size() < (1 << 20)) w.AppendLine(&out);
  ASSERT_EQ(out.rfind("{\"record\": {\"data\": {", 0), 0u) << out.substr(0, 100);
  Inspector inspector;
  inspector.Consume(out);
  EXPECT_EQ(inspector.Snapshot().fast_path_lines, w.truth().records);
}

TEST(WorkloadTest, RecordLinesAreTheSizeAsked) {
  for (const bool spaced : {false, true}) {
    for (const bool sorted_keys : {false, true}) {
      for (const size_t size : {150, 200, 1000}) {
        Workload w(
            {.record_bytes = size, .streams = 3, .spaced = spaced, .sorted_keys = sorted_keys});
        std::string out;
        for (int i = 0; i < 2000; ++i) w.AppendLine(&out);
        for (size_t at = 0; at < out.size();) {
          const size_t end = out.find('\n', at) + 1;
          ASSERT_EQ(end - at, size) << out.substr(at, end - at);
          at = end;
        }
      }
    }
  }
}
// Down to the smallest record: `data` loses "name" and "active", then "payload".
TEST(WorkloadTest, SmallRecordsHaveFewerFields) {
  for (const size_t size : {100, 110, 120, 150}) {
    for (const bool spaced : {false, true}) {
      ExpectTruthMatches({.record_bytes = size, .streams = 3, .spaced = spaced, .ns = ""});
      ExpectTruthMatches(
          {.record_bytes = size, .streams = 3, .spaced = spaced, .sorted_keys = true});
    }
  }
  Workload w({.record_bytes = 100, .ns = ""});
  std::string out;
  w.AppendLine(&out);
  EXPECT_EQ(
      out,
      R"({"type":"RECORD","record":{"stream":"stream_0","data":{"id":0},"emitted_at":1700000000000}})"
      "\n");
}

TEST(WorkloadTest, BigRecordsAreOversize) {
  ExpectTruthMatches(
      {.record_bytes = 300, .streams = 2, .big_every = 50, .big_record_bytes = 100 << 10});
}

}  // namespace
}  // namespace sluice::protocol::testing
