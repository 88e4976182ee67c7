#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs a sync on the local backend:
#
#   sluice run: source pod (sluice-gen) -> relay -> TCP, authenticated -> relay -> destination
#     pod (writes what it receives to a file, echoes each STATE back as committed)
#
# Then it checks what arrived and what the orchestrator counted against the source's ground
# truth, and shows the committed state. Needs Debian bookworm and root (or sudo) for the
# packages. SLUICE_SAMPLE_BYTES sets the size (default 256M).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# Its own build directory: the test suite's build/release uses other settings.
cmake -S . -B build/main -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_WERROR=OFF
cmake --build build/main --target sluice sluice-relay sluice-gen sluice-inspect

bin=$(pwd)/build/main
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/sync.yaml" <<EOF
name: main-job
source:
  command: [$bin/tests/sluice-gen, --bytes=${SLUICE_SAMPLE_BYTES:-256M}, --streams=8,
            --state_every=1000, --truth=$work/truth.json]
destination:
  # Commits by writing to a file, and echoes each STATE once written, as destinations do.
  command: [sh, -c, 'tee "\$0" | grep --line-buffered "\"type\":\"STATE\"" || [ \$? -eq 1 ]',
            $work/received.jsonl]
state_file: $work/state.json
timeout: 30m
EOF
echo "== the sync spec"
cat "$work/sync.yaml"
echo
echo "== sluice run"
status=0
"$bin/orchestrator/sluice" run "$work/sync.yaml" --workdir="$work/run" --report="$work/report.json" ||
  status=$?
echo
echo "== what the destination received (sluice-inspect on its file)"
"$bin/dataplane/sluice-inspect" "$work/received.jsonl"
python3 - "$work" <<'PY'
import json, os, sys
d = sys.argv[1]
truth = json.load(open(f"{d}/truth.json"))
report = json.load(open(f"{d}/report.json"))
ok = report["exit_code"] == 0 and os.path.getsize(f"{d}/received.jsonl") == truth["bytes"]
got = {s["stream"]: s for s in report["streams"]}
for t in truth["streams"]:
    s = got.get(f"{t['namespace']}.{t['name']}", {})
    for field, want in (("records_emitted", t["records"]), ("records_delivered", t["records"]),
                        ("states_emitted", t["states"])):
        if s.get(field) != want:
            ok = False
            print(f"MISMATCH {t['name']}.{field}: sluice counted {s.get(field)}, the source wrote {want}")
states = json.load(open(f"{d}/state.json"))
ok = ok and len(states) == len(truth["streams"])
print(f"\n== committed state ({len(states)} streams), first entry: {json.dumps(states[0])}")
print(f"== {'every count matches' if ok else 'counts DO NOT match'} the source's ground truth "
      f"({truth['records']} records, {truth['states']} states, {truth['bytes']} bytes)")
sys.exit(0 if ok else 1)
PY
exit "$status"
