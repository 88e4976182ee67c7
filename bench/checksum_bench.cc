// What the relays' payload checksum (dataplane/end_marker.h) costs per byte, beside what the
// tee'd copy it rides along with costs: the same 64 KiB chunks the relay reads, hashed, and
// copied. The relay pays the copy anyway whenever it taps the bytes; the hash is the addition.
//
//   build/release/bench/checksum_bench --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "dataplane/end_marker.h"

namespace {

constexpr size_t kChunk = 64 << 10;  // what the relay reads out of the tee pipe at once
constexpr size_t kTotal = 64 << 20;  // larger than the caches: the bytes come from memory

std::string Payload() {
  std::string p(kTotal, '\0');
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<char>("{\"a\":1}\n"[i % 8] + i % 3);
  return p;
}

void BM_PayloadChecksum(benchmark::State& state) {
  const std::string payload = Payload();
  for (auto _ : state) {
    sluice::dataplane::PayloadChecksum sum;
    for (size_t i = 0; i < payload.size(); i += kChunk) {
      sum.Update(std::string_view(payload).substr(i, kChunk));
    }
    benchmark::DoNotOptimize(sum.Digest());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kTotal);
}

// The copy of each chunk into one 64 KiB buffer, as `read` out of the tee pipe makes it.
void BM_CopyIntoTheTapBuffer(benchmark::State& state) {
  const std::string payload = Payload();
  std::vector<char> buffer(kChunk);
  for (auto _ : state) {
    for (size_t i = 0; i < payload.size(); i += kChunk) {
      std::memcpy(buffer.data(), payload.data() + i, kChunk);
      benchmark::ClobberMemory();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kTotal);
}

// The hash of each chunk right after its copy, while it is in the cache: the relay's order.
void BM_CopyThenChecksum(benchmark::State& state) {
  const std::string payload = Payload();
  std::vector<char> buffer(kChunk);
  for (auto _ : state) {
    sluice::dataplane::PayloadChecksum sum;
    for (size_t i = 0; i < payload.size(); i += kChunk) {
      std::memcpy(buffer.data(), payload.data() + i, kChunk);
      sum.Update(std::string_view(buffer.data(), kChunk));
    }
    benchmark::DoNotOptimize(sum.Digest());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kTotal);
}

}  // namespace

BENCHMARK(BM_PayloadChecksum)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CopyIntoTheTapBuffer)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CopyThenChecksum)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
