#include "protocol/inspector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "protocol/testing/reference.h"

namespace sluice::protocol {
namespace {

using ::testing::ElementsAre;

InspectorStats Inspect(std::string_view input, InspectorOptions options = {}, size_t chunk = 0) {
  Inspector inspector(options);
  if (chunk == 0) chunk = input.size() + 1;
  for (size_t i = 0; i < input.size(); i += chunk) inspector.Consume(input.substr(i, chunk));
  inspector.Finish();
  return inspector.Snapshot();
}

const StreamId kUsers{std::nullopt, "users"};

// Inspect(input), after checking that every chunking, and the general reader alone, give the
// same results.
InspectorStats InspectEveryWay(const std::string& input) {
  const InspectorStats s = Inspect(input);
  for (const size_t chunk : {1, 7, 64}) {
    EXPECT_TRUE(Inspect(input, {}, chunk).SameResults(s)) << chunk;
  }
  EXPECT_TRUE(Inspect(input, {.fast_path = false}).SameResults(s));
  return s;
}

TEST(InspectorTest, CanonicalJavaRecordTakesTheFastPath) {
  const std::string line =
      R"({"type":"RECORD","record":{"namespace":"public","stream":"users","data":{"id":1,"name":"a b"},"emitted_at":1700000000000}})"
      "\n";
  const InspectorStats s = Inspect(line);
  EXPECT_EQ(s.fast_path_lines, 1u);
  EXPECT_EQ(s.type(MessageType::kRecord).count, 1u);
  EXPECT_EQ(s.type(MessageType::kRecord).bytes, line.size());
  const StreamStats* users = s.stream({"public", "users"});
  ASSERT_NE(users, nullptr);
  EXPECT_EQ(users->records, 1u);
  EXPECT_EQ(users->record_bytes, line.size());
  EXPECT_EQ(users->data_bytes, std::string(R"({"id":1,"name":"a b"})").size());
}

// Stream lookups compare names word-wise (overlapping loads): names that differ in one byte,
// at any position and for every length around the word sizes, must stay apart.
TEST(InspectorTest, NamesThatDifferInOneByteAreDifferentStreams) {
  std::string input;
  std::vector<StreamId> ids;
  for (size_t n = 0; n <= 20; ++n) {
    const std::string base(n, 'x');
    std::vector<std::string> names = {base};
    for (size_t i = 0; i < n; ++i) {
      std::string other = base;
      other[i] = 'y';
      names.push_back(other);
    }
    for (const std::string& name : names) {
      for (const bool with_ns : {false, true}) {
        // The namespace differs the same way: its own length, one byte changed.
        const std::string ns = with_ns ? name + "n" : "";
        const StreamId id{with_ns ? std::optional<std::string>(ns) : std::nullopt, name};
        ids.push_back(id);
        const std::string ns_field = with_ns ? R"("namespace":")" + ns + R"(",)" : "";
        // Twice, interleaved with others, so that the recent-stream cache answers too.
        for (int copy = 0; copy < 2; ++copy) {
          input += R"({"type":"RECORD","record":{)" + ns_field + R"("stream":")" + name +
                   R"(","data":{},"emitted_at":1}})"
                   "\n";
        }
      }
    }
  }
  for (const size_t chunk : {size_t{0}, size_t{7}}) {
    const InspectorStats s = Inspect(input, {}, chunk);
    EXPECT_EQ(s.fast_path_lines, 2 * ids.size());
    EXPECT_EQ(s.streams.size(), ids.size());
    for (const StreamId& id : ids) {
      const StreamStats* st = s.stream(id);
      ASSERT_NE(st, nullptr) << id.name;
      EXPECT_EQ(st->records, 2u) << (id.ns ? *id.ns : "-") << "." << id.name;
    }
  }
}

