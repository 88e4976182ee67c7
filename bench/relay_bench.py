#!/usr/bin/env python3
"""sluice-relay against socat, side by side, in one invocation.

Every case moves the same generated workload: blast (a writer that never limits) -> relay ->
sink (a reader that never limits), through a FIFO on one side and loopback TCP on the other.

  send: blast -> FIFO -> relay -> TCP -> sink
  recv: blast -> TCP -> relay -> FIFO -> sink

Cases: none (blast straight to the sink over TCP: the ceiling), the old sidecar's socat forms,
`socat -u`, and sluice-relay per engine with inspection on and off. Conditions: unthrottled, or
the relay alone in a cgroup (v1) with a CPU quota. Each case is repeated; medians are reported
with min and max. For sluice the relay's counters are checked against the generator's ground
truth, and a mismatch fails the run.

  python3 bench/relay_bench.py --build build/release            # everything
  python3 bench/relay_bench.py --directions send --workloads 200B --conditions none --reps 3

Writes bench/results/relay-<date>.json and, with gnuplot, a PNG bar chart per direction and
condition beside it. The last lines printed are the ratios against socat and the targets of the
harness issue, each met or NOT MET.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from charts import bar_chart
from sizes import parse_size
from tables import write_table

WORKLOADS = {
    # name: (sluice-gen flags, relay flags)
    "200B": (["--record_bytes=200"], []),
    "5KB": (["--record_bytes=5000"], []),
    "mix8": (["--record_bytes=300", "--streams=8", "--state_every=1000"], []),
    "big": (["--record_bytes=1000", "--big_every=40", "--big_record_bytes=12M"], []),
}
CONDITIONS = {"none": None, "1cpu": 1.0, "0.2cpu": 0.2}
TARGET_BYTES = {"none": 4 << 30, "1cpu": 2 << 30, "0.2cpu": 512 << 20}


class PeakRss:
    """Samples VmHWM (KiB) of a process tree every 10 ms. rusage's ru_maxrss is no use here: it
    keeps the high-water mark from before exec, i.e. the forked Python's."""

    def __init__(self, pid):
        self.pid, self.peak, self.done = pid, {}, False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _tree(self, pid):
        out = [pid]
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    for child in f.read().split():
                        out += self._tree(int(child))
        except OSError:
            pass
        return out

    def _run(self):
        while not self.done:
            for pid in self._tree(self.pid):
                try:
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                self.peak[pid] = max(self.peak.get(pid, 0), int(line.split()[1]))
                except OSError:
                    pass
            time.sleep(0.01)

    def stop_mib(self):
        """The peaks of the processes in the tree added up (cat + socat), the shell wrapper excluded."""
        self.done = True
        self.t.join()
        peaks = [v for pid, v in self.peak.items() if pid != self.pid] or list(self.peak.values()) or [0]
        return sum(peaks) / 1024.0 if len(peaks) > 1 else peaks[0] / 1024.0


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, **kw)


