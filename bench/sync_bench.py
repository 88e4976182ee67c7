#!/usr/bin/env python3
"""A whole sync through relays against the same sync through a plain pipe, in one invocation.

Each repetition runs the same source and destination these ways, in alternating order:

  pipe        source | destination, a shell's pipe (64 KiB)
  pipe 1MiB   the same pipe grown to 1 MiB, as the relays grow their FIFOs
  relayed     source > FIFO -> sluice-relay send -> TCP, authenticated -> sluice-relay recv
                -> FIFO > destination: the two data relays alone, wired by hand
  sluice run  the sync as a user runs it, through the orchestrator's local backend: the same
                two relays plus the pods' logs relays, the destination's stdout relayed back,
                and the orchestrator's checks
  sluice run, not inspecting
              the same with `relay: {inspect: false}`: what inspection costs (with --inspect
                once or both, on loopback)
  socat pods  the classic design Sluice replaces: source > FIFO, `cat FIFO | socat -d -d -t 60
                - TCP:...` on the source side, `socat -d -d TCP-L:PORT STDOUT > FIFO` on the
                destination side, FIFO > destination (no authentication, no counts)

The faster of the two pipes is the ceiling both relayed arms are held to. With --against
OTHER_BUILD, the relayed and sluice run arms run a second time each with that build's relay and
sluice ("relayed, --against", "sluice run, --against"), and the ratios of the two builds are
printed.

Sources:
  gen     sluice-gen generating records as it goes: a connector that spends CPU per record
  replay  cat of a file generated beforehand, from the page cache: faster than any connector,
          so the relays' own cost shows
Destination: sluice-inspect on its stdin, parsing every line. In every arm its per-stream counts
must match the source's ground truth, and so must the relays' counters where they inspect; a
mismatch fails the run.

  python3 bench/sync_bench.py --build build/release
  python3 bench/sync_bench.py --sources replay --bytes 256M --reps 1
  python3 bench/sync_bench.py --sources replay --net veth       # two namespaces, a veth pair
  python3 bench/sync_bench.py --sources replay --against /tmp/before  # a change, before and after

Prints one line per case (median MB/s [min-max], CPU per GB of each process, or of sluice and
all its pods together), the ratios to the ceiling against the target (at least 0.90) and to the
socat pods (issue 12's targets), and writes bench/results/sync-<date>.json and, with gnuplot, a
bar chart beside it.
"""

import argparse
import base64
import datetime
import errno
import fcntl
import glob
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from charts import bar_chart
from netns import VethPair
from sizes import parse_size
from tables import write_table

TARGET = 0.90
CGROUP_CPU = "/sys/fs/cgroup/cpu"
CGROUP_TAG = "sync-bench"
SOCAT_TARGET = 3.0  # issue 12: the whole sync at least 3x the socat pods
CPU_TARGET = 0.4    # ... with the relays' CPU per GB at most 0.4x the sidecars'
INSPECTION_TARGET = 0.10  # inspection costs at most 10% of the whole sync's throughput
NOT_INSPECTING = "sluice run, not inspecting"
AGAINST_RELAYED, AGAINST_RUN = "relayed, --against", "sluice run, --against"
F_SETPIPE_SZ = 1031
RELAY_PIPE_BYTES = 1 << 20  # what sluice-relay gives its FIFOs
WORKLOAD = ["--streams=8", "--state_every=1000"]


def cpu_limit(cpu, tag):
    """A command prefix that runs what follows in a cgroup (v1 cpu) of its own, limited to `cpu`
    of a CPU, as pods' sidecars run under a CPU limit: ["sh", "-c", SCRIPT, "limited"]. The cgroups
    are named sluice-TAG-PID; remove_cgroups(tag) removes them once their processes exited."""
    if not os.path.isdir(CGROUP_CPU) or not os.access(CGROUP_CPU, os.W_OK):
        sys.exit(f"{os.path.basename(sys.argv[0])}: --sidecar-cpu needs the cgroup v1 cpu controller "
                 f"at {CGROUP_CPU}, writable (root)")
    script = (f'd={CGROUP_CPU}/sluice-{tag}-$$ && mkdir $d && echo 100000 > $d/cpu.cfs_period_us '
              f'&& echo {int(cpu * 100000)} > $d/cpu.cfs_quota_us && echo $$ > $d/cgroup.procs '
              '&& exec "$@"')
    return ["sh", "-c", script, "limited"]


