#!/usr/bin/env python3
"""What a sync costs besides its bytes: `sluice run` of three lines, timed over and over.

The sync: `cat` of two RECORDs and a STATE as the source, sluice-inspect as the destination,
the local backend. Its wall time is nearly all the fixed cost every sync pays: starting the
orchestrator and the pods (init containers, relays, connectors), their handshakes, and their
ends. Each run is timed from `sluice run`'s start to its exit, and must succeed.

With --backend=podman the pods are real containers: the test connectors' image (two records of
one stream) and the relay's, built by deploy/images/build.sh. --backend=kubernetes runs the same
pods through the API server of --kubeconfig (here: tests/kube_fake's, which runs them with
podman; see bench/RESULTS.md for how it was started). A change to the orchestrator can be
measured with --against as long as both builds run the relay in that image.

With --against, a second build's `sluice` runs alternately with the first, so both see the
same machine: the way to measure a change to the start or the end of a sync.

  python3 bench/start_bench.py --build build/release
  python3 bench/start_bench.py --build build/release --against /tmp/before --sidecar-cpu 0.2
  python3 bench/start_bench.py --build build/release --against /tmp/before --backend podman
  python3 bench/start_bench.py --build build/release --backend kubernetes --kubeconfig KUBECONFIG

Prints the median [min-max] wall time of each build (and the ratio of medians) and writes
bench/results/start-<date>.json.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from sync_bench import cpu_limit, limited_relay, remove_cgroups
from tables import write_table

LINES = [
    '{"type":"RECORD","record":{"stream":"s","data":{"a":1},"emitted_at":1}}',
    '{"type":"RECORD","record":{"stream":"s","data":{"a":2},"emitted_at":1}}',
    '{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"s"},'
    '"stream_state":{"c":2}}}}',
]
CGROUP_TAG = "start-bench"
CONNECTORS = "localhost/sluice-test-connectors:dev"
CONTAINERS_SPEC = {  # for podman and kubernetes
    "name": "startbench",
    "source": {"image": CONNECTORS, "command": ["sluice-test-source"],
               "config": {"streams": ["s0"], "records_per_stream": 2}},
    "destination": {"image": CONNECTORS, "command": ["sluice-test-destination"],
                    "config": {"destination_path": "/tmp"}},
    "catalog": {"streams": [{"stream": {"name": "s0", "json_schema": {},
                                        "supported_sync_modes": ["full_refresh"]},
                             "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]},
}


class Build:
    def __init__(self, path, args, work):
        self.path = path
        self.sluice = f"{path}/orchestrator/sluice"
        self.relay = f"{path}/dataplane/sluice-relay"
        inspect = f"{path}/dataplane/sluice-inspect"
        for tool in (self.sluice, self.relay, inspect):
            if not os.access(tool, os.X_OK):
                sys.exit(f"start_bench: missing {tool}: build first (cmake --build {path})")
        self.work = tempfile.mkdtemp(dir=work)
        self.spec = f"{self.work}/sync.json"  # YAML takes JSON
        self.backend = args.backend
        with open(self.spec, "w") as f:
            if self.backend == "local":
                json.dump({"name": "start", "source": {"command": ["cat", f"{work}/in.jsonl"]},
                           "destination": {"command": [inspect, f"--json={self.work}/dest.json"]}},
                          f)
            else:
                json.dump(CONTAINERS_SPEC, f)
        self.extra = [f"--backend={self.backend}"]
        if self.backend == "kubernetes":
            self.extra += [f"--kubeconfig={args.kubeconfig}",
                           f"--advertise-address={args.advertise_address}"]
        if args.sidecar_cpu is not None:
            limit = cpu_limit(args.sidecar_cpu, CGROUP_TAG)
            self.extra.append(
                f"--relay={limited_relay(self.relay, limit, f'{self.work}/limited-relay')}")
        self.seconds = []

    def run_once(self):
        shutil.rmtree(f"{self.work}/run", ignore_errors=True)
        start = time.monotonic()
        p = subprocess.run([self.sluice, "run", self.spec, f"--workdir={self.work}/run",
                            f"--report={self.work}/report.json", *self.extra],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.monotonic() - start
        remove_cgroups(CGROUP_TAG)
        if p.returncode != 0:
            sys.exit(f"start_bench: {self.sluice} run exited {p.returncode}:\n{p.stderr}")
        if self.backend == "local":
            with open(f"{self.work}/dest.json") as f:
                records = json.load(f)["types"]["RECORD"]["count"]
        else:
            with open(f"{self.work}/report.json") as f:
                records = sum(s["records_delivered"] for s in json.load(f)["streams"])
        if records != 2:
            sys.exit(f"start_bench: the destination counted {records} records, not 2")
        self.seconds.append(seconds)

    def summary(self):
        ms = [s * 1000 for s in self.seconds]
        return {"build": self.path, "runs": len(ms), "median_ms": statistics.median(ms),
                "min_ms": min(ms), "max_ms": max(ms), "ms": ms}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build/release")
    p.add_argument("--against", default=None, help="a second build, run alternately with --build")
    p.add_argument("--runs", type=int, default=20, help="runs of each build")
    p.add_argument("--sidecar-cpu", type=float, default=None,
                   help="run every relay under this CPU limit (0.2: the old sidecars'), each in a "
                        "cgroup of its own (cgroup v1, root)")
    p.add_argument("--backend", default="local", choices=("local", "podman", "kubernetes"))
    p.add_argument("--kubeconfig", default=None, help="kubernetes: the cluster's kubeconfig")
    p.add_argument("--advertise-address", default="127.0.0.1",
                   help="kubernetes: where the pods reach this machine (default: 127.0.0.1)")
    p.add_argument("--out", default="bench/results")
    args = p.parse_args()
    if args.runs < 1:
        p.error("--runs: at least 1")
    if args.sidecar_cpu is not None and not 0 < args.sidecar_cpu <= os.cpu_count():
        p.error(f"--sidecar-cpu: a share of a CPU, above 0 and at most {os.cpu_count()}")
    if args.backend == "kubernetes" and not args.kubeconfig:
        p.error("--backend=kubernetes needs --kubeconfig")
    if args.backend != "local" and args.sidecar_cpu is not None:
        p.error("--sidecar-cpu: with the local backend only (pods have their own limits, "
                "in the spec's relay.resources)")
    if args.backend == "podman":
        for image in (CONNECTORS, "localhost/sluice-relay:dev"):
            if subprocess.run(["podman", "image", "exists", image]).returncode != 0:
                p.error(f"--backend=podman: no image {image}: build it with "
                        f"deploy/images/build.sh {args.build}")
    work = tempfile.mkdtemp(prefix="sluice-start-bench-")
    try:
        with open(f"{work}/in.jsonl", "w") as f:
            f.write("\n".join(LINES) + "\n")
        builds = [Build(args.build, args, work)]
        if args.against:
            builds.append(Build(args.against, args, work))
        started = datetime.datetime.now(datetime.timezone.utc)
        print(f"# {platform.node()}, {os.cpu_count()} cores, kernel {platform.release()}, "
              f"{started:%Y-%m-%d %H:%M} UTC; "
              + (f"a sync of {len(LINES)} lines, local backend" if args.backend == "local"
                 else f"the test connectors' two records, {args.backend} backend")
              + (f"; every relay limited to {args.sidecar_cpu} CPU" if args.sidecar_cpu else ""))
        for i in range(args.runs):
            for b in builds if i % 2 == 0 else reversed(builds):  # drift cancels
                b.run_once()
        rows = [b.summary() for b in builds]
        for r in rows:
            print(f"{r['build']}: {r['median_ms']:.1f} ms [{r['min_ms']:.1f}-{r['max_ms']:.1f}], "
                  f"{r['runs']} runs")
        if len(rows) == 2:
            print(f"{rows[0]['build']} / {rows[1]['build']}: "
                  f"{rows[0]['median_ms'] / rows[1]['median_ms']:.2f}x the wall time (medians)")
        path = write_table(args.out, "start", started,
                           {"backend": args.backend, "sidecar_cpu": args.sidecar_cpu,
                            "results": rows})
        print(f"table: {path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        remove_cgroups(CGROUP_TAG)


if __name__ == "__main__":
    main()