// The line before a record predicts the record's stream, and a line that starts with that
// stream's last prefix skips the envelope's parse (record_prefix.h): every way the rest of such a
// line can differ must still be read as the general reader reads it.
TEST(InspectorTest, ARecordThatStartsLikeTheLastOneIsReadInFull) {
  const std::string users =
      R"({"type":"RECORD","record":{"namespace":"public","stream":"users","data":)";
  const std::string uni = R"({"type":"RECORD","record":{"stream":"ünï","data":)";
  const std::vector<std::string> lines = {
      users + R"({"a":1},"emitted_at":1}})",
      users + R"({"a":2},"emitted_at":2}})",   // the guess holds
      users + R"( {"a":3},"emitted_at":3}})",  // one space more before data
      users + R"({"a":4},"emitted_at":4}})",
      users + R"( {"a":3},"emitted_at":3}})",  // and back
      users + R"({"a":5,"emitted_at":5}})",    // data not closed
      users + R"([1,2],"emitted_at":6}})",     // data not an object
      users + R"({"a":"x\ty"},"emitted_at":7}})",
      users + "{\"a\":\"x\ty\"},\"emitted_at\":7}}",  // a raw tab in a string: not JSON
      users + "{\"a\":\"\xff\"},\"emitted_at\":8}}",  // not UTF-8
      users + R"({"a":9},"emitted_at":09}})",         // a leading zero
      users + R"({"a":10},"emitted_at":10})",         // one brace short
      users + R"({"a":11}})",                         // no emitted_at
      users,                                          // the prefix alone
      users + R"({"a":12},"emitted_at":12}})",
      uni + R"({"k":"日本"},"emitted_at":1}})",
      uni + R"({"k":"日本"},"emitted_at":2}})",
      uni + "{\"k\":\"\xc3(\"},\"emitted_at\":3}}",  // a broken sequence after a non-ASCII name
      uni + R"({"k":1},"emitted_at":4}})",
      users + R"({"a":13},"emitted_at":13}})",
  };
  std::string input;
  uint64_t users_records = 0, users_data = 0, uni_records = 0, not_protocol = 0;
  for (const std::string& line : lines) {
    input += line + "\n";
    // Each line alone, through the general reader: no line before it to predict anything.
    const InspectorStats alone = Inspect(line + "\n", {.fast_path = false});
    if (const StreamStats* u = alone.stream({"public", "users"})) {
      users_records += u->records;
      users_data += u->data_bytes;
    }
    if (const StreamStats* n = alone.stream({std::nullopt, "ünï"})) uni_records += n->records;
    not_protocol += alone.non_protocol.count;
  }
  const InspectorStats s = InspectEveryWay(input);
  const StreamStats* u = s.stream({"public", "users"});
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->records, users_records);
  EXPECT_EQ(u->data_bytes, users_data);
  const StreamStats* n = s.stream({std::nullopt, "ünï"});
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->records, uni_records);
  EXPECT_EQ(s.non_protocol.count, not_protocol);
  // What the lines hold, so that the sums above are not vacuous: the broken lines are no
  // messages, the rest are records.
  EXPECT_EQ(not_protocol, 7u);
  EXPECT_EQ(users_records + uni_records + not_protocol, lines.size());
}

// The same for records in another key order, which the slot recognises by the shape around
// their values (record_shape.h).
TEST(InspectorTest, ARecordShapedLikeTheLastOneIsReadInFull) {
  const auto users = [](const std::string& data, const std::string& at) {
    return R"({"record":{"data":)" + data + R"(,"emitted_at":)" + at +
           R"(,"namespace":"public","stream":"users"},"type":"RECORD"})";
  };
  const auto uni = [](const std::string& data) {
    return R"({"type":"RECORD","record":{"emitted_at":1,"stream":"ünï","data":)" + data + "}}";
  };
  const std::vector<std::string> lines = {
      users(R"({"a":1})", "1"),
      users(R"({"a":2})", "22"),  // the guess holds
      users(R"( {"a":3})", "3"),  // one space more before data
      users(R"({"a":4})", "4"),
      users(R"({"a":5)", "5"),  // data not closed
      users(R"([1,2])", "6"),   // data not an object
      users(R"({"a":"x\ty"})", "7"),
      users("{\"a\":\"x\ty\"}", "7"),               // a raw tab in a string: not JSON
      users("{\"a\":\"\xff\"}", "8"),               // not UTF-8
      users(R"({"a":9})", "09"),                    // a leading zero
      users(R"({"a":10})", "1.0"),                  // not an integer
      users(R"({"a":11},"stream":"other")", "11"),  // a second stream in the hole
      users(R"({"a":12})", "12"),
      uni(R"({"k":"日本"})"),
      uni(R"({"k":"日本"})"),
      uni("{\"k\":\"\xc3(\"}"),  // a broken sequence after a non-ASCII name
      uni(R"({"k":1})"),
      users(R"({"a":13})", "13"),
  };
  std::string input;
  for (const std::string& line : lines) input += line + "\n";
  const InspectorStats s = InspectEveryWay(input);
  // What the lines hold, so that the comparison is not vacuous: the general reader also takes
  // an array for `data` and numbers the fast readers leave to it, and reads the first stream
  // of two; the lines not closed or not UTF-8 are no messages.
  const StreamStats* u = s.stream({"public", "users"});
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->records, 10u);
  ASSERT_NE(s.stream({"public", "other"}), nullptr);
  EXPECT_EQ(s.stream({"public", "other"})->records, 1u);
  const StreamStats* n = s.stream({std::nullopt, "ünï"});
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->records, 3u);
  EXPECT_EQ(s.non_protocol.count, 4u);
  EXPECT_EQ(s.fast_path_lines, 10u);
}