def limited_relay(relay, limit, path):
    """A script at `path` that runs `relay` with its arguments under `limit` (cpu_limit()): for
    `sluice run --relay=`, so that each relay it starts gets a cgroup of its own."""
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\nexec {' '.join(limit[:2])} '{limit[2]}' limited {relay} \"$@\"\n")
    os.chmod(path, 0o755)
    return path


def remove_cgroups(tag):
    """The cgroups cpu_limit(_, tag) made, once their processes exited."""
    for d in glob.glob(f"{CGROUP_CPU}/sluice-{tag}-*"):
        try:
            os.rmdir(d)
        except OSError:
            pass


class Sync:
    def __init__(self, args):
        b = args.build
        self.relay = f"{b}/dataplane/sluice-relay"
        self.inspect = f"{b}/dataplane/sluice-inspect"
        self.gen = f"{b}/tests/sluice-gen"
        self.sluice = f"{b}/orchestrator/sluice"
        for tool in (self.relay, self.inspect, self.gen, self.sluice):
            if not os.path.exists(tool):
                sys.exit(f"sync_bench: missing {tool}: build first (cmake --build {b})")
        self.args = args
        self.workload = WORKLOAD + [f"--record_bytes={args.record_bytes}"] + (
            ["--sorted_keys"] if args.shape == "sorted-keys" else [])
        self.inspecting = {"once": ("send",), "both": ("send", "recv"), "send": ("send",), "recv": ("recv",),
                           "none": ()}[args.inspect]
        self.dir = tempfile.mkdtemp(prefix="sluice-sync-bench-")
        self.truth_path = f"{self.dir}/truth.json"
        self.replay_file = None
        # One secret per sync, as the orchestrator makes it; never printed.
        self.env = dict(os.environ, SLUICE_SECRET=base64.b64encode(os.urandom(32)).decode())
        # --sidecar-cpu: every relay and sidecar process in a CPU cgroup of its own with that
        # quota, as pods' sidecars run under a CPU limit. `limit` prefixes a command with it.
        self.limit = []
        # --net veth: the sending side (the send relay, the sending socat) in one network
        # namespace and the receiving side in another, joined by a veth pair, as two pods on one
        # node are; `src_net`/`dst_net` prefix their commands (after `limit`: `ip netns exec`
        # mounts a sysfs of its own, without the cgroups), `dst_host` is where they connect.
        self.net = VethPair.loopback()
        if args.net == "veth":
            try:
                self.net = VethPair("sb")
            except RuntimeError as e:
                sys.exit(f"sync_bench: --net veth: {e}")
        self.src_net, self.dst_net, self.dst_host = self.net.src, self.net.dst, self.net.dst_host
        # --against: the other build's relay and orchestrator, for arms of their own; the
        # source, the destination and the generator stay this build's.
        self.against = None
        if args.against:
            self.against = {"relay": f"{args.against}/dataplane/sluice-relay",
                            "sluice": f"{args.against}/orchestrator/sluice"}
            for tool in self.against.values():
                if not os.path.exists(tool):
                    sys.exit(f"sync_bench: --against: missing {tool}")
        if args.sidecar_cpu is not None:
            self.limit = cpu_limit(args.sidecar_cpu, CGROUP_TAG)
            # sluice run starts its relays itself: through this wrapper, each gets its own.
            self.limited_relay = limited_relay(self.relay, self.limit, f"{self.dir}/limited-relay")
            if self.against:
                self.against["limited_relay"] = limited_relay(
                    self.against["relay"], self.limit, f"{self.dir}/limited-relay-against")

    def cleanup_cgroups(self):
        """The cgroups the limited processes made, once they exited."""
        remove_cgroups(CGROUP_TAG)

    def source_cmd(self, source):
        if source == "gen":
            return [self.gen, f"--bytes={self.args.bytes}", f"--truth={self.truth_path}", *self.workload]
        if self.replay_file is None:
            self.replay_file = f"{self.dir}/replay.jsonl"
            with open(self.replay_file, "wb") as out:
                subprocess.run([self.gen, f"--bytes={self.args.bytes}", f"--truth={self.truth_path}.replay",
                                *self.workload], stdout=out, check=True)
            subprocess.run(["cat", self.replay_file], stdout=subprocess.DEVNULL, check=True)  # page cache
        return ["cat", self.replay_file]

    def truth(self, source):
        with open(self.truth_path + (".replay" if source == "replay" else "")) as f:
            return json.load(f)

    @staticmethod
    def check(streams, truth, who):
        got = {(s["namespace"], s["name"]): s for s in streams}
        for t in truth["streams"]:
            s = got.get((t["namespace"], t["name"]), {})
            for field in ("records", "record_bytes", "data_bytes", "states"):
                if s.get(field) != t[field]:
                    sys.exit(f"sync_bench: {who}: {t['name']}.{field} is {s.get(field)}, "
                             f"the source wrote {t[field]}")

    @staticmethod
    def reap(proc):
        """Waits for `proc`; its exit code and its CPU seconds (user+sys)."""
        _, status, ru = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        return proc.returncode, ru.ru_utime + ru.ru_stime

    @staticmethod
    def open_writer(fifo, reader, deadline_s=30):
        """Opens `fifo` for writing once `reader` (a relay, after its handshake) opens it; fails
        rather than hangs if the relay exits first."""
        end = time.time() + deadline_s
        while True:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                os.set_blocking(fd, True)
                return fd
            except OSError as e:
                if e.errno != errno.ENXIO:  # no reader yet
                    raise
            if reader.poll() is not None or time.time() > end:
                sys.exit(f"sync_bench: the sending relay never opened {fifo} (exit {reader.returncode})")
            time.sleep(0.005)

    def run_pipe(self, source, pipe_bytes=None):
        """`pipe_bytes`: grow the pipe (F_SETPIPE_SZ) from the shell's 64 KiB to what the relays
        give their FIFOs, so that the ceiling is not held down by the pipe's size."""
        stats = f"{self.dir}/dest.json"
        cmd = self.source_cmd(source)
        r, w = os.pipe()
        if pipe_bytes:
            fcntl.fcntl(w, F_SETPIPE_SZ, pipe_bytes)
        start = time.time()
        src = subprocess.Popen(cmd, stdout=w)
        dst = subprocess.Popen([self.inspect, f"--json={stats}"], stdin=r, stdout=subprocess.DEVNULL)
        os.close(r)
        os.close(w)
        (src_rc, src_cpu), (dst_rc, dst_cpu) = self.reap(src), self.reap(dst)
        seconds = time.time() - start
        if src_rc != 0 or dst_rc != 0:
            sys.exit(f"sync_bench: pipe: the source exited {src_rc}, the destination {dst_rc}")
        truth = self.truth(source)
        with open(stats) as f:
            self.check(json.load(f)["streams"], truth, "pipe: the destination")
        return {"seconds": seconds, "bytes": truth["bytes"], "cpu_s": {"source": src_cpu, "destination": dst_cpu}}

    def run_relayed(self, source, relay=None):
        """`relay`: another build's sluice-relay (default this build's)."""
        relay = relay or self.relay
        d = self.dir
        for name in ("source.stdout", "destination.stdin"):
            if os.path.exists(f"{d}/{name}"):
                os.unlink(f"{d}/{name}")
        subprocess.run([self.relay, "init", f"{d}/source.stdout", f"{d}/destination.stdin"], check=True)
        def flags(side):
            if side in self.inspecting:
                return [f"--engine={self.args.engine}"]
            # Counting once, the receiving relay checks the sender's checksum instead.
            verify = ["--verify"] if side == "recv" and self.args.inspect == "once" else []
            return [f"--engine={self.args.engine}", "--no-inspect", *verify]

        recv_log = open(f"{d}/recv.log", "w+")
        recv = subprocess.Popen([*self.limit, *self.dst_net, relay, "recv", "--name=destination",
                                 f"--fifo={d}/destination.stdin", f"--listen={self.dst_host}:0",
                                 f"--summary={d}/recv.json", *flags("recv")],
                                stderr=recv_log, env=self.env)
        port = None
        for _ in range(200):
            recv_log.seek(0)
            m = re.search(r"listening on " + re.escape(self.dst_host) + r":(\d+)", recv_log.read())
            if m:
                port = m.group(1)
                break
            time.sleep(0.02)
        if port is None:
            recv.kill()
            sys.exit("sync_bench: the receiving relay did not start listening:\n" + open(f"{d}/recv.log").read())
        send = subprocess.Popen([*self.limit, *self.src_net, relay, "send", "--name=source",
                                 f"--fifo={d}/source.stdout", f"--connect={self.dst_host}:{port}",
                                 f"--summary={d}/send.json", *flags("send")],
                                stderr=open(f"{d}/send.log", "w"), env=self.env)
        result, truth = self.drive("relayed", source, ("send", send), ("recv", recv), self.start_destination())
        for side in self.inspecting:
            with open(f"{d}/{side}.json") as f:
                self.check(json.load(f)["inspector"]["streams"], truth, f"relayed: the {side} relay")
        if self.args.inspect == "once":
            sums = [json.load(open(f"{d}/{side}.json"))["relay"]["checksum"] for side in ("send", "recv")]
            if sums[0] is None or sums[0] != sums[1]:
                sys.exit(f"sync_bench: relayed: the relays' checksums differ: {sums}")
        return result

    def start_destination(self):
        """The destination, reading destination.stdin (its counts go to dest.json)."""
        return subprocess.Popen([self.inspect, f"--json={self.dir}/dest.json", f"{self.dir}/destination.stdin"],
                                stdout=subprocess.DEVNULL)

    def drive(self, arm, source, sender, receiver, dst):
        """The rest of a run through FIFOs: the source writing source.stdout once `sender` (name,
        process) opened it; then every process reaped, their exits and the destination's counts
        checked. The run's figures, and the truth."""
        d = self.dir
        stats = f"{d}/dest.json"
        start = time.time()
        fd = self.open_writer(f"{d}/source.stdout", sender[1])
        src = subprocess.Popen(self.source_cmd(source), stdout=fd)
        os.close(fd)
        results = {name: self.reap(p) for name, p in (("source", src), sender, receiver, ("destination", dst))}
        seconds = time.time() - start
        failed = {name: rc for name, (rc, _) in results.items() if rc != 0}
        if failed:
            sys.exit(f"sync_bench: {arm}: exit codes {failed}; logs in {d}")
        truth = self.truth(source)
        with open(stats) as f:
            self.check(json.load(f)["streams"], truth, f"{arm}: the destination")
        return ({"seconds": seconds, "bytes": truth["bytes"],
                 "cpu_s": {name: cpu for name, (_, cpu) in results.items()}}, truth)


