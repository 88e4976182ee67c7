#!/usr/bin/env bash
# The whole test suite: installs what is needed, then builds and runs it three times:
#   1. gcc, warnings as errors: unit, property and integration tests;
#   2. clang with AddressSanitizer and UndefinedBehaviorSanitizer: the same tests, plus a short
#      run of the inspector's libFuzzer target (scripts/fuzz.sh runs it longer);
#   3. clang with ThreadSanitizer: the same tests, so the relay's and the orchestrator's
#      threads (metrics, heartbeats, handshakes, the state reader) are checked for races. A
#      race makes the binary exit 66, which fails the test that ran it.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_WERROR=ON
cmake --build build/release -j "$jobs"
ctest --test-dir build/release --output-on-failure -j "$jobs"

CXX=clang++ cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSLUICE_SANITIZE=ON -DSLUICE_BUILD_FUZZERS=ON -DSLUICE_BUILD_BENCHMARKS=OFF -DSLUICE_WERROR=ON
cmake --build build/sanitize -j "$jobs"
ctest --test-dir build/sanitize --output-on-failure -j "$jobs"

CXX=clang++ cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSLUICE_TSAN=ON -DSLUICE_BUILD_BENCHMARKS=OFF -DSLUICE_WERROR=ON
cmake --build build/tsan -j "$jobs"
TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" \
  ctest --test-dir build/tsan --output-on-failure -j "$jobs"