// More streams than the inspector has slots for recent ones: streams share slots, and each
// slot's prefix must always be its own stream's.
// The same with the keys in sorted order, whose records the slots recognise by their shape
// (record_shape.h); the two orders take turns in the last third.
TEST(InspectorTest, StreamsThatShareASlotKeepTheirOwnCounts) {
  constexpr size_t kStreams = 40;
  std::vector<uint64_t> expected(kStreams);
  std::string input;
  std::mt19937_64 rng(7);
  for (size_t i = 0; i < 9000; ++i) {
    // In turn, then runs of one stream, then at random; in each key order.
    const size_t j = i % 6000;
    const size_t k = j < 2000 ? j % kStreams : j < 4000 ? (j / 37) % kStreams : rng() % kStreams;
    ++expected[k];
    const std::string stream = "s" + std::to_string(k);
    const std::string data = R"({"i":)" + std::to_string(i % 10) + "}";
    const bool sorted = i >= 6000 || (i >= 4000 && i % 2 == 0);
    if (sorted) {
      input += R"({"record":{"data":)" + data + R"(,"emitted_at":)" + std::to_string(i) +
               R"(,"namespace":"public","stream":")" + stream + R"("},"type":"RECORD"})" + "\n";
    } else {
      input += R"({"type":"RECORD","record":{"namespace":"public","stream":")" + stream +
               R"(","data":)" + data + R"(,"emitted_at":1}})" + "\n";
    }
    // A checkpoint of another stream now and then: the general reader looks its stream up and
    // may give it the slot of a stream whose prefix is kept.
    if (i % 3 == 0) {
      input +=
          R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"s)" +
          std::to_string(rng() % kStreams) + R"(","namespace":"public"}}}})" + "\n";
    }
  }
  const InspectorStats s = Inspect(input);
  EXPECT_EQ(s.fast_path_lines, 9000u);
  ASSERT_EQ(s.streams.size(), kStreams);
  for (size_t k = 0; k < kStreams; ++k) {
    const StreamStats* st = s.stream({"public", "s" + std::to_string(k)});
    ASSERT_NE(st, nullptr) << k;
    EXPECT_EQ(st->records, expected[k]) << k;
    EXPECT_EQ(st->data_bytes, expected[k] * 7) << k;
  }
  EXPECT_TRUE(Inspect(input, {.fast_path = false}).SameResults(s));
}

TEST(InspectorTest, PythonSpacedRecordCountsDataCompactly) {
  const std::string line =
      R"({"type": "RECORD", "record": {"stream": "users", "data": {"id": 1, "tags": ["x y", 2]}, "emitted_at": 1}})"
      "\n";
  const InspectorStats s = Inspect(line);
  EXPECT_EQ(s.fast_path_lines, 1u);
  ASSERT_NE(s.stream(kUsers), nullptr);
  EXPECT_EQ(s.stream(kUsers)->data_bytes, std::string(R"({"id":1,"tags":["x y",2]})").size());
}

TEST(InspectorTest, OtherKeyOrdersGiveTheSameCountsThroughSimdjson) {
  const std::string canonical =
      R"({"type":"RECORD","record":{"stream":"users","data":{"a":1},"emitted_at":5}})"
      "\n";
  const std::string reordered =
      R"({"record":{"emitted_at":5,"data":{"a" : 1},"stream":"us\u0065rs"},"type":"RECORD"})"
      "\n";
  const InspectorStats a = Inspect(canonical);
  const InspectorStats b = Inspect(reordered);
  EXPECT_EQ(a.fast_path_lines, 1u);
  EXPECT_EQ(b.fast_path_lines, 0u);
  ASSERT_NE(b.stream(kUsers), nullptr);
  EXPECT_EQ(a.stream(kUsers)->data_bytes, b.stream(kUsers)->data_bytes);
  EXPECT_EQ(b.stream(kUsers)->records, 1u);
}