def run_socat_pods(sync, source):
    """The classic pods' sidecars, as Airbyte ran them, between the same source and destination."""
    d = sync.dir
    for name in ("source.stdout", "destination.stdin"):
        if os.path.exists(f"{d}/{name}"):
            os.unlink(f"{d}/{name}")
        os.mkfifo(f"{d}/{name}")
    with socket.socket() as probe:  # a port the kernel hands out, free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dst = sync.start_destination()  # first: the listener's `> FIFO` waits for its reader
    host = sync.dst_host
    listener = subprocess.Popen([*sync.limit, *sync.dst_net, "sh", "-c",
                                 f"socat -d -d TCP-L:{port},bind={host},reuseaddr STDOUT > {d}/destination.stdin"],
                                stderr=open(f"{d}/socat-l.log", "w"))
    deadline = time.time() + 30
    while not listening(host, port, listener.pid):
        if listener.poll() is not None or time.time() > deadline:
            sys.exit(f"sync_bench: socat pods: the listening socat did not start; see {d}/socat-l.log")
        time.sleep(0.01)
    sender = subprocess.Popen([*sync.limit, *sync.src_net, "sh", "-c",
                               f"cat {d}/source.stdout | socat -d -d -t 60 - TCP:{host}:{port}"],
                              stderr=open(f"{d}/socat-s.log", "w"))
    result, _ = sync.drive("socat pods", source, ("sidecar send", sender), ("sidecar recv", listener), dst)
    return result


