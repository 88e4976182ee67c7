// The inspector against the reference (protocol/testing/reference.h) on random messages in many
// serializations, under random chunking, through the fast path and through simdjson alone.

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "protocol/inspector.h"
#include "protocol/testing/generator.h"
#include "protocol/testing/reference.h"

namespace sluice::protocol {
namespace {

// Feeds `input` in random chunks: mostly small, sometimes one byte, sometimes large.
InspectorStats InspectChunked(std::string_view input, const InspectorOptions& options,
                              std::mt19937_64& rng) {
  Inspector inspector(options);
  size_t i = 0;
  while (i < input.size()) {
    size_t n;
    switch (rng() % 4) {
      case 0:
        n = 1;
        break;
      case 1:
        n = 1 + rng() % 16;
        break;
      case 2:
        n = 1 + rng() % 512;
        break;
      default:
        n = 1 + rng() % (1 << 16);
        break;
    }
    n = std::min(n, input.size() - i);
    inspector.Consume(input.substr(i, n));
    i += n;
  }
  inspector.Finish();
  return inspector.Snapshot();
}

std::string Describe(const InspectorStats& s) {
  std::string out = "lines=" + std::to_string(s.lines) +
                    " non_protocol=" + std::to_string(s.non_protocol.count) +
                    " oversize=" + std::to_string(s.oversize_lines) +
                    " streams=" + std::to_string(s.streams.size());
  for (size_t t = 0; t < kMessageTypeCount; ++t) out += " " + std::to_string(s.types[t].count);
  for (const auto& [id, st] : s.streams) {
    out += "\n  " + id.ToString() + " r=" + std::to_string(st.records) +
           " rb=" + std::to_string(st.record_bytes) + " db=" + std::to_string(st.data_bytes) +
           " st=" + std::to_string(st.states);
  }
  return out;
}

struct Case {
  const char* name;
  InspectorOptions options;
  testing::GeneratorOptions generator;
};

class InspectorPropertyTest : public ::testing::TestWithParam<Case> {};

TEST_P(InspectorPropertyTest, MatchesTheReferenceUnderRandomChunking) {
  const Case& c = GetParam();
  uint64_t fast_lines = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    testing::MessageGenerator gen(seed, c.generator);
    std::string input;
    for (int i = 0; i < 400; ++i) gen.AppendLine(&input);
    if (seed % 3 == 0) input += R"({"type":"LOG","log":{"message":"no newline at the end"}})";
    const InspectorStats expected = testing::ReferenceInspect(input, c.options);
    std::mt19937_64 rng(seed * 7919);

    InspectorOptions fast = c.options;
    fast.fast_path = true;
    const InspectorStats got_fast = InspectChunked(input, fast, rng);
    ASSERT_TRUE(got_fast.SameResults(expected))
        << "fast path, seed " << seed << "\nexpected " << Describe(expected) << "\ngot      "
        << Describe(got_fast);
    fast_lines += got_fast.fast_path_lines;

    InspectorOptions general = c.options;
    general.fast_path = false;
    const InspectorStats got_general = InspectChunked(input, general, rng);
    ASSERT_EQ(got_general.fast_path_lines, 0u);
    ASSERT_TRUE(got_general.SameResults(expected))
        << "simdjson path, seed " << seed << "\nexpected " << Describe(expected) << "\ngot      "
        << Describe(got_general);
  }
  // The comparison above means something for the fast path only if it ran.
  EXPECT_GT(fast_lines, 40u * 400 / 10);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, InspectorPropertyTest,
    ::testing::Values(
        Case{"defaults", {}, {}},
        Case{"mostly_canonical", {}, {.canonical = 0.9, .not_protocol = 0.02}},
        Case{"oversize_lines", {.max_line_bytes = 160, .sample_bytes = 40}, {.canonical = 0.5}},
        Case{"tiny_bounds",
             {.max_line_bytes = 400,
              .max_state_bytes = 60,
              .max_samples = 3,
              .sample_bytes = 5,
              .max_errors = 2,
              .max_error_bytes = 3},
             {}},
        Case{"big_strings", {.max_line_bytes = 2000}, {.canonical = 0.6, .big_string = 3000}},
        Case{"deep_data", {}, {.canonical = 0.5, .max_data_depth = 9}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace sluice::protocol