TEST(InspectorTest, EveryMessageTypeIsCounted) {
  std::string input;
  for (const char* type : {"RECORD", "STATE", "LOG", "SPEC", "CONNECTION_STATUS", "CATALOG",
                           "TRACE", "CONTROL", "DESTINATION_CATALOG"}) {
    std::string payload = R"({})";
    if (std::string(type) == "RECORD") payload = R"({"stream":"s","data":{}})";
    std::string key = type == std::string("RECORD")  ? "record"
                      : type == std::string("STATE") ? "state"
                      : type == std::string("TRACE") ? "trace"
                                                     : "x";
    input += std::string(R"({"type":")") + type + R"(",")" + key + R"(":)" + payload + "}\n";
  }
  const InspectorStats s = Inspect(input);
  for (size_t t = 0; t < kMessageTypeCount; ++t) {
    EXPECT_EQ(s.types[t].count, 1u) << MessageTypeName(static_cast<MessageType>(t));
  }
  EXPECT_EQ(s.non_protocol.count, 0u);
  EXPECT_EQ(s.state_kinds[static_cast<size_t>(StateKind::kLegacy)], 1u);  // no state.type
}

TEST(InspectorTest, StateKindsAndLatestCheckpoints) {
  const std::string input =
      R"({"type":"RECORD","record":{"stream":"users","data":{},"emitted_at":1}})"
      "\n"
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"c":1}}}})"
      "\n"
      R"({"type":"RECORD","record":{"stream":"users","data":{},"emitted_at":1}})"
      "\n"
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"c":2}}}})"
      "\n"
      R"({"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{},"stream_states":[{"stream_descriptor":{"name":"users"}},{"stream_descriptor":{"name":"b","namespace":"n"}}]}}})"
      "\n"
      R"({"type":"STATE","state":{"type":"LEGACY","data":{"x":1}}})"
      "\n";
  const InspectorStats s = Inspect(input);
  EXPECT_EQ(s.state_kinds, (std::array<uint64_t, 3>{2, 1, 1}));
  const StreamStats* users = s.stream(kUsers);
  ASSERT_NE(users, nullptr);
  EXPECT_EQ(users->states, 3u);  // two STREAM states and one GLOBAL naming it
  EXPECT_EQ(users->records_at_latest_state, 2u);
  ASSERT_TRUE(users->latest_state.has_value());
  EXPECT_EQ(
      users->latest_state->raw,
      R"({"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"c":2}}})");
  EXPECT_EQ(users->latest_state->line, 4u);
  ASSERT_NE(s.stream({"n", "b"}), nullptr);
  EXPECT_EQ(s.stream({"n", "b"})->states, 1u);
  ASSERT_TRUE(s.latest_global.has_value());
  EXPECT_EQ(s.latest_global->line, 5u);
  ASSERT_TRUE(s.latest_legacy.has_value());
  EXPECT_EQ(s.latest_legacy->raw, R"({"type":"LEGACY","data":{"x":1}})");
}

// A state object is kept as written, whatever JSON whitespace it has: spaces, and tabs or CRs
// between its tokens, which the structural scan leaves to a second read of the object alone.
TEST(InspectorTest, StateTextIsKeptAsWrittenWhateverItsWhitespace) {
  for (const std::string ws : {"", " ", "\t", " \r\t "}) {
    const std::string state =
        "{" + ws + R"("type":"STREAM",)" + ws + R"("stream":{"stream_descriptor":)" + ws +
        R"({"name":"users"},"stream_state":{"c":[1,)" + ws + "2]}}" + ws + "}";
    const std::string input = R"({"type":"STATE","state":)" + ws + state + ws + "}\n";
    const InspectorStats s = InspectEveryWay(input);
    EXPECT_EQ(s.state_kinds, (std::array<uint64_t, 3>{1, 0, 0})) << "whitespace: " << ws.size();
    const StreamStats* users = s.stream(kUsers);
    ASSERT_NE(users, nullptr);
    EXPECT_EQ(users->states, 1u);
    ASSERT_TRUE(users->latest_state.has_value());
    EXPECT_EQ(users->latest_state->raw, state);
  }
}

