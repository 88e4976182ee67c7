"""`sluice run` on the local backend: whole syncs, their failures, and what they leave behind."""

import glob
import json
import os
import signal
import subprocess
import time
import unittest

from harness import (ECHOING_DESTINATION, EXIT_DESTINATION, EXIT_INTERRUPTED, EXIT_OK, EXIT_SOURCE,
                     EXIT_START, EXIT_TIMEOUT, EXIT_USAGE, GEN, SLUICE, SyncTest, processes)


class LocalSyncTest(SyncTest):
    def test_a_sync_delivers_every_record_and_persists_the_committed_state(self):
        received = self.path("received.jsonl")
        spec = self.spec(self.gen(), [*ECHOING_DESTINATION, received],
                         state_file=self.path("state.json"))
        code, err = self.run_sync(spec)
        self.assertEqual(code, EXIT_OK, err)
        truth = self.truth()
        self.assertEqual(os.path.getsize(received), truth["bytes"])
        report = self.report()
        self.assertEqual(report["result"], "succeeded")
        self.assertEqual(report["bytes"], {"emitted": truth["bytes"], "delivered": truth["bytes"]})
        by_name = {s["stream"]: s for s in report["streams"]}
        self.assertEqual(len(by_name), len(truth["streams"]))
        for t in truth["streams"]:
            s = by_name[f"{t['namespace']}.{t['name']}"]
            self.assertEqual(s["records_emitted"], t["records"])
            self.assertEqual(s["records_delivered"], t["records"])
            self.assertEqual(s["states_emitted"], t["states"])
        # The committed state is the latest STATE of each stream, as the destination echoed it.
        with open(self.path("state.json")) as f:
            states = json.load(f)
        last = {}
        with open(received) as f:
            for line in f:
                if '"type":"STATE"' in line:
                    st = json.loads(line)["state"]
                    last[st["stream"]["stream_descriptor"]["name"]] = st
        self.assertEqual(len(states), len(truth["streams"]))
        for st in states:
            self.assertEqual(st, last[st["stream"]["stream_descriptor"]["name"]])
        self.assertEqual(report["committed_state_messages"], len(truth["streams"]))
        # Every container of the three pods ran and exited 0.
        self.assertEqual(sorted((c["pod"], c["container"], c["exit_code"]) for c in report["containers"]),
                         sorted([("test-sync-source", n, 0) for n in ("main", "relay-stdout", "relay-stderr")] +
                                [("test-sync-destination", n, 0)
                                 for n in ("main", "relay-stdin", "relay-stdout", "relay-stderr")] +
                                [("test-sync-orchestrator", "relay-recv", 0)]))

    def test_the_secret_is_in_a_private_file_and_nowhere_else(self):
        spec = self.spec(["sh", "-c", f'sleep 2; "{GEN}" --bytes=1M'], ["sh", "-c", "cat > /dev/null"])
        p = subprocess.Popen([SLUICE, "run", spec, f"--workdir={self.workdir}",
                              f"--report={self.path('report.json')}"], stderr=subprocess.PIPE, text=True)
        self.addCleanup(p.kill)
        # The source pod's relay-secret volume: on the local backend, a directory of the work dir.
        secret_file = os.path.join(self.workdir, "pods", "source", "relay-secret", "relay-secret")
        for _ in range(100):
            if os.path.exists(secret_file) and os.path.getsize(secret_file) > 0:
                break
            time.sleep(0.02)
        with open(secret_file) as f:
            secret = f.read().strip()
        self.assertGreaterEqual(len(secret), 32)
        self.assertEqual(os.stat(secret_file).st_mode & 0o777, 0o400)
        # While the pods run: no process has it on its command line or in its environment.
        time.sleep(0.5)
        pods = 0
        for proc, cmdline, environ in processes():
            pods += self.workdir.encode() in cmdline
            self.assertNotIn(secret.encode(), cmdline, proc)
            self.assertNotIn(secret.encode(), environ, proc)
        self.assertGreater(pods, 3)  # the relays were seen
        _, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, EXIT_OK, err)
        self.assertNotIn(secret, err)
        self.assertFalse(os.path.exists(secret_file), "the secret outlived the sync")
        for path in glob.glob(os.path.join(self.workdir, "**", "*"), recursive=True):
            if os.path.isfile(path):
                with open(path, errors="replace") as f:
                    self.assertNotIn(secret, f.read(), path)

    def test_a_failing_source_fails_the_sync_and_the_destination_keeps_what_arrived(self):
        received = self.path("received.jsonl")
        source = ["sh", "-c", f'"{GEN}" --bytes=4M --streams=2 --truth="{self.path("truth.json")}"; exit 3']
        spec = self.spec(source, [*ECHOING_DESTINATION, received])
        code, err = self.run_sync(spec)
        self.assertEqual(code, EXIT_SOURCE, err)
        report = self.report()
        self.assertIn("test-sync-source/main exited 3", report["reason"])
        # Everything the source wrote before failing was delivered.
        self.assertEqual(os.path.getsize(received), self.truth()["bytes"])

    def test_what_a_failing_destination_committed_stays_committed(self):
        # The destination reads everything and echoes its STATEs, then fails on closing.
        received = self.path("received.jsonl")
        destination = ["sh", "-c", 'tee "$0" | grep --line-buffered \'"type":"STATE"\'; exit 5', received]
        spec = self.spec(self.gen("8M"), destination, state_file=self.path("state.json"))
        code, err = self.run_sync(spec)
        self.assertEqual(code, EXIT_DESTINATION, err)
        self.assertIn("test-sync-destination/main exited 5", self.report()["reason"])
        with open(self.path("state.json")) as f:
            states = json.load(f)
        self.assertEqual(len(states), len(self.truth()["streams"]))
        self.assertEqual(self.report()["committed_state_messages"], len(states))

    def test_a_destination_that_stops_reading_fails_the_sync_within_the_deadline(self):
        spec = self.spec(self.gen("256M"), ["sh", "-c", "head -c 100000 > /dev/null"])
        start = time.time()
        code, err = self.run_sync(spec, timeout=90)
        self.assertEqual(code, EXIT_DESTINATION, err)
        self.assertLess(time.time() - start, 60)
        self.assertIn("stopped reading", self.report()["reason"])

    def test_a_crashing_destination_is_named(self):
        spec = self.spec(self.gen("64M"), ["sh", "-c", "head -c 100000 > /dev/null; exit 7"])
        code, err = self.run_sync(spec, timeout=90)
        self.assertIn(code, (EXIT_DESTINATION,), err)
        self.assertIn("test-sync-destination", self.report()["reason"])

    def test_a_work_directory_can_be_used_again(self):
        spec = self.spec(self.gen("2M"), ["sh", "-c", "cat > /dev/null"])
        for run in range(2):
            code, err = self.run_sync(spec)
            self.assertEqual(code, EXIT_OK, f"run {run}: {err}")
            self.assertEqual(self.report()["bytes"]["delivered"], self.truth()["bytes"])

    def test_a_missing_command_says_so(self):
        spec = self.spec(["no-such-connector-binary"], ["sh", "-c", "cat > /dev/null"])
        code, err = self.run_sync(spec)
        self.assertEqual(code, EXIT_SOURCE, err)
        self.assertIn("cannot run no-such-connector-binary", err)

    def test_the_timeout_stops_every_pod(self):
        spec = self.spec(["sleep", "60"], ["sh", "-c", "cat > /dev/null"], timeout="1s")
        start = time.time()
        code, err = self.run_sync(spec, timeout=60)
        self.assertEqual(code, EXIT_TIMEOUT, err)
        self.assertLess(time.time() - start, 30)

    def test_sigterm_stops_the_sync(self):
        spec = self.spec(["sleep", "60"], ["sh", "-c", "cat > /dev/null"])
        p = subprocess.Popen([SLUICE, "run", spec, f"--workdir={self.workdir}"],
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(p.kill)
        time.sleep(1)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(30), EXIT_INTERRUPTED, p.stderr.read())

    def test_killing_the_orchestrator_takes_its_pods_with_it(self):
        spec = self.spec(["sleep", "60.123"], ["sh", "-c", "cat > /dev/null"])
        p = subprocess.Popen([SLUICE, "run", spec, f"--workdir={self.workdir}"],
                             stderr=subprocess.DEVNULL)
        self.addCleanup(p.kill)
        time.sleep(1)
        self.assertGreater(len(self.pod_processes()), 3)
        p.kill()
        p.wait(10)
        deadline = time.time() + 10
        while self.pod_processes() and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.pod_processes(), [])

    def pod_processes(self):
        """Processes started for this test's sync: the relays and the reader name its work
        directory on their command lines; its source is `sleep 60.123`."""
        found = []
        for proc in glob.glob("/proc/[0-9]*"):
            try:
                with open(f"{proc}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if self.workdir.encode() in cmdline or cmdline == b"sleep\x0060.123\x00":
                found.append(proc)
        return found

    def test_a_pod_that_cannot_start_is_exit_24_and_says_which(self):
        spec = self.spec(self.gen("1M"), ["sh", "-c", "cat > /dev/null"])
        code, err = self.run_sync(spec, extra=("--relay=/nonexistent/sluice-relay",))
        self.assertEqual(code, 24, err)
        self.assertIn("init container init exited 127", err)
        self.assertIn("cannot run /nonexistent/sluice-relay", err)

    def start_with_a_dying_relay(self, name):
        """A sync whose receiving relay started as --name=`name` exits at once, saying so: the
        exit code, the seconds it took and stderr."""
        relay = os.path.join(os.path.dirname(SLUICE), "..", "dataplane", "sluice-relay")
        wrapper = self.path("dying-relay")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\n'
                    f'if [ "$1" = recv ] && [ "$2" = --name={name} ]; then\n'
                    '  echo "this relay dies at start" >&2; exit 3\n'
                    'fi\n'
                    f'exec {relay} "$@"\n')
        os.chmod(wrapper, 0o755)
        spec = self.spec(self.gen("1M"), ["sh", "-c", "cat > /dev/null"])
        start = time.time()
        code, err = self.run_sync(spec, timeout=90, extra=(f"--relay={wrapper}",))
        return code, time.time() - start, err

    def test_a_relay_that_dies_before_it_listens_fails_the_start_at_once(self):
        # The destination's receiving relay exits beside a connector that keeps running: its port
        # will never be reported, and the start must not wait for it until its deadline (60 s).
        code, seconds, err = self.start_with_a_dying_relay("test-sync-destination")
        self.assertEqual(code, EXIT_START, err)
        self.assertLess(seconds, 30, err)
        self.assertIn("test-sync-destination did not listen on its port relay: it exited", err)
        self.assertIn("this relay dies at start", err)

    def test_an_orchestrator_relay_that_dies_before_it_listens_says_it_exited(self):
        code, seconds, err = self.start_with_a_dying_relay("test-sync-echo")
        self.assertEqual(code, EXIT_START, err)
        self.assertLess(seconds, 30, err)
        self.assertIn("the orchestrator's relay (test-sync-echo did not listen on its port echo: "
                      "it exited)", err)
        self.assertIn("this relay dies at start", err)

    def test_a_bad_spec_is_a_usage_error_that_says_where(self):
        with open(self.path("bad.yaml"), "w") as f:
            f.write("name: x\nsource: {command: [a]}\ndestination: {comand: [b]}\n")
        code, err = self.run_sync(self.path("bad.yaml"))
        self.assertEqual(code, EXIT_USAGE)
        self.assertIn("bad.yaml:3: destination.comand: unknown key", err)

    def test_flags_are_checked_per_command(self):
        spec = self.spec(["true"], ["true"])
        for args, message in ((["run", spec, "--bogus"], "unknown flag --bogus"),
                              (["run", spec, "--sync-id=x"], "unknown flag --sync-id"),  # render's
                              (["run", spec, "--backend=cloud"], "--backend=cloud: must be local | podman"),
                              (["render", spec, "--keep-workdir"], "unknown flag --keep-workdir"),
                              (["check", spec, "--timeout=soon"], "--timeout=soon: "),
                              (["run"], "give the sync spec")):
            p = subprocess.run([SLUICE, *args], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, EXIT_USAGE, args)
            self.assertIn(message, p.stderr, args)
        # Dashes and underscores alike, values after = or as the next argument.
        p = subprocess.run([SLUICE, "render", spec, "--sync_id", "abc", "--backend=podman"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('sluice.dev/sync-id: "abc"', p.stdout)


if __name__ == "__main__":
    unittest.main()