def listening(host, port, pid):
    """Whether something listens on `host`:`port` in the network namespace of process `pid`
    (from its /proc/PID/net/tcp, without connecting)."""
    want = f"{socket.htonl(int.from_bytes(socket.inet_aton(host), 'big')):08X}:{port:04X}"
    try:
        with open(f"/proc/{pid}/net/tcp") as f:
            lines = f.readlines()[1:]
    except OSError:
        return False
    return any(line.split()[3] == "0A" and line.split()[1] == want for line in lines)


def run_orchestrated(sync, source, inspect, against=False):
    """The same sync through `sluice run` on the local backend: the pods as the orchestrator
    builds them (their logs relays, the destination's stdout relayed back) and its checks.
    `inspect`: once, both or none, as --inspect; `against`: the --against build's sluice and
    relay."""
    d = sync.dir
    stats, report, work = f"{d}/dest.json", f"{d}/report.json", f"{d}/run"
    shutil.rmtree(work, ignore_errors=True)
    spec = f"{d}/sync.yaml"
    with open(spec, "w") as f:
        json.dump({"name": "bench", "source": {"command": sync.source_cmd(source)},
                   "destination": {"command": [sync.inspect, f"--json={stats}"]},
                   "relay": {"engine": sync.args.engine,
                             "inspect": {"once": True, "both": "both", "none": False}[inspect]}}, f)
    start = time.time()
    sluice = sync.against["sluice"] if against else sync.sluice
    if sync.limit:
        relay = [f"--relay={sync.against['limited_relay'] if against else sync.limited_relay}"]
    else:
        relay = [f"--relay={sync.against['relay']}"] if against else []
    p = subprocess.Popen([sluice, "run", spec, f"--workdir={work}", f"--report={report}", *relay],
                         stderr=open(f"{d}/sluice.log", "w"))
    code, cpu = Sync.reap(p)  # wait4: sluice and every pod it reaped
    seconds = time.time() - start
    if code != 0:
        sys.exit(f"sync_bench: sluice run exited {code}; see {d}/sluice.log")
    truth = sync.truth(source)
    with open(stats) as f:
        Sync.check(json.load(f)["streams"], truth, "sluice run: the destination")
    with open(report) as f:
        got = json.load(f)
    if got["bytes"] != {"emitted": truth["bytes"], "delivered": truth["bytes"]}:
        sys.exit(f"sync_bench: sluice run: bytes {got['bytes']}, the source wrote {truth['bytes']}")
    if inspect in ("once", "both"):
        by = {s["stream"]: s for s in got["streams"]}
        for t in truth["streams"]:
            s = by.get(f"{t['namespace']}.{t['name']}", {})
            if s.get("records_emitted") != t["records"] or s.get("records_delivered") != t["records"]:
                sys.exit(f"sync_bench: sluice run: {t['name']}: {s}, the source wrote {t['records']} records")
    return {"seconds": seconds, "bytes": truth["bytes"], "cpu_s": {"sluice and its pods": cpu}}