TEST(InspectorTest, StateLargerThanTheBoundIsCountedNotKept) {
  const std::string input =
      R"({"type":"STATE","state":{"data":")" + std::string(100, 'x') + "\"}}\n";
  const InspectorStats s = Inspect(input, {.max_state_bytes = 50});
  ASSERT_TRUE(s.latest_legacy.has_value());
  EXPECT_FALSE(s.latest_legacy->kept);
  EXPECT_EQ(s.latest_legacy->size, std::string(R"({"data":")").size() + 100 + 2);
  EXPECT_TRUE(s.latest_legacy->raw.empty());
}

// The default line limit leaves room for the largest state kept: an oversize line's STATE is
// counted but never kept, so a smaller line limit would silently lose committed state.
// A source can name any number of streams: past max_streams they are counted together, so
// memory, metrics and summaries keep a bound.
TEST(InspectorTest, StreamsBeyondTheCapAreCountedTogether) {
  std::string input;
  for (int i = 0; i < 50; ++i) {
    input += R"({"type":"RECORD","record":{"stream":"s)" + std::to_string(i) +
             R"(","data":{"a":1},"emitted_at":1}})" "\n";
  }
  input += R"({"type":"RECORD","record":{"stream":"s1","data":{"a":1},"emitted_at":1}})" "\n";
  input += R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"s40"},"stream_state":{"c":1}}}})" "\n";
  for (const bool fast : {true, false}) {
    const InspectorStats s = Inspect(input, {.max_streams = 10, .fast_path = fast});
    ASSERT_EQ(s.streams.size(), 10u);
    EXPECT_TRUE(s.untracked_streams);
    EXPECT_EQ(s.stream({std::nullopt, "s1"})->records, 2u);  // tracked ones stay exact
    EXPECT_EQ(s.untracked.records, 40u);
    EXPECT_EQ(s.untracked.states, 1u);
    EXPECT_FALSE(s.untracked.latest_state.has_value());
    EXPECT_EQ(s.type(MessageType::kRecord).count, 51u);
  }
  EXPECT_FALSE(Inspect(input).untracked_streams);
}

TEST(InspectorTest, KeptStateTextHasATotalBound) {
  const auto state = [](const std::string& name, size_t pad) {
    return R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":")" +
           name + R"("},"stream_state":{"c":")" + std::string(pad, 'x') + "\"}}}}\n";
  };
  // Three states of about 1,100 bytes against a 3,000-byte budget: the third is not kept.
  // Replacing a kept state frees its share first, so a stream's next state still fits.
  const std::string input = state("a", 1000) + state("b", 1000) + state("c", 1000) +
                            state("a", 1000) + state("c", 10);
  const InspectorStats s = Inspect(input, {.max_total_state_bytes = 3000});
  EXPECT_TRUE(s.stream({std::nullopt, "a"})->latest_state->kept);
  EXPECT_TRUE(s.stream({std::nullopt, "b"})->latest_state->kept);
  EXPECT_TRUE(s.stream({std::nullopt, "c"})->latest_state->kept);  // the small one fits
  EXPECT_EQ(s.unkept_states, 1u);
  EXPECT_EQ(s.state_kinds[static_cast<size_t>(StateKind::kStream)], 5u);
}

TEST(InspectorTest, SnapshotWithoutStateTextKeepsEverythingElse) {
  const std::string input =
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"a"},"stream_state":{"c":1}}}})" "\n"
      R"({"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{"x":1},"stream_states":[]}}})" "\n";
  Inspector inspector;
  inspector.Consume(input);
  const InspectorStats full = inspector.Snapshot();
  InspectorStats light = inspector.Snapshot(/*state_text=*/false);
  EXPECT_TRUE(light.stream({std::nullopt, "a"})->latest_state->raw.empty());
  EXPECT_TRUE(light.latest_global->raw.empty());
  EXPECT_FALSE(full.stream({std::nullopt, "a"})->latest_state->raw.empty());
  // Put the text back and the two are the same.
  light.streams[0].second.latest_state->raw = full.streams[0].second.latest_state->raw;
  light.latest_global->raw = full.latest_global->raw;
  EXPECT_TRUE(light.SameResults(full));
}

