#!/usr/bin/env bash
# Fuzzes the inspector for longer than the test suite does: scripts/fuzz.sh [SECONDS] [JOBS].
# Uses the sanitizer build of scripts/test.sh (built here if missing). The corpus is kept in
# fuzz-corpus/ between runs; crashes are written there as crash-*.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
jobs=${2:-1}
if [[ ! -x build/sanitize/protocol/fuzz/inspector_fuzzer ]]; then
  ./scripts/install-deps.sh
  CXX=clang++ cmake -S . -B build/sanitize -G Ninja -DSLUICE_SANITIZE=ON -DSLUICE_BUILD_FUZZERS=ON \
    -DSLUICE_BUILD_BENCHMARKS=OFF
  cmake --build build/sanitize --target inspector_fuzzer fuzz_seed_corpus
fi
mkdir -p fuzz-corpus/corpus
build/sanitize/protocol/fuzz/fuzz_seed_corpus fuzz-corpus/seeds
exec build/sanitize/protocol/fuzz/inspector_fuzzer -max_total_time="$seconds" -max_len=4096 \
  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -jobs="$jobs" -workers="$jobs" \
  -artifact_prefix=fuzz-corpus/ fuzz-corpus/corpus fuzz-corpus/seeds
