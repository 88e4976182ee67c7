#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs a sync on this machine through two
# sluice-relays, as the pods would run it (until the orchestrator's local backend exists):
#
#   sluice-gen (source) -> FIFO -> relay send -> TCP, authenticated -> relay recv -> FIFO
#     -> sluice-inspect (destination: prints the per-stream table of what it received)
#
# Then it checks both relays' per-stream counters against the source's ground truth. Needs
# Debian bookworm and root (or sudo) for the packages. SLUICE_SAMPLE_BYTES sets the size
# (default 256M).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# Its own build directory: the test suite's build/release uses other settings.
cmake -S . -B build/main -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_WERROR=OFF
cmake --build build/main --target sluice-relay sluice-gen sluice-inspect

bin=build/main
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/dataplane/sluice-relay" init "$work/source.stdout" "$work/destination.stdin"
SLUICE_SECRET=$(head -c 32 /dev/urandom | base64)  # one per sync; never printed
export SLUICE_SECRET

"$bin/dataplane/sluice-relay" recv --name=destination --fifo="$work/destination.stdin" \
  --listen=127.0.0.1:0 --summary="$work/recv.json" 2>"$work/recv.log" &
pids+=($!)
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/recv.log")
  [[ -n "$port" ]] && break
  sleep 0.05
done
[[ -n "$port" ]] || { cat "$work/recv.log"; echo "run-main: the receiving relay did not start" >&2; exit 1; }

"$bin/dataplane/sluice-relay" send --name=source --fifo="$work/source.stdout" \
  --connect="127.0.0.1:$port" --summary="$work/send.json" 2>"$work/send.log" &
send_pid=$!
pids+=($send_pid)
recv_pid=${pids[0]}

echo "== destination: what arrived on its stdin (sluice-inspect)"
"$bin/dataplane/sluice-inspect" "$work/destination.stdin" &
inspect_pid=$!
pids+=($inspect_pid)

"$bin/tests/sluice-gen" --bytes="${SLUICE_SAMPLE_BYTES:-256M}" --streams=8 --state_every=1000 \
  --truth="$work/truth.json" >"$work/source.stdout"

status=0
wait "$send_pid" || status=$?
wait "$recv_pid" || status=$?
wait "$inspect_pid" || status=$?
echo
echo "== relays"
tail -n 1 "$work/send.log"
tail -n 1 "$work/recv.log"
python3 - "$work" <<'EOF'
import json, sys
d = sys.argv[1]
truth = json.load(open(f"{d}/truth.json"))
ok = True
for side in ("send", "recv"):
    got = {(s["namespace"], s["name"]): s for s in json.load(open(f"{d}/{side}.json"))["inspector"]["streams"]}
    for t in truth["streams"]:
        s = got.get((t["namespace"], t["name"]), {})
        for field in ("records", "record_bytes", "data_bytes", "states"):
            if s.get(field) != t[field]:
                ok = False
                print(f"MISMATCH {side} {t['name']}.{field}: relay {s.get(field)}, source {t[field]}")
print(f"== counters of both relays {'match' if ok else 'DO NOT match'} the source's ground truth "
      f"({truth['records']} records, {truth['states']} states, {truth['bytes']} bytes)")
sys.exit(0 if ok else 1)
EOF
exit "$status"
