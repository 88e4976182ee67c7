// Inspector throughput against simdjson On-Demand over the same input, in one binary.
//
//   build/bench/inspector_bench --benchmark_repetitions=5
//
// Workloads: canonical RECORD lines of about 100 B, 1 KB and 64 KB, newline included (Java's
// compact shape and Python's spaced one), the same records with their keys sorted (Go's
// encoding/json of a map, json.dumps(sort_keys=True)), and a mix of every shape from the
// property-test generator. Until 2026-11-27 the generator wrote its fixed fields whatever the
// size asked: the "100 B" lines were 165 B, the others 22 B over (bench/RESULTS.md).
// Competitor: simdjson iterate_many reading `type` and `record.stream` of every document, the
// least a parser-based inspector must do. After the table, one line per workload gives the ratio
// of medians (or of single runs without repetitions).
//
// A floor, not a competitor: the inspector's own SIMD classification (CompactSize()) over every
// byte of the input once, with no line framed and nothing counted. An inspector that classified
// each byte once could not run faster; the one here classifies `data` only.

#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "protocol/inspector.h"
#include "protocol/json_scan.h"
#include "protocol/testing/generator.h"
#include "protocol/testing/workload.h"

namespace sluice::protocol {
namespace {

constexpr size_t kInputBytes = 32 << 20;
// What the relay hands over: its reads of the tapped bytes are 64 KiB (1 MiB until 2026-11-27,
// bench/RESULTS.md).
constexpr size_t kChunkBytes = 64 << 10;

const std::string& CanonicalInput(size_t record_bytes, bool spaced, bool sorted_keys = false) {
  static std::map<std::tuple<size_t, bool, bool>, std::string> cache;
  std::string& s = cache[{record_bytes, spaced, sorted_keys}];
  if (s.empty()) {
    // A 100-byte line has no room for a namespace: with one, the smallest record is 113-119 bytes.
    // Without, the 100 B workloads' lines are 96 B on average (105 B spaced): `data` is
    // {"id":N} alone (protocol/testing/workload.h).
    testing::Workload w({.record_bytes = record_bytes,
                         .streams = 8,
                         .spaced = spaced,
                         .sorted_keys = sorted_keys,
                         .ns = record_bytes < 200 ? "" : "public"});
    while (s.size() < kInputBytes) w.AppendLine(&s);
  }
  return s;
}

const std::string& MixInput() {
  static std::string s;
  if (s.empty()) {
    testing::MessageGenerator gen(99, {.canonical = 0.5, .not_protocol = 0.02});
    while (s.size() < kInputBytes) gen.AppendLine(&s);
  }
  return s;
}

const std::string& Input(int64_t workload) {
  switch (workload) {
    case 0:
      return CanonicalInput(100, false);
    case 1:
      return CanonicalInput(1000, false);
    case 2:
      return CanonicalInput(64 << 10, false);
    case 3:
      return CanonicalInput(100, true);
    case 4:
      return CanonicalInput(1000, true);
    case 5:
      return CanonicalInput(64 << 10, true);
    case 6:
      return MixInput();
    case 7:
      return CanonicalInput(100, false, true);
    default:
      return CanonicalInput(1000, false, true);
  }
}

void SetLabel(benchmark::State& state) {
  static const char* const kNames[] = {
      "canonical_100B", "canonical_1KB", "canonical_64KB",   "spaced_100B",    "spaced_1KB",
      "spaced_64KB",    "mix",           "sorted_keys_100B", "sorted_keys_1KB"};
  state.SetLabel(kNames[state.range(0)]);
}

void BM_Inspector(benchmark::State& state) {
  const std::string& input = Input(state.range(0));
  Inspector inspector;
  for (auto _ : state) {
    for (size_t i = 0; i < input.size(); i += kChunkBytes) {
      inspector.Consume(std::string_view(input).substr(i, kChunkBytes));
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  const InspectorStats s = inspector.Snapshot();
  state.counters["fast_path_share"] =
      static_cast<double>(s.fast_path_lines) / std::max<uint64_t>(s.lines, 1);
  SetLabel(state);
}

void BM_SimdjsonIterateMany(benchmark::State& state) {
  const std::string& input = Input(state.range(0));
  const simdjson::padded_string padded(input);
  simdjson::ondemand::parser parser;
  parser.threaded = false;  // one core, like the inspector
  uint64_t records = 0;
  for (auto _ : state) {
    simdjson::ondemand::document_stream docs;
    // The batch must hold the largest document.
    if (parser.iterate_many(padded, 1 << 20).get(docs)) state.SkipWithError("iterate_many failed");
    for (auto doc : docs) {
      std::string_view type;
      if (doc["type"].get_string().get(type)) continue;
      if (type == "RECORD") {
        std::string_view stream;
        if (!doc["record"]["stream"].get_string().get(stream)) records += stream.size() > 0;
      }
    }
  }
  benchmark::DoNotOptimize(records);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  SetLabel(state);
}

// The same work as the inspector on these inputs: type, stream, namespace and the compact size of
// `data` (simdjson::minify into a scratch buffer), per document.
void BM_SimdjsonSameWork(benchmark::State& state) {
  const std::string& input = Input(state.range(0));
  const simdjson::padded_string padded(input);
  simdjson::ondemand::parser parser;
  parser.threaded = false;
  std::vector<char> scratch(1 << 20);
  uint64_t data_bytes = 0;
  for (auto _ : state) {
    simdjson::ondemand::document_stream docs;
    if (parser.iterate_many(padded, 1 << 20).get(docs)) state.SkipWithError("iterate_many failed");
    for (auto doc : docs) {
      std::string_view type;
      if (doc["type"].get_string().get(type) || type != "RECORD") continue;
      simdjson::ondemand::object record;
      if (doc["record"].get_object().get(record)) continue;
      for (auto field : record) {
        std::string_view key;
        if (field.unescaped_key().get(key)) break;
        if (key == "stream" || key == "namespace") {
          std::string_view v;
          if (!field.value().get_string().get(v)) data_bytes += v.empty();
        } else if (key == "data") {
          simdjson::ondemand::object data;
          std::string_view raw;
          if (field.value().get_object().get(data) || data.raw_json().get(raw)) break;
          size_t compact = 0;
          if (raw.size() > scratch.size()) scratch.resize(raw.size());
          if (!simdjson::minify(raw.data(), raw.size(), scratch.data(), compact))
            data_bytes += compact;
        }
      }
    }
  }
  benchmark::DoNotOptimize(data_bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  SetLabel(state);
}

// iterate_many stops at the first line that is not JSON, so on the mix the competitor is
// simdjson line by line (memchr, then iterate), which is what tolerating stray text costs.
void BM_SimdjsonPerLine(benchmark::State& state) {
  const std::string& input = Input(state.range(0));
  const simdjson::padded_string padded(input);
  simdjson::ondemand::parser parser;
  uint64_t records = 0;
  for (auto _ : state) {
    const char* p = padded.data();
    const char* const end = p + input.size();
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (nl == nullptr) nl = end;
      simdjson::ondemand::document doc;
      std::string_view type;
      if (!parser
               .iterate(p, static_cast<size_t>(nl - p),
                        static_cast<size_t>(end - p) + simdjson::SIMDJSON_PADDING)
               .get(doc) &&
          !doc["type"].get_string().get(type) && type == "RECORD") {
        std::string_view stream;
        if (!doc["record"]["stream"].get_string().get(stream)) records += stream.size() > 0;
      }
      p = nl + 1;
    }
  }
  benchmark::DoNotOptimize(records);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  SetLabel(state);
}

// The floor: every byte classified once, in the pieces the relay hands over, nothing else.
void BM_ClassifyEveryByte(benchmark::State& state) {
  const std::string& input = Input(state.range(0));
  uint64_t compact = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < input.size(); i += kChunkBytes) {
      compact += CompactSize(std::string_view(input).substr(i, kChunkBytes));
    }
  }
  benchmark::DoNotOptimize(compact);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  SetLabel(state);
}

// Every workload but the mix (6), which iterate_many cannot read.
void NotTheMix(benchmark::internal::Benchmark* b) {
  for (int64_t w : {0, 1, 2, 3, 4, 5, 7, 8}) b->Arg(w);
}

BENCHMARK(BM_Inspector)->DenseRange(0, 8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SimdjsonIterateMany)->Apply(NotTheMix)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SimdjsonPerLine)->Arg(6)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SimdjsonSameWork)->Apply(NotTheMix)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ClassifyEveryByte)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// Collects bytes/s per (benchmark, workload), preferring the median aggregate, and prints the
// inspector's ratio to simdjson after the usual table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      const auto it = run.counters.find("bytes_per_second");
      if (it == run.counters.end()) continue;
      auto& slot = rates_[{run.run_name.function_name, run.report_label}];
      if (median || !slot.second) slot = {it->second.value, median};
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\nInspector vs simdjson (iterate_many; line by line on the mix; one core, %s):\n",
                any_median() ? "medians" : "single runs");
    for (const auto& [key, rate] : rates_) {
      if (key.first != "BM_Inspector") continue;
      auto other = rates_.find({"BM_SimdjsonIterateMany", key.second});
      if (other == rates_.end()) other = rates_.find({"BM_SimdjsonPerLine", key.second});
      if (other == rates_.end()) continue;
      std::printf("  %-16s inspector %6.2f GB/s  simdjson %6.2f GB/s  ratio %5.2fx",
                  key.second.c_str(), rate.first / 1e9, other->second.first / 1e9,
                  rate.first / other->second.first);
      const auto same = rates_.find({"BM_SimdjsonSameWork", key.second});
      if (same != rates_.end()) {
        std::printf("   | same work: simdjson %6.2f GB/s  ratio %5.2fx", same->second.first / 1e9,
                    rate.first / same->second.first);
      }
      std::printf("\n");
    }
    bool header = false;
    for (const auto& [key, rate] : rates_) {
      if (key.first != "BM_ClassifyEveryByte") continue;
      const auto inspector = rates_.find({"BM_Inspector", key.second});
      if (inspector == rates_.end()) continue;
      if (!header)
        std::printf("\nInspector vs its floor (every byte classified once, nothing else):\n");
      header = true;
      std::printf("  %-16s inspector %6.2f GB/s  floor %6.2f GB/s  inspector at %3.0f%% of it\n",
                  key.second.c_str(), inspector->second.first / 1e9, rate.first / 1e9,
                  100 * inspector->second.first / rate.first);
    }
  }

 private:
  bool any_median() const {
    for (const auto& [k, v] : rates_)
      if (v.second) return true;
    return false;
  }
  std::map<std::pair<std::string, std::string>, std::pair<double, bool>> rates_;
};

}  // namespace
}  // namespace sluice::protocol

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  sluice::protocol::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
