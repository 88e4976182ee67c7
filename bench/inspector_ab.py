#!/usr/bin/env python3
"""The inspector of two builds against each other: the way to measure a change to the parse.

On a shared VM one run of inspector_bench against another says little: the same binary moved by
a quarter between minutes here (bench/RESULTS.md). So the builds run alternately, one short run
of each in turn, round after round, and their medians are compared. With --instructions it also
counts, with valgrind's callgrind, the instructions each build's sluice-inspect spends on a line
of one generated file: a figure that does not move with the neighbours, though not a time.

  python3 bench/inspector_ab.py --build build/release --against /tmp/before
  python3 bench/inspector_ab.py --build build/release --against /tmp/before \\
      --filter 'BM_Inspector/(0|7)/' --rounds 20
  python3 bench/inspector_ab.py --build build/release --against /tmp/before --instructions \\
      --shape sorted-keys

Prints each workload's median GB/s [min-max] for each build and the ratio of the medians
(--build over --against); with --instructions, the instructions a line of each build and their
ratio. Writes bench/results/inspector-ab-<date>.json.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

from tables import write_table

SHAPES = {"canonical": [], "spaced": ["--spaced"], "sorted-keys": ["--sorted_keys"],
          "random-streams": ["--random_streams"]}


class Build:
    def __init__(self, path, p):
        self.path = path
        self.bench = f"{path}/bench/inspector_bench"
        self.inspect = f"{path}/dataplane/sluice-inspect"
        self.gen = f"{path}/tests/sluice-gen"
        for tool in (self.bench, self.inspect, self.gen):
            if not os.access(tool, os.X_OK):
                p.error(f"{path}: no {tool}: build it first "
                        f"(cmake --build {path} --target {os.path.basename(tool)})")
        self.gbps = {}  # benchmark name -> GB/s of each round

    def run_once(self, filter_, min_time, work):
        out = f"{work}/run.json"
        r = subprocess.run([self.bench, f"--benchmark_filter={filter_}",
                            f"--benchmark_min_time={min_time}", f"--benchmark_out={out}",
                            "--benchmark_out_format=json"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            sys.exit(f"inspector_ab: {self.bench} failed ({r.returncode}): {r.stderr.strip()}")
        try:
            benchmarks = json.load(open(out))["benchmarks"]
        except (OSError, ValueError, KeyError):
            benchmarks = []
        if not benchmarks:
            sys.exit(f"inspector_ab: --filter {filter_!r} matched no benchmark of {self.bench} "
                     f"(its workloads: {self.bench} --benchmark_list_tests)")
        for bm in benchmarks:
            self.gbps.setdefault(bm["name"], []).append(bm["bytes_per_second"] / 1e9)

    def instructions(self, stdin):
        out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                              self.inspect], stdin=open(stdin), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        m = re.search(r"refs:\s+([\d,]+)", out.stderr)
        if out.returncode != 0 or not m:
            sys.exit(f"inspector_ab: callgrind of {self.inspect} failed: {out.stderr[-500:]}")
        return int(m.group(1).replace(",", ""))

    def instructions_a_line(self, sample, lines):
        # Less a run on no input: the start and the end (loading, flags, the report) are not
        # the lines'.
        return (self.instructions(sample) - self.instructions(os.devnull)) / lines


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build/release", help="the build measured")
    p.add_argument("--against", required=True, help="the build it is measured against")
    p.add_argument("--filter", default="BM_Inspector/",
                   help="inspector_bench's --benchmark_filter (default: every inspector workload)")
    p.add_argument("--rounds", type=int, default=10, help="runs of each build, alternating")
    p.add_argument("--min-time", type=float, default=0.2, help="seconds each benchmark runs")
    p.add_argument("--instructions", action="store_true",
                   help="also count instructions a line with valgrind (callgrind)")
    p.add_argument("--shape", default="canonical", choices=sorted(SHAPES),
                   help="--instructions: the records' shape")
    p.add_argument("--record-bytes", type=int, default=200,
                   help="--instructions: the RECORD lines' size (under 200, without a namespace)")
    p.add_argument("--sample-bytes", default="20M", help="--instructions: the file's size")
    p.add_argument("--out", default="bench/results")
    args = p.parse_args()
    if args.rounds < 1:
        p.error("--rounds: at least 1")
    if args.min_time <= 0:
        p.error("--min-time: above 0 seconds")
    if args.instructions and shutil.which("valgrind") is None:
        p.error("--instructions needs valgrind (apt-get install valgrind, or "
                "scripts/install-deps.sh)")
    builds = [Build(args.build, p), Build(args.against, p)]
    work = tempfile.mkdtemp(prefix="sluice-inspector-ab-")
    try:
        started = datetime.datetime.now(datetime.timezone.utc)
        print(f"# {platform.node()}, {os.cpu_count()} cores, kernel {platform.release()}, "
              f"{started:%Y-%m-%d %H:%M} UTC; {args.rounds} rounds, alternating")
        for i in range(args.rounds):
            for b in builds if i % 2 == 0 else reversed(builds):  # drift cancels
                b.run_once(args.filter, args.min_time, work)
        names = [n for n in builds[0].gbps if n in builds[1].gbps]
        if not names:
            p.error(f"--filter {args.filter!r}: no benchmark both builds ran")
        rows = []
        for name in names:
            row = {"benchmark": name}
            for key, b in (("build", builds[0]), ("against", builds[1])):
                v = b.gbps[name]
                row[key] = {"median_gbps": statistics.median(v), "min_gbps": min(v),
                            "max_gbps": max(v)}
            row["ratio"] = row["build"]["median_gbps"] / row["against"]["median_gbps"]
            rows.append(row)
            print(f"{name:34s} build {row['build']['median_gbps']:6.3f} GB/s "
                  f"[{row['build']['min_gbps']:.3f}-{row['build']['max_gbps']:.3f}]  "
                  f"against {row['against']['median_gbps']:6.3f} GB/s "
                  f"[{row['against']['min_gbps']:.3f}-{row['against']['max_gbps']:.3f}]  "
                  f"ratio {row['ratio']:.3f}x")
        instructions = None
        if args.instructions:
            sample = f"{work}/sample.jsonl"
            with open(sample, "w") as f:
                # As inspector_bench's workloads: under 200 B, no namespace, which alone takes
                # 22 bytes of a line (a 100 B record with one is a 117 B line).
                subprocess.run([builds[0].gen, f"--bytes={args.sample_bytes}", "--streams=8",
                                "--state_every=1000", f"--record_bytes={args.record_bytes}"]
                               + (["--ns="] if args.record_bytes < 200 else [])
                               + SHAPES[args.shape], stdout=f, check=True)
            with open(sample, "rb") as f:
                lines = sum(1 for _ in f)
            line_bytes = os.path.getsize(sample) / lines
            per_line = [b.instructions_a_line(sample, lines) for b in builds]
            if (os.path.realpath(args.build) == os.path.realpath(args.against)
                    and per_line[0] != per_line[1]):
                sys.exit(f"inspector_ab: one binary counted {per_line[0]:.1f} and "
                         f"{per_line[1]:.1f} instructions a line: callgrind is not "
                         f"deterministic here, and the counts mean nothing")
            instructions = {"shape": args.shape, "record_bytes": args.record_bytes,
                            "lines": lines, "line_bytes": line_bytes, "build": per_line[0], "against": per_line[1],
                            "ratio": per_line[0] / per_line[1]}
            print(f"instructions a line ({args.shape}, {args.record_bytes} B records, "
                  f"{line_bytes:.0f} B a line with the STATEs, {lines} lines, "
                  f"sluice-inspect under callgrind): build {per_line[0]:.0f}, against "
                  f"{per_line[1]:.0f}, ratio {instructions['ratio']:.3f}x")
        path = write_table(args.out, "inspector-ab", started,
                           {"builds": {"build": args.build, "against": args.against},
                            "results": rows, "instructions": instructions})
        print(f"table: {path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