class Bench:
    def __init__(self, args):
        self.args = args
        b = args.build
        self.relay = f"{b}/dataplane/sluice-relay"
        self.gen = f"{b}/tests/sluice-gen"
        self.blast = f"{b}/bench/blast"
        self.sink = f"{b}/bench/sink"
        for tool in (self.relay, self.gen, self.blast, self.sink, shutil.which("socat")):
            if not tool or not os.access(tool, os.X_OK):
                sys.exit(f"relay_bench: missing {tool}: build first (cmake --build {b})")
        self.dir = tempfile.mkdtemp(prefix="sluice-bench-")
        self.engines = [e for e in args.engines.split(",")]
        self.templates = {}

    def template(self, workload):
        if workload not in self.templates:
            path, truth = f"{self.dir}/{workload}.jsonl", f"{self.dir}/{workload}.truth.json"
            sh([self.gen, f"--bytes={self.args.template}", f"--truth={truth}", *WORKLOADS[workload][0]],
               stdout=open(path, "wb"))
            with open(truth) as f:
                self.templates[workload] = (path, json.load(f))
        return self.templates[workload]

    def cgroup(self, quota):
        if quota is None:
            return None
        path = f"/sys/fs/cgroup/cpu/sluice-bench-{os.getpid()}"
        os.makedirs(path, exist_ok=True)
        with open(f"{path}/cpu.cfs_period_us", "w") as f:
            f.write("100000")
        with open(f"{path}/cpu.cfs_quota_us", "w") as f:
            f.write(str(int(quota * 100000)))
        return path

    def cases(self, direction):
        out = [("none", None)]
        if direction == "send":
            out.append(("cat|socat", lambda fifo, addr: f"cat {fifo} | socat -d -d -t 60 - TCP:{addr}"))
            out.append(("socat -u", lambda fifo, addr: f"socat -u PIPE:{fifo} TCP:{addr}"))
        else:
            out.append(("socat TCP-L STDOUT",
                        lambda fifo, addr: f"socat -d -d TCP-L:{addr.split(':')[1]},bind=127.0.0.1,reuseaddr STDOUT > {fifo}"))
            out.append(("socat -u", lambda fifo, addr: f"socat -u TCP-LISTEN:{addr.split(':')[1]},bind=127.0.0.1,reuseaddr PIPE:{fifo}"))
        for engine in self.engines:
            for inspect in (True, False):
                name = f"sluice {engine}" + ("" if inspect else " --no-inspect")
                flags = f"--engine={engine} --insecure-no-auth" + ("" if inspect else " --no-inspect")

                def cmd(fifo, addr, flags=flags, direction=direction):
                    where = f"--connect={addr}" if direction == "send" else f"--listen={addr}"
                    return (f"{self.relay} {direction} --name=bench --fifo={fifo} {where} {flags} "
                            f"--summary={self.dir}/summary.json")
                out.append((name, cmd))
        return out

    def run_once(self, direction, workload, condition, name, relay_cmd):
        template, truth = self.template(workload)
        target = parse_size(self.args.bytes) if self.args.bytes else TARGET_BYTES[condition]
        copies = max(1, target // truth["bytes"] // (4 if self.args.quick else 1))
        expected = truth["bytes"] * copies
        fifo = f"{self.dir}/fifo"
        if os.path.exists(fifo):
            os.unlink(fifo)
        os.mkfifo(fifo)
        summary = f"{self.dir}/summary.json"
        if os.path.exists(summary):
            os.unlink(summary)
        cg = self.cgroup(CONDITIONS[condition])
        # A port the kernel just handed out and took back: a fixed pick collided with whatever
        # else ran (a listening relay then failed with EADDRINUSE and the sink waited forever).
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            addr = f"127.0.0.1:{probe.getsockname()[1]}"
        relay = None

        def listening_sink():
            # The sink picks a free port itself: a port chosen here may be taken by then.
            sink = subprocess.Popen([self.sink, "--listen=127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
            line = sink.stdout.readline().split()
            if len(line) != 2 or line[0] != "listening":
                raise SystemExit(f"{name}: the sink did not start (exit {sink.wait()})")
            return sink, f"127.0.0.1:{line[1]}"

        if relay_cmd is None:  # the ceiling: blast straight to the sink
            sink, addr = listening_sink()
            start = time.time()
            blast = subprocess.Popen([self.blast, f"--input={template}", f"--copies={copies}", f"--connect={addr}"],
                                     stdout=subprocess.DEVNULL)
        else:
            def wrap(addr):
                wrapped = relay_cmd(fifo, addr)
                if not cg:
                    return wrapped
                if "|" in wrapped or ">" in wrapped:
                    return f"echo $$ > {cg}/cgroup.procs && exec sh -c '{wrapped}'"
                return f"echo $$ > {cg}/cgroup.procs && exec {wrapped}"

            if direction == "send":
                sink, addr = listening_sink()
                wrapped = wrap(addr)
                relay = subprocess.Popen(["sh", "-c", wrapped], stderr=subprocess.DEVNULL)
                sampler = PeakRss(relay.pid)
                start = time.time()
                blast = subprocess.Popen([self.blast, f"--input={template}", f"--copies={copies}", f"--output={fifo}"],
                                         stdout=subprocess.DEVNULL)
            else:
                wrapped = wrap(addr)
                relay = subprocess.Popen(["sh", "-c", wrapped], stderr=subprocess.DEVNULL)
                sampler = PeakRss(relay.pid)
                sink = subprocess.Popen([self.sink, f"--fifo={fifo}"], stdout=subprocess.PIPE, text=True)
                time.sleep(0.3)  # the relay listens
                start = time.time()
                blast = subprocess.Popen([self.blast, f"--input={template}", f"--copies={copies}", f"--connect={addr}"],
                                         stdout=subprocess.DEVNULL)
        if relay is not None:
            # A relay that fails leaves the sink (or the blaster) waiting for bytes that never
            # come: end them, so the failure is reported instead of a hang.
            # (waitid with WNOWAIT: the relay stays unreaped, for wait4's CPU figures below.)
            def watch(relay=relay, sink=sink, blast=blast):
                while sink.poll() is None:
                    st = os.waitid(os.P_PID, relay.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
                    if st is not None and not (st.si_code == os.CLD_EXITED and st.si_status == 0):
                        sink.kill()
                        blast.kill()
                        return
                    time.sleep(0.05)

            threading.Thread(target=watch, daemon=True).start()
        out = sink.stdout.read().split()
        if sink.wait() != 0 or not out:
            raise SystemExit(f"{name}: the sink failed (exit {sink.returncode})")
        received = int(out[-1])
        seconds = time.time() - start
        blast.wait()
        cpu = rss = None
        if relay is not None:
            rss = sampler.stop_mib()
            _, status, ru = os.wait4(relay.pid, 0)  # CPU: the relay and the processes it waited for
            relay.returncode = os.waitstatus_to_exitcode(status)
            cpu = ru.ru_utime + ru.ru_stime
            if relay.returncode != 0:
                raise SystemExit(f"{name}: the relay exited {relay.returncode}")
        if cg:
            os.rmdir(cg) if not os.listdir(cg) or True else None
        if received != expected:
            raise SystemExit(f"{name}: {received} bytes arrived, {expected} were sent")
        counters = None
        if name.startswith("sluice") and "--no-inspect" not in name:
            counters = self.check_counters(summary, truth, copies, name)
        return {"mb_per_s": expected / seconds / 1e6, "seconds": seconds, "bytes": expected,
                "relay_cpu_s_per_gb": cpu / (expected / 1e9) if cpu is not None else None,
                "relay_peak_rss_mib": rss, "counters_match": counters}

    def check_counters(self, summary, truth, copies, name):
        with open(summary) as f:
            got = json.load(f)["inspector"]
        streams = {(s["namespace"], s["name"]): s for s in got["streams"]}
        for t in truth["streams"]:
            s = streams.get((t["namespace"], t["name"]))
            for field in ("records", "record_bytes", "data_bytes", "states"):
                if s is None or s[field] != t[field] * copies:
                    raise SystemExit(f"{name}: counter {t['name']}.{field} is "
                                     f"{None if s is None else s[field]}, ground truth {t[field] * copies}")
        return True

    def run(self):
        results = []
        for direction in self.args.directions.split(","):
            for workload in self.args.workloads.split(","):
                for condition in self.args.conditions.split(","):
                    for name, cmd in self.cases(direction):
                        if name == "none" and condition != "none":
                            continue  # the ceiling has no relay to throttle
                        runs = [self.run_once(direction, workload, condition, name, cmd)
                                for _ in range(self.args.reps)]
                        rates = [r["mb_per_s"] for r in runs]
                        row = {"direction": direction, "workload": workload, "condition": condition,
                               "case": name, "reps": len(runs),
                               "mb_per_s": {"median": statistics.median(rates), "min": min(rates), "max": max(rates)},
                               "relay_cpu_s_per_gb": statistics.median(r["relay_cpu_s_per_gb"] for r in runs)
                               if runs[0]["relay_cpu_s_per_gb"] is not None else None,
                               "relay_peak_rss_mib": max(r["relay_peak_rss_mib"] for r in runs)
                               if runs[0]["relay_peak_rss_mib"] is not None else None,
                               "counters_match": runs[0]["counters_match"], "runs": runs}
                        results.append(row)
                        self.print_row(row)
        return results

    @staticmethod
    def print_row(r):
        m = r["mb_per_s"]
        cpu = f"{r['relay_cpu_s_per_gb']:.3f}" if r["relay_cpu_s_per_gb"] is not None else "-"
        rss = f"{r['relay_peak_rss_mib']:.1f}" if r["relay_peak_rss_mib"] is not None else "-"
        ok = {True: "ok", None: "-"}[r["counters_match"]]
        print(f"{r['direction']:4} {r['workload']:5} {r['condition']:6} {r['case']:32} "
              f"{m['median']:8.0f} MB/s [{m['min']:6.0f}-{m['max']:6.0f}]  cpu {cpu:>6} s/GB  "
              f"rss {rss:>6} MiB  counters {ok}", flush=True)


def ratios(results):
    lines = []
    by = {(r["direction"], r["workload"], r["condition"], r["case"]): r for r in results}
    for (d, w, c, case), r in sorted(by.items()):
        if not case.startswith("sluice"):
            continue
        for base in ("socat -u", "cat|socat", "socat TCP-L STDOUT"):
            b = by.get((d, w, c, base))
            if not b:
                continue
            line = (f"{d} {w} {c}: {case} / {base}: throughput "
                    f"{r['mb_per_s']['median'] / b['mb_per_s']['median']:.2f}x")
            if r["relay_cpu_s_per_gb"] and b["relay_cpu_s_per_gb"]:
                line += f", CPU per GB {r['relay_cpu_s_per_gb'] / b['relay_cpu_s_per_gb']:.2f}x"
            lines.append(line)
    return lines


# The targets, for sluice with inspection on and the engine `auto` picks (copy to send,
# uring to receive; see dataplane/engine.h). Each: (what, sluice case, baseline case, condition,
# the quantity compared, the bar, whether higher is better).
TARGETS = [
    ("throughput >= 1.8x socat -u, unthrottled", "sluice auto", "socat -u", "none", "mb", 1.8, True),
    ("throughput >= 3x cat|socat under 0.2 CPU", "sluice auto", "cat|socat", "0.2cpu", "mb", 3.0, True),
    ("throughput >= 3x socat TCP-L STDOUT under 0.2 CPU", "sluice auto", "socat TCP-L STDOUT", "0.2cpu",
     "mb", 3.0, True),
    ("CPU per GB <= 0.5x socat -u, unthrottled", "sluice auto", "socat -u", "none", "cpu", 0.5, False),
    ("inspection costs <= 10% of throughput, unthrottled", "sluice auto", "sluice auto --no-inspect", "none",
     "mb", 0.9, True),
]


def targets(results):
    """One line per target and (direction, workload) measured: the ratio, and met or not met."""
    by = {(r["direction"], r["workload"], r["condition"], r["case"]): r for r in results}
    lines = []
    for what, case, base, condition, quantity, bar, higher in TARGETS:
        for (d, w, c, name), r in sorted(by.items()):
            b = by.get((d, w, c, base))
            if name != case or c != condition or not b:
                continue
            if quantity == "mb":
                ratio = r["mb_per_s"]["median"] / b["mb_per_s"]["median"]
            elif r["relay_cpu_s_per_gb"] and b["relay_cpu_s_per_gb"]:
                ratio = r["relay_cpu_s_per_gb"] / b["relay_cpu_s_per_gb"]
            else:
                continue
            met = ratio >= bar if higher else ratio <= bar
            lines.append(f"{d} {w}: {what}: {ratio:.2f}x, {'met' if met else 'NOT MET'}")
    return sorted(lines)


def chart(results, png, direction, condition):
    """A bar chart of one direction under one condition; False without gnuplot or rows."""
    rows = [r for r in results if r["direction"] == direction and r["condition"] == condition]
    bars = [(f"{r['workload']} {'no relay (ceiling)' if r['case'] == 'none' else r['case']}",
             r["mb_per_s"]["median"], r["mb_per_s"]["min"], r["mb_per_s"]["max"]) for r in rows]
    return bool(rows) and bar_chart(
        png, f"sluice-relay vs socat ({direction}, {condition}) on {platform.node()}", bars)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build/release")
    p.add_argument("--directions", default="send,recv")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--conditions", default=",".join(CONDITIONS))
    p.add_argument("--engines", default="auto,uring,splice,copy",
                   help="auto is what a user gets; uring-ops can be added for measurement")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--template", default="64M", help="size of the generated workload, repeated")
    p.add_argument("--quick", action="store_true", help="a quarter of the bytes per case")
    p.add_argument("--bytes", help="bytes per case, whatever the condition (a smoke run: 64M)")
    p.add_argument("--out", default="bench/results")
    args = p.parse_args()
    bench = Bench(args)
    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"# {platform.node()}, {os.cpu_count()} cores, kernel {platform.release()}, {started:%Y-%m-%d %H:%M} UTC")
    results = bench.run()
    print("\n# ratios of medians")
    lines = ratios(results)
    for line in lines:
        print(line)
    goals = targets(results)
    if goals:
        print("\n# the harness issue's targets (inspection on, the engine auto picks)")
        for line in goals:
            print(line)
    path = write_table(args.out, "relay", started,
                       {"results": results, "ratios": lines, "targets": goals})
    stem = path[:-len(".json")]
    for direction in args.directions.split(","):
        for condition in args.conditions.split(","):
            png = f"{stem}-{direction}-{condition}.png"
            if chart(results, png, direction, condition):
                print(f"chart: {png}")
    print(f"table: {stem}.json")
    shutil.rmtree(bench.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