// The observer sees each non-RECORD message with its line, and what each STATE covers: a
// STREAM state its own stream's records before it, a GLOBAL one every stream's.
TEST(InspectorTest, TheObserverSeesMessagesAndWhatEachStateCovers) {
  struct Seen : InspectorObserver {
    std::vector<std::string> lines;
    std::vector<StateEvent> states;
    void OnMessage(MessageType type, std::string_view line, const StateEvent* state) override {
      lines.push_back(std::string(MessageTypeName(type)) + " " + std::string(line));
      if (state != nullptr) states.push_back(*state);
    }
  } seen;
  const auto record = [](const char* stream) {
    return std::string(R"({"type":"RECORD","record":{"stream":")") + stream +
           R"(","data":{},"emitted_at":1}})" "\n";
  };
  const std::string log = R"({"type":"LOG","log":{"level":"WARN","message":"slow"}})";
  const std::string input =
      record("a") + record("a") + record("b") +
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"a"},"stream_state":{"c":2}}}})" "\n" +
      log + "\r\n" + record("b") +
      R"({"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{},"stream_states":[]}}})" "\n";
  for (const bool fast : {true, false}) {
    seen = {};
    Inspect(input, {.fast_path = fast, .observer = &seen}, 7);
    ASSERT_EQ(seen.lines.size(), 3u);
    EXPECT_EQ(seen.lines[1], "LOG " + log);  // the line without its terminator
    ASSERT_EQ(seen.states.size(), 2u);
    EXPECT_EQ(seen.states[0].kind, StateKind::kStream);
    EXPECT_EQ(seen.states[0].stream, (StreamId{std::nullopt, "a"}));
    EXPECT_EQ(seen.states[0].stream_records, 2u);
    EXPECT_EQ(seen.states[1].kind, StateKind::kGlobal);
    std::sort(seen.states[1].streams.begin(), seen.states[1].streams.end());
    EXPECT_THAT(seen.states[1].streams,
                ElementsAre(std::make_pair(StreamId{std::nullopt, "a"}, 2u),
                            std::make_pair(StreamId{std::nullopt, "b"}, 2u)));
  }
}

TEST(InspectorTest, TheLargestKeptStateFitsUnderTheDefaultLineLimit) {
  const InspectorOptions defaults;
  const std::string prefix =
      R"({"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{"blob":")";
  const std::string suffix = R"("},"stream_states":[]}}})";
  const size_t overhead =
      std::string(R"({"type":"GLOBAL","global":{"shared_state":{"blob":"")").size() +
      std::string(R"(},"stream_states":[]}})").size();
  const std::string state_sized = std::string(defaults.max_state_bytes - overhead, 'x');
  const std::string line = prefix + state_sized + suffix + "\n";
  for (const size_t chunk : {size_t{0}, size_t{64 << 10}}) {
    const InspectorStats s = Inspect(line, {}, chunk);
    EXPECT_EQ(s.oversize_lines, 0u);
    ASSERT_TRUE(s.latest_global.has_value());
    EXPECT_EQ(s.latest_global->size, defaults.max_state_bytes);
    EXPECT_TRUE(s.latest_global->kept);
  }
}

TEST(InspectorTest, TraceErrorsStatusesAndEstimates) {
  const std::string input =
      R"({"type":"TRACE","trace":{"type":"ERROR","error":{"message":"boom \u00e9","failure_type":"config_error"}}})"
      "\n"
      R"({"type":"TRACE","trace":{"type":"STREAM_STATUS","stream_status":{"stream_descriptor":{"name":"users"},"status":"COMPLETE"}}})"
      "\n"
      R"({"type":"TRACE","trace":{"type":"ESTIMATE","estimate":{"name":"users","type":"STREAM","row_estimate":10,"byte_estimate":1.5}}})"
      "\n"
      R"({"type":"TRACE","trace":{"type":"ANALYTICS"}})"
      "\n";
  const InspectorStats s = Inspect(input);
  EXPECT_EQ(s.trace_errors, 1u);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].message, "boom \xC3\xA9");
  EXPECT_EQ(s.errors[0].failure_type, "config_error");
  EXPECT_EQ(s.errors[0].line, 1u);
  const StreamStats* users = s.stream(kUsers);
  ASSERT_NE(users, nullptr);
  EXPECT_EQ(users->status, "COMPLETE");
  EXPECT_EQ(users->row_estimate, 10);
  EXPECT_EQ(users->byte_estimate, std::nullopt);  // 1.5 is not an integer
  EXPECT_EQ(s.trace_kinds[static_cast<size_t>(TraceKind::kAnalytics)], 1u);
}

