#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs a sync on the local backend, with the
# test connectors on the Airbyte CLI (tests/connectors/):
#
#   sluice run: source pod (sluice-test-source read --config --catalog [--state]) -> relay ->
#     TCP, authenticated -> relay -> destination pod (sluice-test-destination write --config
#     --catalog: writes each stream's records to a file, echoes a STATE only once the records
#     before it are written and fsync'ed)
#
# It shows the live display and the final table (records emitted, delivered and committed per
# stream), then checks what the destination wrote and the report's counts against what the
# source was told to write, and shows the committed state. Then it runs the same sync again: the
# source resumes from the committed state and has nothing left to send. Needs Debian bookworm
# and root (or sudo) for the packages. SLUICE_SAMPLE_RECORDS sets the records per stream
# (default 400000: 8 streams of ~200-byte records, ~700 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# Its own build directory: the test suite's build/release uses other settings.
cmake -S . -B build/main -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_WERROR=OFF
cmake --build build/main --target sluice sluice-relay sluice-entrypoint sluice-inspect \
  sluice-test-source sluice-test-destination

bin=$(pwd)/build/main
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
records=${SLUICE_SAMPLE_RECORDS:-400000}
streams=(users orders events payments sessions invoices products reviews)

mkdir -p "$work/out"
catalog=$(printf '{"stream": {"name": "%s", "namespace": "public"}, "sync_mode": "incremental", "destination_sync_mode": "append"},' "${streams[@]}")
printf '{"streams": [%s]}\n' "${catalog%,}" >"$work/catalog.json"
cat >"$work/sync.yaml" <<EOF
name: main-job
source:
  command: [$bin/tests/sluice-test-source]
  config:
    streams: [$(IFS=,; echo "${streams[*]}")]
    namespace: public
    records_per_stream: $records
    record_bytes: 200
    state_every: 1000
    log_every: 1000000
destination:
  command: [$bin/tests/sluice-test-destination]
  config: {destination_path: $work/out}
catalog_file: $work/catalog.json
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
cat "$work"/out/*.jsonl | "$bin/dataplane/sluice-inspect" | head -10
echo
echo "== the same sync again: it resumes from the committed state"
"$bin/orchestrator/sluice" run "$work/sync.yaml" --report="$work/report-again.json" 2>&1 |
  grep -E "resumes|succeeded|failed" || status=$?
python3 - "$work" "$records" "${streams[@]}" <<'PY'
import json, sys
d, records, streams = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
report = json.load(open(f"{d}/report.json"))
again = json.load(open(f"{d}/report-again.json"))
ok = report["exit_code"] == 0 and again["exit_code"] == 0
got = {s["stream"]: s for s in report["streams"]}
for name in streams:
    s = got.get(f"public.{name}", {})
    with open(f"{d}/out/public.{name}.jsonl") as f:
        written = sum(1 for _ in f)
    for field, value in (("records_emitted", s.get("records_emitted")),
                         ("records_delivered", s.get("records_delivered")),
                         ("records_committed", s.get("records_committed")),
                         ("records written", written)):
        if value != records:
            ok = False
            print(f"MISMATCH {name} {field}: {value}, the source was to write {records}")
# Resumed from the committed state, the second sync emits no record.
resent = sum(s["records_emitted"] for s in again["streams"])
if resent != 0:
    ok = False
    print(f"MISMATCH the resumed sync emitted {resent} records again")
states = json.load(open(f"{d}/state.json"))
ok = ok and len(states) == len(streams)
print(f"\n== committed state ({len(states)} streams), first entry: {json.dumps(states[0])}")
print(f"== {'every count matches' if ok else 'counts DO NOT match'}: {len(streams)} streams of "
      f"{records} records emitted, delivered, committed and written, and none sent twice")
sys.exit(0 if ok else 1)
PY
exit "$status"