def summarize(source, arm, runs):
    rates = [r["bytes"] / r["seconds"] / 1e6 for r in runs]
    cpu = {k: statistics.median(r["cpu_s"][k] / (r["bytes"] / 1e9) for r in runs) for k in runs[0]["cpu_s"]}
    return {"source": source, "arm": arm, "reps": len(runs),
            "mb_per_s": {"median": statistics.median(rates), "min": min(rates), "max": max(rates)},
            "cpu_s_per_gb": cpu, "runs": runs}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build/release")
    p.add_argument("--sources", default="gen,replay")
    p.add_argument("--bytes", default="1G", help="what the source writes per run")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--engine", default="auto")
    p.add_argument("--inspect", default="once", choices=("once", "both", "send", "recv", "none"),
                   help="which relays inspect. once (what `sluice run` does by default): the "
                        "sending relay counts and checksums, the receiving one checks the checksum; "
                        "both: both count; send, recv: that one only, the other neither counts nor "
                        "checks; none")
    p.add_argument("--shape", default="canonical", choices=("canonical", "sorted-keys"),
                   help="the records' key order: the Java CDK's, or sorted (Go's encoding/json of "
                        "a map, json.dumps(sort_keys=True))")
    p.add_argument("--record-bytes", type=int, default=200,
                   help="the RECORD lines' size, newline included: exact from about 132 B, below that "
                        "the smallest record (issue 12's targets are for 200 B)")
    p.add_argument("--out", default="bench/results")
    p.add_argument("--against", default=None,
                   help="another build directory: its relay, and its sluice, as two more arms "
                        "alternating with this build's (before and after a change)")
    p.add_argument("--sidecar-cpu", type=float, default=None,
                   help="run every relay and sidecar under this CPU limit (0.2: the old sidecars'), "
                        "each in a cgroup of its own (cgroup v1, root)")
    p.add_argument("--net", default="loopback", choices=("loopback", "veth"),
                   help="veth: the sending and receiving sides in two network namespaces joined by "
                        "a veth pair, as two pods on one node (root); sluice run stays on loopback")
    args = p.parse_args()
    try:
        if parse_size(args.bytes) <= 0:
            raise ValueError
    except (ValueError, IndexError):
        p.error(f"--bytes {args.bytes!r}: a positive size such as 512M, 1G or 1000000")
    if args.reps < 1:
        p.error("--reps: at least 1")
    if not 100 <= args.record_bytes <= 1 << 20:
        p.error(f"--record-bytes {args.record_bytes}: from 100 (a record's envelope) to 1048576")
    unknown = set(args.sources.split(",")) - {"gen", "replay"}
    if unknown:
        p.error(f"--sources: {', '.join(sorted(unknown))} unknown; gen and replay are")
    if args.sidecar_cpu is not None and not 0 < args.sidecar_cpu <= os.cpu_count():
        p.error(f"--sidecar-cpu: a share of a CPU, above 0 and at most {os.cpu_count()}")
    sync = Sync(args)
    try:
        run(args, sync)
    finally:
        sync.net.remove()
        shutil.rmtree(sync.dir, ignore_errors=True)


