"""What every harness writes beside its printout: <out>/<kind>-<date>.json, with the machine
(host, cores, kernel, CPU), the date and the command line in front of its own fields."""

import json
import os
import platform
import sys


def cpu():
    """The CPU's model name and the widest vector unit the inspector's kernels use on it: two
    machines both called "AMD EPYC" here differed in just that (bench/RESULTS.md)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = fields.get("flags", "").split()
    simd = ("avx512bw" if "avx512bw" in flags else "avx2" if "avx2" in flags
            else "sse2" if "sse2" in flags else "unknown")
    return {"model": fields.get("model name", platform.processor() or "unknown"),
            "family": fields.get("cpu family"), "model_number": fields.get("model"),
            "simd": simd}


def write_table(out_dir, kind, started, fields):
    """Writes the table and returns its path; `started` (a datetime) names and dates it."""
    os.makedirs(out_dir, exist_ok=True)
    path = f"{out_dir}/{kind}-{started:%Y%m%d-%H%M%S}.json"
    with open(path, "w") as f:
        json.dump({"machine": {"host": platform.node(), "cores": os.cpu_count(),
                               "kernel": platform.release(), "cpu": cpu()},
                   "date": started.isoformat(), "command": " ".join(sys.argv), **fields},
                  f, indent=1)
    return path
