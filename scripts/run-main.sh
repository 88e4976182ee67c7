#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs a sample: a generated Airbyte stream
# (8 streams, a STATE every 1000 records) through the protocol inspector, which prints its
# per-stream table. Needs Debian bookworm and root (or sudo) for the packages.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build/release --target sluice-gen sluice-inspect
build/release/tests/sluice-gen --bytes="${SLUICE_SAMPLE_BYTES:-256M}" --streams=8 --state_every=1000 \
  | build/release/dataplane/sluice-inspect