TEST(InspectorTest, ErrorMessagesAreCutAtACharacterBoundary) {
  // "é" is two bytes: a 4-byte bound falls inside the second one.
  const std::string input = R"({"type":"TRACE","trace":{"type":"ERROR","error":{"message":"aéé"}}})"
                            "\n";
  const InspectorStats s = Inspect(input, {.max_error_bytes = 4});
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].message, "a\xC3\xA9");
}

TEST(InspectorTest, StrayTextEmptyLinesAndCrlf) {
  const std::string input =
      "Starting connector\r\n"
      "\n"
      "\r\n"
      R"({"type":"LOG","log":{"level":"INFO","message":"hi"}})"
      "\r\n"
      "{\"type\":\"RECORD\",\"record\":{\"stream\":\"users\",\"data\":{},\"emitted_at\":1}}\r\n"
      "not json either\n";
  const InspectorStats s = Inspect(input, {.max_samples = 1});
  EXPECT_EQ(s.lines, 6u);
  EXPECT_EQ(s.empty_lines, 2u);
  EXPECT_EQ(s.non_protocol.count, 2u);
  EXPECT_EQ(s.non_protocol.bytes, std::string("Starting connector\r\nnot json either\n").size());
  ASSERT_EQ(s.non_protocol_samples.size(), 1u);  // bounded
  EXPECT_EQ(s.non_protocol_samples[0].prefix, "Starting connector");
  EXPECT_EQ(s.non_protocol_samples[0].line, 1u);
  EXPECT_EQ(s.type(MessageType::kLog).count, 1u);
  EXPECT_EQ(s.fast_path_lines, 1u);  // CRLF does not keep a record off the fast path
  EXPECT_EQ(s.stream(kUsers)->record_bytes,
            std::string("{\"type\":\"RECORD\",\"record\":{\"stream\":\"users\",\"data\":{},"
                        "\"emitted_at\":1}}\r\n")
                .size());
  EXPECT_EQ(s.bytes, input.size());
}

TEST(InspectorTest, UnterminatedFinalLineIsClassifiedAtFinish) {
  Inspector inspector;
  inspector.Consume(R"({"type":"RECORD","record":{"stream":"users","data":{},"emitted_at":1}})");
  EXPECT_EQ(inspector.Snapshot().lines, 0u);
  inspector.Finish();
  const InspectorStats s = inspector.Snapshot();
  EXPECT_EQ(s.lines, 1u);
  EXPECT_TRUE(s.unterminated_final_line);
  EXPECT_EQ(s.stream(kUsers)->records, 1u);
}

TEST(InspectorTest, ResultsDoNotDependOnChunkingOrPath) {
  const std::string input =
      R"({"type":"RECORD","record":{"stream":"ünï","data":{"k":"日本\"x\\"},"emitted_at":1}})"
      "\n"
      R"({"type": "RECORD", "record": {"namespace": null, "stream": "users", "data": {"a": [1, {"b": "\u00e9"}]}, "emitted_at": -3}})"
      "\n"
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"}}}})"
      "\n";
  const InspectorStats whole = Inspect(input);
  EXPECT_EQ(whole.fast_path_lines, 2u);
  for (size_t chunk : {1, 2, 3, 7, 64, 65}) {
    EXPECT_TRUE(Inspect(input, {}, chunk).SameResults(whole)) << chunk;
  }
  EXPECT_TRUE(Inspect(input, {.fast_path = false}, 5).SameResults(whole));
  EXPECT_TRUE(testing::ReferenceInspect(input, {}).SameResults(whole));
}

TEST(InspectorTest, OversizeRecordIsStillCountedForItsStream) {
  const std::string data = R"({"blob":")" + std::string(5000, 'z') + R"(", "n": [1, 2]})";
  const std::string line = R"({"type":"RECORD","record":{"namespace":"ns","stream":"big","data":)" +
                           data +
                           R"(,"emitted_at":1}})"
                           "\n";
  for (size_t chunk : {0, 1, 100, 4096}) {
    const InspectorStats s = Inspect(line, {.max_line_bytes = 1024}, chunk);
    EXPECT_EQ(s.oversize_lines, 1u);
    const StreamStats* big = s.stream({"ns", "big"});
    ASSERT_NE(big, nullptr) << chunk;
    EXPECT_EQ(big->records, 1u);
    EXPECT_EQ(big->record_bytes, line.size());
    EXPECT_EQ(big->data_bytes, data.size() - 3);  // three spaces outside strings
  }
}

