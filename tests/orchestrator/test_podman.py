"""`sluice run --backend=podman`: whole syncs through real containers, played from the manifests
`sluice render --backend=podman` prints, with the images deploy/images/build.sh builds offline.

Skips, saying why, only where podman cannot run a pod at all."""

import glob
import json
import os
import re
import signal
import subprocess
import threading
import time
import unittest

from images import Images, podman
from harness import (EXIT_DESTINATION, EXIT_INTERRUPTED, EXIT_OK, EXIT_RELAY, EXIT_SOURCE,
                     SLUICE, SyncTest, assert_same_sync, pods_spec)

STREAMS = ["users", "orders", "events"]


def left_behind(name):
    """What podman still has of the sync `name`: containers, pods, volumes."""
    found = []
    for kind, args in (("container", ("ps", "--all", "--format", "{{.Names}}")),
                       ("pod", ("pod", "ls", "--format", "{{.Name}}")),
                       ("volume", ("volume", "ls", "--format", "{{.Name}}"))):
        out = podman(*args).stdout.split()
        found += [f"{kind} {n}" for n in out if n.startswith(name + "-")]
    return found


class PodmanSyncTest(SyncTest):
    @classmethod
    def setUpClass(cls):
        cls.images = Images("ctest-pods")

    @classmethod
    def tearDownClass(cls):
        cls.images.remove()

    def setUp(self):
        super().setUp()
        self.names = []

    def tearDown(self):
        for name in self.names:  # a failed test must not leave pods for the next one
            podman("pod", "rm", "--force", "--time=0", f"{name}-source", f"{name}-destination")
        super().tearDown()

    def sync_spec(self, name, source_config, backend, destination_config=None, state=True):
        self.names.append(name)
        return pods_spec(self, name, self.images, STREAMS, source_config, backend,
                         destination_config, state)

    def sluice(self, spec, backend, timeout=180, keep=False):
        workdir = self.path(f"work-{os.path.basename(spec)}")
        args = [SLUICE, "run", spec, f"--backend={backend}", f"--workdir={workdir}",
                f"--report={spec}.report.json"]
        if keep:
            args.append("--keep-workdir")
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        with open(f"{spec}.report.json") as f:
            return p.returncode, p.stderr, json.load(f), workdir

    def test_a_multi_stream_sync_on_podman_matches_the_local_backend(self):
        config = {"records_per_stream": 30000, "state_every": 1000, "log_every": 5000}
        results = {}
        for backend in ("local", "podman"):
            name = f"pm{os.getpid() % 100000}-{backend}"
            code, err, report, _ = self.sluice(self.sync_spec(name, config, backend), backend)
            self.assertEqual(code, EXIT_OK, err)
            with open(self.path(name + ".state.json")) as f:
                results[backend] = (report, json.load(f))
            self.assertEqual(left_behind(name), [])
        local, podman_run = results["local"], results["podman"]
        assert_same_sync(self, *podman_run, *local, records=30000)
        self.assertEqual(podman_run[0]["backend"], "podman")
        # The default seccomp profile stays on: io_uring is blocked in the containers, and the
        # summary says which engine ran instead, and why.
        receiving = podman_run[0]["relays"]["destination"]
        self.assertIn(receiving["engine"], ("splice", "copy"))
        self.assertIn("io_uring", receiving["engine_reason"])

    def test_two_syncs_at_once_do_not_collide(self):
        specs = [self.sync_spec(f"pm{os.getpid() % 100000}-twin{i}", {"records_per_stream": 20000},
                                "podman") for i in range(2)]
        results = [None, None]

        def run(i):
            results[i] = self.sluice(specs[i], "podman")

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for code, err, report, _ in results:
            self.assertEqual(code, EXIT_OK, err)
            self.assertEqual(sum(s["records_delivered"] for s in report["streams"]), 60000)

    def test_the_podman_run_plays_what_render_prints(self):
        name = f"pm{os.getpid() % 100000}-render"
        # No state file: render, run after the sync, would resume from what the sync committed.
        spec = self.sync_spec(name, {"records_per_stream": 100}, "podman", state=False)
        code, err, report, workdir = self.sluice(spec, "podman", keep=True)
        self.assertEqual(code, EXIT_OK, err)
        rendered = subprocess.run([SLUICE, "render", spec, "--backend=podman",
                                   f"--sync-id={report['sync_id']}", f"--workdir={workdir}"],
                                  capture_output=True, text=True, timeout=30)
        self.assertEqual(rendered.returncode, 0, rendered.stderr)
        docs = [d for d in rendered.stdout.split("---\n") if d.strip()]
        self.assertEqual(len(docs), 2)
        for doc in docs:
            pod = re.search(r'^  name: "([^"]+)"', doc, re.M).group(1)
            with open(os.path.join(workdir, "manifests", f"{pod}.yaml")) as f:
                played = f.read()
            # Endpoints are resolved when the pods start: anything else is byte for byte.
            self.assertIn("${endpoint:", doc)
            template = re.sub(r"\$\{endpoint:[^}]*\}", "\0", doc)
            pattern = re.escape(template).replace("\0", r"127\.0\.0\.1:[0-9]+")
            self.assertIsNotNone(re.fullmatch(pattern, played), f"{pod}:\n{played}\nrendered:\n{doc}")
        # The backend heard the containers die from `podman events` (it then reads their exit
        # codes from `podman ps`, as it always did): both connectors are in what it heard.
        with open(os.path.join(workdir, "podman-events.jsonl")) as f:
            died = {json.loads(line).get("Name") for line in f if line.strip()}
        for pod in ("source", "destination"):
            self.assertIn(f"{name}-{pod}-main", died)
        # Every container's log was saved as the container wrote it (read from podman's log
        # files, without their "TIME STREAM TAG" prefixes).
        for pod, relay, said in (("source", "relay-stdout", "send done:"),
                                 ("destination", "relay-stdin", "recv done:")):
            with open(os.path.join(workdir, "logs", f"{name}-{pod}", f"{relay}.log")) as f:
                saved = f.read()
            self.assertRegex(saved, rf"(?m)^sluice-relay\[[^]]+\] {said}", saved)
            self.assertNotRegex(saved, r"(?m)^\S+ std(out|err) [FP] ", saved)

    def assert_fails_cleanly(self, name, spec, expected, within):
        start = time.monotonic()
        code, err, report, _ = self.sluice(spec, "podman", timeout=within + 60)
        elapsed = time.monotonic() - start
        self.assertEqual(code, expected, err)
        self.assertLess(elapsed, within, err)
        self.assertEqual(report["exit_code"], expected)
        self.assertEqual(left_behind(name), [])
        return report, err

    def test_a_failing_source_ends_the_sync_with_its_code_and_nothing_left(self):
        name = f"pm{os.getpid() % 100000}-srcfail"
        spec = self.sync_spec(name, {"records_per_stream": 20000, "fail_after_records": 5000}, "podman")
        report, _ = self.assert_fails_cleanly(name, spec, EXIT_SOURCE, within=60)
        self.assertIn(f"{name}-source/main exited 1", report["reason"])
        self.assertIn("failing on request", report["reason"])

    def test_a_crashing_destination_ends_the_sync_with_its_code_and_nothing_left(self):
        name = f"pm{os.getpid() % 100000}-dstfail"
        spec = self.sync_spec(name, {"records_per_stream": 20000}, "podman",
                              destination_config={"fail_after_records": 3000})
        report, _ = self.assert_fails_cleanly(name, spec, EXIT_DESTINATION, within=60)
        self.assertIn(f"{name}-destination/main exited 1", report["reason"])

    def start_stalled(self, name):
        """A podman sync whose source stalls part way; returns the process once its pods run."""
        spec = self.sync_spec(name, {"records_per_stream": 20000, "stall_after_records": 1000,
                                     "stall_seconds": 30}, "podman")
        workdir = self.path(f"work-{name}")
        p = subprocess.Popen([SLUICE, "run", spec, "--backend=podman", f"--workdir={workdir}",
                              f"--report={spec}.report.json"], stderr=subprocess.PIPE, text=True)
        self.addCleanup(p.kill)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            running = podman("ps", "--format", "{{.Names}}").stdout.split()
            if f"{name}-source-relay-stdout" in running:
                break
            time.sleep(0.2)
        else:
            self.fail("the source pod did not start")
        time.sleep(1)
        return p, spec

    def kill_mid_sync(self, name, container, expected, within):
        """Kills `container` of a running sync with SIGKILL: the sync ends with `expected` within
        `within` seconds, leaving nothing; returns its report."""
        p, spec = self.start_stalled(name)
        start = time.monotonic()
        podman("kill", "--signal=KILL", f"{name}-{container}")
        _, err = p.communicate(timeout=within + 60)
        self.assertEqual(p.returncode, expected, err)
        self.assertLess(time.monotonic() - start, within, err)
        self.assertEqual(left_behind(name), [])
        with open(f"{spec}.report.json") as f:
            return json.load(f)

    def test_a_killed_relay_ends_the_sync_with_its_code_and_nothing_left(self):
        name = f"pm{os.getpid() % 100000}-relaykill"
        report = self.kill_mid_sync(name, "source-relay-stdout", EXIT_RELAY, within=60)
        self.assertIn(f"{name}-source/relay-stdout exited 137", report["reason"])

    def test_a_destination_killed_mid_sync_fails_the_sync_with_its_code(self):
        name = f"pm{os.getpid() % 100000}-dstkill"
        # The source stalls 30 s (a failure grace of 30 s too) before it meets the broken pipe.
        self.kill_mid_sync(name, "destination-main", EXIT_DESTINATION, within=90)

    def test_sigint_stops_the_pods_and_leaves_nothing(self):
        name = f"pm{os.getpid() % 100000}-sigint"
        p, spec = self.start_stalled(name)
        start = time.monotonic()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, EXIT_INTERRUPTED, err)
        self.assertLess(time.monotonic() - start, 45, err)
        self.assertEqual(left_behind(name), [])
        self.assertEqual(glob.glob(os.path.join(self.path(f"work-{name}"), "secrets", "*", "*", "*")), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
