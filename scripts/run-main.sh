#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs a sync on the local backend:
#
#   sluice run: source pod (sluice-gen) -> relay -> TCP, authenticated -> relay -> destination
#     pod (sluice-test-destination: writes each stream's records to a file, and echoes a STATE
#     back as committed only once the records before it are written and fsync'ed)
#
# Then it checks what the destination wrote and what the orchestrator counted against the
# source's ground truth, and shows the committed state. Needs Debian bookworm and root (or sudo)
# for the packages. SLUICE_SAMPLE_BYTES sets the size (default 256M).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# Its own build directory: the test suite's build/release uses other settings.
cmake -S . -B build/main -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_WERROR=OFF
cmake --build build/main --target sluice sluice-relay sluice-gen sluice-inspect \
  sluice-test-destination

bin=$(pwd)/build/main
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/out"
printf '{"destination_path": "%s"}\n' "$work/out" >"$work/destination.json"
printf '{"streams": []}\n' >"$work/catalog.json"
cat >"$work/sync.yaml" <<EOF
name: main-job
source:
  command: [$bin/tests/sluice-gen, --bytes=${SLUICE_SAMPLE_BYTES:-256M}, --streams=8,
            --state_every=1000, --truth=$work/truth.json]
destination:
  # Commits by writing each stream to a file, and echoes a STATE only once the records before
  # it are written and synced, as a destination must (tests/connectors/destination.cc).
  command: [$bin/tests/sluice-test-destination, write, --config, $work/destination.json,
            --catalog, $work/catalog.json]
state_file: $work/state.json
timeout: 30m
EOF
echo "== the sync spec"
cat "$work/sync.yaml"
echo
echo "== sluice run"
status=0
"$bin/orchestrator/sluice" run "$work/sync.yaml" --report="$work/report.json" || status=$?
echo
echo "== what the destination wrote (sluice-inspect on its files)"
cat "$work"/out/*.jsonl | "$bin/dataplane/sluice-inspect" | head -12
python3 - "$work" <<'PY'
import json, sys
d = sys.argv[1]
truth = json.load(open(f"{d}/truth.json"))
report = json.load(open(f"{d}/report.json"))
ok = report["exit_code"] == 0
got = {s["stream"]: s for s in report["streams"]}
for t in truth["streams"]:
    key = f"{t['namespace']}.{t['name']}"
    s = got.get(key, {})
    with open(f"{d}/out/{key}.jsonl") as f:
        written = sum(1 for _ in f)
    for field, value, want in (("records_emitted", s.get("records_emitted"), t["records"]),
                               ("records_delivered", s.get("records_delivered"), t["records"]),
                               ("states_emitted", s.get("states_emitted"), t["states"]),
                               ("records written", written, t["records"])):
        if value != want:
            ok = False
            print(f"MISMATCH {t['name']} {field}: {value}, the source wrote {want}")
states = json.load(open(f"{d}/state.json"))
ok = ok and len(states) == len(truth["streams"])
print(f"\n== committed state ({len(states)} streams), first entry: {json.dumps(states[0])}")
print(f"== {'every count matches' if ok else 'counts DO NOT match'} the source's ground truth "
      f"({truth['records']} records, {truth['states']} states, {truth['bytes']} bytes)")
sys.exit(0 if ok else 1)
PY
exit "$status"