TEST(InspectorTest, OversizeStateIsCountedButNotKept) {
  const std::string line =
      R"({"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":")" +
      std::string(3000, 'x') + "\"}}}\n";
  const InspectorStats s = Inspect(line, {.max_line_bytes = 1000}, 333);
  EXPECT_EQ(s.type(MessageType::kState).count, 1u);
  EXPECT_EQ(s.state_kinds[static_cast<size_t>(StateKind::kGlobal)], 1u);
  EXPECT_EQ(s.oversize_states, 1u);
  EXPECT_FALSE(s.latest_global.has_value());
}

TEST(InspectorTest, OversizeGarbageIsNotProtocolWithASample) {
  const std::string line = std::string(5000, 'g') + "\n";
  const InspectorStats s = Inspect(line, {.max_line_bytes = 100, .sample_bytes = 10}, 999);
  EXPECT_EQ(s.non_protocol.count, 1u);
  EXPECT_EQ(s.non_protocol.bytes, line.size());
  ASSERT_EQ(s.non_protocol_samples.size(), 1u);
  EXPECT_EQ(s.non_protocol_samples[0].prefix, std::string(10, 'g'));
}

TEST(InspectorTest, OversizeSampleDoesNotSplitACharacter) {
  // Found by the fuzzer: the sample of an oversize line was cut inside "日" (3 bytes).
  const std::string line = "ab\xE6\x97\xA5" + std::string(300, 'x') + "\n";
  const InspectorStats s = Inspect(line, {.max_line_bytes = 8, .sample_bytes = 4}, 3);
  ASSERT_EQ(s.non_protocol_samples.size(), 1u);
  EXPECT_EQ(s.non_protocol_samples[0].prefix, "ab");
}

long ResidentKiB() {
  std::ifstream status("/proc/self/status");
  std::string key;
  long value = 0;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> value;
      return value;
    }
  }
  return -1;
}

TEST(InspectorTest, OneGibRecordPassesInConstantMemory) {
  Inspector inspector;  // the default line limit
  const std::string head = R"({"type":"RECORD","record":{"stream":"huge","data":{"blob":")";
  const std::string tail = R"("},"emitted_at":1}})"
                           "\n";
  const std::string chunk(1 << 20, 'q');
  const uint64_t blob = uint64_t{1} << 30;
  inspector.Consume(head);
  const long before = ResidentKiB();
  for (uint64_t sent = 0; sent < blob; sent += chunk.size()) inspector.Consume(chunk);
  inspector.Consume(tail);
  const long after = ResidentKiB();
  inspector.Finish();
  const InspectorStats s = inspector.Snapshot();
  // The inspector buffers at most max_line_bytes (2 MiB) before switching to the tracker.
  EXPECT_LT(after - before, 16 * 1024) << "RSS grew by " << (after - before) << " KiB";
  ASSERT_NE(s.stream({std::nullopt, "huge"}), nullptr);
  EXPECT_EQ(s.stream({std::nullopt, "huge"})->records, 1u);
  EXPECT_EQ(s.stream({std::nullopt, "huge"})->data_bytes,
            blob + std::string(R"({"blob":""})").size());
  EXPECT_EQ(s.oversize_lines, 1u);
}

TEST(InspectorTest, SnapshotRunsConcurrentlyWithTheDataPath) {
  Inspector inspector;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    uint64_t last = 0;
    while (!done.load()) {
      const InspectorStats s = inspector.Snapshot();
      const StreamStats* st = s.stream(kUsers);
      const uint64_t records = st ? st->records : 0;
      EXPECT_GE(records, last);                                // never goes backwards
      EXPECT_EQ(s.type(MessageType::kRecord).count, records);  // consistent within a snapshot
      last = records;
    }
  });
  const std::string line =
      R"({"type":"RECORD","record":{"stream":"users","data":{},"emitted_at":1}})"
      "\n";
  for (int i = 0; i < 200000; ++i) inspector.Consume(line);
  done = true;
  reader.join();
  EXPECT_EQ(inspector.Snapshot().stream(kUsers)->records, 200000u);
}

}  // namespace
}  // namespace sluice::protocol
