"""Runs `sluice run` for the orchestrator's tests: specs, runs, reports, ground truth.

Binaries come from the environment (set by CTest): SLUICE, SLUICE_GEN, SLUICE_SOURCE,
SLUICE_DESTINATION.
"""

import glob
import json
import os
import shutil
import subprocess
import tempfile
import unittest

SLUICE = os.environ["SLUICE"]
GEN = os.environ["SLUICE_GEN"]
SOURCE = os.environ["SLUICE_SOURCE"]
DESTINATION = os.environ["SLUICE_DESTINATION"]

# A destination that commits what it reads (into a file) and echoes each STATE once committed,
# as Airbyte destinations do.
ECHOING_DESTINATION = ["sh", "-c", 'tee "$0" | grep --line-buffered \'"type":"STATE"\' || [ $? -eq 1 ]']

EXIT_OK, EXIT_USAGE, EXIT_SOURCE, EXIT_DESTINATION = 0, 2, 20, 21
EXIT_RELAY, EXIT_TIMEOUT, EXIT_START, EXIT_INTERRUPTED = 22, 23, 24, 143


def pods_spec(test, name, images, streams, source_config, backend, destination_config=None,
              state=True, relay=None):
    """A spec of the test connectors with `streams`: the images for the container backends, the
    build's binaries for local. `relay` adds to the spec's relay settings."""
    containers = backend != "local"
    with open(test.path("catalog.json"), "w") as f:
        json.dump({"streams": [{"stream": {"name": s, "namespace": "public"},
                                "sync_mode": "incremental", "destination_sync_mode": "append"}
                               for s in streams]}, f)
    out = "/tmp" if containers else test.path(f"out-{name}")
    os.makedirs(test.path(f"out-{name}"), exist_ok=True)
    source = ["sluice-test-source"] if containers else [SOURCE]
    destination = ["sluice-test-destination"] if containers else [DESTINATION]
    relay = {"image": images.relay, "stall_timeout": "20s", **(relay or {})}
    lines = [f"name: {name}",
             f"source: {{image: {images.connectors}, command: {json.dumps(source)}, "
             f"config: {json.dumps({'streams': streams, **source_config})}}}",
             f"destination: {{image: {images.connectors}, command: {json.dumps(destination)}, "
             f"config: {json.dumps({'destination_path': out, **(destination_config or {})})}}}",
             f"catalog_file: {test.path('catalog.json')}",
             f"relay: {json.dumps(relay)}"]
    if state:
        lines.append(f"state_file: {test.path(name + '.state.json')}")
    path = test.path(f"{name}.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def assert_same_sync(test, report, state, expected, expected_state, records):
    """That a sync on a container backend (report, committed state) matches the local backend's
    of the same spec: per-stream counts, bytes and committed state, `records` in each stream."""
    rows = lambda r: sorted((s["stream"], s["records_emitted"], s["records_delivered"],
                             s["records_committed"], s["states_emitted"]) for s in r["streams"])
    test.assertEqual(rows(report), rows(expected))
    test.assertEqual([r[1] for r in rows(report)], [records] * len(report["streams"]))
    test.assertEqual(report["bytes"], expected["bytes"])
    test.assertGreater(report["bytes"]["emitted"], 0)
    test.assertEqual(state, expected_state)  # the same committed state


def processes():
    """(pid directory, command line, environment) of every process that can be read."""
    for proc in glob.glob("/proc/[0-9]*"):
        try:
            with open(f"{proc}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"{proc}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        yield proc, cmdline, environ


class SyncTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-orch-test-")
        self.workdir = os.path.join(self.dir, "work")
        # A cleanup, not tearDown: cleanups run after tearDown, last added first, so what a test
        # adds (unmounting a tmpfs it put in the directory) runs before the directory goes. In
        # tearDown, the mount point stayed behind in /tmp after every run.
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def spec(self, source, destination, **extra):
        lines = ["name: test-sync", f"source: {{command: {json.dumps(source)}}}",
                 f"destination: {{command: {json.dumps(destination)}}}"]
        lines += [f"{k}: {json.dumps(v)}" for k, v in extra.items()]
        with open(self.path("sync.yaml"), "w") as f:
            f.write("\n".join(lines) + "\n")
        return self.path("sync.yaml")

    def run_sync(self, spec, timeout=120, extra=(), workdir=True, env=None):
        args = [SLUICE, "run", spec, f"--report={self.path('report.json')}", *extra]
        if workdir:
            args.append(f"--workdir={self.workdir}")
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, **(env or {})})
        return p.returncode, p.stderr

    def report(self):
        with open(self.path("report.json")) as f:
            return json.load(f)

    def gen(self, size="16M", extra=()):
        return [GEN, f"--bytes={size}", "--streams=4", "--state_every=1000",
                f"--truth={self.path('truth.json')}", *extra]

    def truth(self):
        with open(self.path("truth.json")) as f:
            return json.load(f)

    def destination(self, out_dir, **config):
        """The reference destination (tests/connectors/destination.cc) writing into `out_dir`."""
        os.makedirs(out_dir, exist_ok=True)
        with open(self.path("destination.json"), "w") as f:
            json.dump({"destination_path": out_dir, **config}, f)
        with open(self.path("catalog.json"), "w") as f:
            json.dump({"streams": []}, f)
        return [DESTINATION, "write", "--config", self.path("destination.json"),
                "--catalog", self.path("catalog.json")]

    @staticmethod
    def written_ids(out_dir):
        """The record ids (sluice-gen numbers records across streams) the destination wrote."""
        ids = set()
        for path in glob.glob(os.path.join(out_dir, "*.jsonl")):
            with open(path) as f:
                lines = f.read().split("\n")
            # The last line may be torn (a destination killed or out of space mid-write): it was
            # never committed. Every other line must be whole.
            for line in lines[:-1]:
                ids.add(json.loads(line)["record"]["data"]["id"])
        return ids

    def assert_committed_state_was_written(self, state_file, out_dir):
        """Every record before a committed cursor is in the destination's files."""
        with open(state_file) as f:
            states = json.load(f)
        self.assertGreater(len(states), 0)
        ids = self.written_ids(out_dir)
        for st in states:
            cursor = st["stream"]["stream_state"]["cursor"]
            missing = [i for i in range(cursor) if i not in ids]
            self.assertEqual(missing[:5], [], f"committed cursor {cursor}, records missing")
        return states

    def airbyte_spec(self, source_config, out_dir, state_file=None, destination_config=None, **extra):
        streams = source_config.get("streams", ["stream_0", "stream_1"])
        with open(self.path("catalog.json"), "w") as f:
            json.dump({"streams": [{"stream": {"name": s, "namespace": "public"},
                                    "sync_mode": "incremental", "destination_sync_mode": "append"}
                                   for s in streams]}, f)
        os.makedirs(out_dir, exist_ok=True)
        lines = ["name: test-sync",
                 f"source: {{command: [{SOURCE}], config: {json.dumps(source_config)}}}",
                 f"destination: {{command: [{DESTINATION}], config: {json.dumps({'destination_path': out_dir, **(destination_config or {})})}}}",
                 f"catalog_file: {self.path('catalog.json')}"]
        if state_file:
            lines.append(f"state_file: {state_file}")
        lines += [f"{k}: {json.dumps(v)}" for k, v in extra.items()]
        with open(self.path("sync.yaml"), "w") as f:
            f.write("\n".join(lines) + "\n")
        return self.path("sync.yaml")

    @staticmethod
    def ids_per_stream(out_dir):
        ids = {}
        for path in glob.glob(os.path.join(out_dir, "*.jsonl")):
            stream = os.path.basename(path)[:-len(".jsonl")].split(".")[-1]
            with open(path) as f:
                lines = f.read().split("\n")
            ids[stream] = [json.loads(line)["record"]["data"]["id"] for line in lines[:-1]]
        return ids
