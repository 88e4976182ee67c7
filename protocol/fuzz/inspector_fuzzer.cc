// libFuzzer target: random bytes under random chunking, differential.
//
// Input layout: byte 0 picks max_line_bytes, bytes 1-8 seed the chunking, the rest is the
// stream. Checks:
// 1. On the whole input, through the fast path and through simdjson alone: every line is
//    counted exactly once and every byte is accounted for.
// 2. On the lines the reference parser reads as valid JSON: fast path, simdjson path and the
//    reference give identical results (the readers promise exactness on valid JSON only; see
//    protocol/inspector.h).

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "protocol/inspector.h"
#include "protocol/testing/reference.h"

namespace sluice::protocol {
namespace {

InspectorStats Chunked(std::string_view input, InspectorOptions options, uint64_t seed) {
  Inspector inspector(options);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < input.size();) {
    const size_t n = std::min<size_t>(input.size() - i, 1 + rng() % (rng() % 2 ? 8 : 300));
    inspector.Consume(input.substr(i, n));
    i += n;
  }
  inspector.Finish();
  return inspector.Snapshot();
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "inspector_fuzzer: %s\n", what);
    std::abort();
  }
}

void CheckAccounting(const InspectorStats& s, std::string_view input) {
  uint64_t lines = s.empty_lines + s.non_protocol.count;
  uint64_t bytes = s.non_protocol.bytes;
  for (const Counter& c : s.types) {
    lines += c.count;
    bytes += c.bytes;
  }
  Check(s.bytes == input.size(), "bytes consumed differ from the input size");
  Check(lines == s.lines, "a line was counted twice or not at all");
  Check(bytes <= s.bytes && s.bytes - bytes <= 2 * s.empty_lines, "bytes unaccounted for");
  uint64_t records = 0;
  for (const auto& [id, st] : s.streams) records += st.records;
  Check(records == s.type(MessageType::kRecord).count, "records not attributed to a stream");
}

}  // namespace
}  // namespace sluice::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::protocol;
  if (size < 9) return 0;
  static constexpr size_t kLimits[] = {8, 40, 200, 16 << 20};
  InspectorOptions options;
  options.max_line_bytes = kLimits[data[0] % 4];
  options.max_state_bytes = data[0] & 0x10 ? 30 : 1 << 20;
  uint64_t seed;
  std::memcpy(&seed, data + 1, sizeof seed);
  const std::string_view input(reinterpret_cast<const char*>(data) + 9, size - 9);

  InspectorOptions general = options;
  general.fast_path = false;
  const InspectorStats fast = Chunked(input, options, seed);
  const InspectorStats slow = Chunked(input, general, seed ^ 0x5555);
  CheckAccounting(fast, input);
  CheckAccounting(slow, input);

  std::string valid;
  for (size_t start = 0; start < input.size();) {
    size_t end = input.find('\n', start);
    const bool terminated = end != std::string_view::npos;
    if (!terminated) end = input.size();
    std::string_view content = input.substr(start, end - start);
    if (terminated && !content.empty() && content.back() == '\r') content.remove_suffix(1);
    if (content.empty() || testing::ReferenceValidJson(content)) {
      valid.append(input.substr(start, end - start + (terminated ? 1 : 0)));
    }
    start = end + 1;
  }
  const InspectorStats expected = testing::ReferenceInspect(valid, options);
  Check(Chunked(valid, options, seed).SameResults(expected),
        "fast path differs from the reference");
  Check(Chunked(valid, general, seed + 1).SameResults(expected),
        "simdjson path differs from the reference");
  return 0;
}