def run(args, sync):
    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"# {platform.node()}, {os.cpu_count()} cores, kernel {platform.release()}, {started:%Y-%m-%d %H:%M} UTC")
    print(f"# records: {args.shape}, {args.record_bytes} B lines; relays: --engine={args.engine}, inspecting: {args.inspect}, authenticated"
          + (f"; every relay and sidecar limited to {args.sidecar_cpu} CPU" if args.sidecar_cpu else "")
          + ("; the two sides in two network namespaces joined by a veth pair (sluice run: not "
             "measured, its local backend runs on loopback)" if args.net == "veth" else ""))
    rows, lines = [], []
    for source in args.sources.split(","):
        arms = {"pipe": lambda: sync.run_pipe(source),
                "pipe 1MiB": lambda: sync.run_pipe(source, RELAY_PIPE_BYTES),
                "relayed": lambda: sync.run_relayed(source)}
        if args.inspect in ("once", "both", "none") and args.net == "loopback":
            arms["sluice run"] = lambda: run_orchestrated(sync, source, args.inspect)
            if args.inspect != "none":
                # What inspection costs, measured as the target reads it: the same sync
                # not inspecting, alternating with the others in this one invocation.
                arms[NOT_INSPECTING] = lambda: run_orchestrated(sync, source, "none")
        if sync.against:
            # The same two arms with the other build's relay (and orchestrator), alternating
            # with these: a change to the byte path, before and after in one invocation.
            arms[AGAINST_RELAYED] = lambda: sync.run_relayed(source, sync.against["relay"])
            if "sluice run" in arms:
                arms[AGAINST_RUN] = lambda: run_orchestrated(sync, source, args.inspect, against=True)
        if shutil.which("socat"):
            arms["socat pods"] = lambda: run_socat_pods(sync, source)
        runs = {arm: [] for arm in arms}
        for rep in range(args.reps):
            order = list(arms) if rep % 2 == 0 else list(reversed(arms))  # drift cancels
            for arm in order:
                runs[arm].append(arms[arm]())
                sync.cleanup_cgroups()
        for arm in arms:
            row = summarize(source, arm, runs[arm])
            rows.append(row)
            m = row["mb_per_s"]
            cpu = ", ".join(f"{k} {v:.2f}" for k, v in row["cpu_s_per_gb"].items())
            print(f"{source:6} {arm:26} {m['median']:7.0f} MB/s [{m['min']:5.0f}-{m['max']:5.0f}]  "
                  f"CPU s/GB: {cpu}", flush=True)
        mine = {r["arm"]: r for r in rows if r["source"] == source}

        def throughput(arms, base, label, target):
            """One line per arm of `arms` that ran: its median over `base`'s, against `target`."""
            for arm in (a for a in arms if a in mine):
                ratio = mine[arm]["mb_per_s"]["median"] / base["mb_per_s"]["median"]
                lines.append(f"{source}: {arm} / {label} throughput {ratio:.2f}x "
                             f"(target >= {target:.2f}x): {'met' if ratio >= target else 'NOT MET'}")

        ceiling = max((mine["pipe"], mine["pipe 1MiB"]), key=lambda r: r["mb_per_s"]["median"])
        throughput(("relayed", "sluice run"), ceiling, f"{ceiling['arm']} (the faster pipe)", TARGET)
        for arm, theirs in (("relayed", AGAINST_RELAYED), ("sluice run", AGAINST_RUN)):
            if theirs in mine:
                ratio = mine[arm]["mb_per_s"]["median"] / mine[theirs]["mb_per_s"]["median"]
                cpu = ""
                if arm == "relayed":
                    send = [r["cpu_s_per_gb"]["send"] for r in (mine[arm], mine[theirs])]
                    cpu = f", the sending relay's CPU per GB {send[0] / send[1]:.3f}x"
                lines.append(f"{source}: {arm}, this build / --against {args.against}: throughput "
                             f"{ratio:.3f}x{cpu}")
        if NOT_INSPECTING in mine:
            cost = 1 - mine["sluice run"]["mb_per_s"]["median"] / mine[NOT_INSPECTING]["mb_per_s"]["median"]
            lines.append(f"{source}: inspection's cost, 1 - sluice run / {NOT_INSPECTING} throughput "
                         f"{cost:.0%} (target <= {INSPECTION_TARGET:.0%}): "
                         f"{'met' if cost <= INSPECTION_TARGET else 'NOT MET'}")
        if "socat pods" in mine:
            socat = mine["socat pods"]
            throughput(("sluice run", "relayed"), socat, "socat pods", SOCAT_TARGET)
            relays = sum(mine["relayed"]["cpu_s_per_gb"][k] for k in ("send", "recv"))
            sidecars = sum(socat["cpu_s_per_gb"][k] for k in ("sidecar send", "sidecar recv"))
            lines.append(f"{source}: relays' CPU per GB / socat sidecars' {relays / sidecars:.2f}x "
                         f"({relays:.2f} / {sidecars:.2f} s/GB; target <= {CPU_TARGET:.1f}x): "
                         f"{'met' if relays / sidecars <= CPU_TARGET else 'NOT MET'}")
    print("\n# ratios of medians")
    for line in lines:
        print(line)
    path = write_table(args.out, "sync", started,
                       {"shape": args.shape, "record_bytes": args.record_bytes,
                        "inspect": args.inspect, "sidecar_cpu": args.sidecar_cpu, "net": args.net,
                        "against": args.against,
                        "results": rows, "ratios": lines})
    print(f"table: {path}")
    png = path[:-len(".json")] + ".png"
    condition = f"{args.net}" + (f", {args.sidecar_cpu} CPU per relay" if args.sidecar_cpu else "")
    if bar_chart(png, f"whole sync, {args.bytes} per run ({condition}) on {platform.node()}",
                 [(f"{r['source']} {r['arm']}", r["mb_per_s"]["median"], r["mb_per_s"]["min"],
                   r["mb_per_s"]["max"]) for r in rows]):
        print(f"chart: {png}")


if __name__ == "__main__":
    main()
