#!/usr/bin/env python3
"""Which way of sending costs the sending relay least: tee + splice (what the relay does), read +
write, read + send(MSG_ZEROCOPY) and read + IORING_OP_SEND_ZC, each handing user space one copy
of every byte as the inspector needs, on loopback and across a veth pair, in one invocation.

  python3 bench/send_probe.py --build build/release
  python3 bench/send_probe.py --net veth --bytes 1G --reps 5

Each repetition sends the same file (200 B records, from the page cache, through `cat` and a
pipe) with tools/send_probe to tools/sink, every mode in turn, in alternating order. Prints per
mode the median MB/s and the sender's CPU seconds per GB, the ratio of that CPU to tee's, and for
the zero-copy modes how many of their sends the kernel copied after all
(SO_EE_CODE_ZEROCOPY_COPIED, IORING_NOTIF_USAGE_ZC_COPIED: the kernel copies what it delivers
to a socket on this host). Writes bench/results/send-<date>.json.
Needs root for --net veth.
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

from netns import VethPair
from sizes import parse_size
from tables import write_table

MODES = ("tee", "copy", "zerocopy", "uring-zc")


def send_once(build, net, path, mode):
    """One transfer of `path`: seconds, the sender's CPU seconds and what it printed."""
    sink = subprocess.Popen([*net.dst, f"{build}/bench/sink", f"--listen={net.dst_host}:0"],
                            stdout=subprocess.PIPE, text=True)
    first = sink.stdout.readline().split()
    if first[:1] != ["listening"]:
        sink.kill()
        sys.exit(f"send_probe: the sink did not listen (it printed {first!r})")
    start = time.time()
    cat = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
    probe = subprocess.Popen([*net.src, f"{build}/bench/send_probe", f"--mode={mode}",
                              f"--connect={net.dst_host}:{first[1]}"],
                             stdin=cat.stdout, stdout=subprocess.PIPE, text=True)
    cat.stdout.close()
    out = probe.stdout.read()
    _, status, ru = os.wait4(probe.pid, 0)
    received = sink.stdout.read().strip()
    sink.wait()
    cat.wait()
    seconds = time.time() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or sink.returncode != 0:
        sys.exit(f"send_probe: --mode={mode}: the sender exited {code}, the sink {sink.returncode}")
    sent = json.loads(out)
    size = os.path.getsize(path)
    if sent["bytes"] != size or received != str(size):
        sys.exit(f"send_probe: --mode={mode}: {size} bytes to send, {sent['bytes']} sent, "
                 f"{received} received")
    return {"seconds": seconds, "cpu_s": ru.ru_utime + ru.ru_stime, **sent}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build/release")
    p.add_argument("--bytes", default="1G", help="what each transfer sends")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--net", default="loopback,veth", help="loopback, veth or both, comma-separated")
    p.add_argument("--out", default="bench/results")
    args = p.parse_args()
    try:
        size = parse_size(args.bytes)
        if size <= 0:
            raise ValueError
    except (ValueError, IndexError):
        p.error(f"--bytes {args.bytes!r}: a positive size such as 512M, 1G or 1000000")
    if args.reps < 1:
        p.error("--reps: at least 1")
    nets = args.net.split(",")
    if not nets or set(nets) - {"loopback", "veth"}:
        p.error(f"--net {args.net!r}: loopback, veth or loopback,veth")
    for tool in ("bench/send_probe", "bench/sink", "tests/sluice-gen"):
        if not os.path.exists(f"{args.build}/{tool}"):
            sys.exit(f"send_probe: missing {args.build}/{tool}: build first (cmake --build {args.build})")

    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"# {platform.node()}, {os.cpu_count()} cores, kernel {platform.release()}, "
          f"{started:%Y-%m-%d %H:%M} UTC; {args.bytes} a transfer, 200 B records, {args.reps} reps")
    work = tempfile.mkdtemp(prefix="sluice-send-probe-")
    rows, lines = [], []
    try:
        path = f"{work}/records.jsonl"
        with open(path, "wb") as f:
            subprocess.run([f"{args.build}/tests/sluice-gen", f"--bytes={size}", "--record_bytes=200",
                            "--streams=8"], stdout=f, stderr=subprocess.DEVNULL, check=True)
        subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)  # page cache
        for name in nets:
            try:
                net = VethPair("sp") if name == "veth" else VethPair.loopback()
            except RuntimeError as e:
                sys.exit(f"send_probe: --net veth: {e}")
            try:
                runs = {m: [] for m in MODES}
                for rep in range(args.reps):
                    for mode in (MODES if rep % 2 == 0 else reversed(MODES)):  # drift cancels
                        runs[mode].append(send_once(args.build, net, path, mode))
            finally:
                net.remove()
            gb = os.path.getsize(path) / 1e9
            mine = {}
            for mode in MODES:
                r = runs[mode]
                row = {"net": name, "mode": mode,
                       "mb_per_s": statistics.median(gb * 1e3 / x["seconds"] for x in r),
                       "cpu_s_per_gb": statistics.median(x["cpu_s"] / gb for x in r),
                       "completions": sum(x["completions"] for x in r),
                       "copied": sum(x["copied"] for x in r), "runs": r}
                rows.append(row)
                mine[mode] = row
                copied = (f"; the kernel copied {row['copied']} of {row['completions']} sends"
                          if mode in ("zerocopy", "uring-zc") else "")
                print(f"{name:8} {mode:8} {row['mb_per_s']:6.0f} MB/s  sender CPU "
                      f"{row['cpu_s_per_gb']:.3f} s/GB{copied}", flush=True)
            for mode in MODES[1:]:
                lines.append(f"{name}: {mode} / tee sender CPU per GB "
                             f"{mine[mode]['cpu_s_per_gb'] / mine['tee']['cpu_s_per_gb']:.2f}x, "
                             f"throughput {mine[mode]['mb_per_s'] / mine['tee']['mb_per_s']:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n# ratios of medians")
    for line in lines:
        print(line)
    out = write_table(args.out, "send", started, {"bytes": size, "results": rows, "ratios": lines})
    print(f"table: {out}")


if __name__ == "__main__":
    main()
