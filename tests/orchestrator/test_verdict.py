"""A sync's verdict can be trusted: no false success, no healthy destination killed, the committed
state persisted as it is committed, unknown figures reported as unknown, nothing left behind."""

import glob
import json
import os
import signal
import subprocess
import time
import unittest

from harness import (EXIT_DESTINATION, EXIT_OK, EXIT_RELAY, EXIT_SOURCE, GEN, SLUICE, SyncTest,
                     processes)


class VerdictTest(SyncTest):
    def test_a_destination_that_stops_reading_is_not_a_success(self):
        # 600 KB fit in the FIFO: the relay wrote everything before the destination left.
        out = self.path("out")
        spec = self.spec([GEN, "--bytes=600K", "--streams=4", "--state_every=100",
                          f"--truth={self.path('truth.json')}"],
                         ["sh", "-c", 'head -n 500 > "$0"', out])
        code, err = self.run_sync(spec)
        self.assertEqual(code, EXIT_DESTINATION, err)
        report = self.report()
        self.assertRegex(report["reason"], r"stopped reading its input before the end: \d+ bytes it never read")
        with open(out) as f:
            self.assertEqual(len(f.readlines()), 500)
        # Not one stream claims its records were delivered: that figure is not known.
        self.assertTrue(report["streams"])
        for s in report["streams"]:
            self.assertIsNone(s["records_delivered"], s)
            self.assertEqual(s["records_emitted"], self.truth_records(s["stream"]))
        self.assertLess(report["bytes"]["delivered"], report["bytes"]["emitted"])

    def truth_records(self, key):
        for t in self.truth()["streams"]:
            if f"{t['namespace']}.{t['name']}" == key:
                return t["records"]
        self.fail(f"no stream {key} in the truth")

    def test_a_destination_that_leaves_the_tail_unread_is_not_a_success(self):
        # 64 MiB (67.1 MB): it reads 66.6 MB and keeps its stdin open a second longer, so the
        # relay writes the last ~0.5 MB into the FIFO without an error, and nobody reads them.
        spec = self.spec(self.gen("64M"), ["sh", "-c", "head -c 66600000 > /dev/null; sleep 1"])
        code, err = self.run_sync(spec)
        self.assertEqual(code, EXIT_DESTINATION, err)
        report = self.report()
        self.assertRegex(report["reason"], r"stopped reading its input before the end: \d+ bytes it never read")
        self.assertEqual(report["bytes"]["delivered"], 66600000)

    def test_a_slow_destination_is_never_cut_off(self):
        # ~4.4 MB/s against a source that writes 32 MB at once: the destination reads for
        # seconds after the source finished, well past the relays' 1 s stall timeout.
        out = self.path("out")
        spec = self.spec(self.gen("32M"),
                         self.destination(out, slow={"every_records": 1000, "sleep_ms": 50}),
                         relay={"stall_timeout": "1s"}, state_file=self.path("state.json"))
        start = time.time()
        code, err = self.run_sync(spec, timeout=120)
        self.assertEqual(code, EXIT_OK, err)
        self.assertGreater(time.time() - start, 4)
        self.assertEqual(len(self.written_ids(out)), self.truth()["records"])

    def test_the_reference_destination_commits_only_what_it_wrote(self):
        # Its disk fills up part way: it fails, and no cursor it echoed is ahead of its files.
        out = self.path("out")
        os.makedirs(out)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", out],
                          capture_output=True).returncode != 0:
            self.skipTest("mounting a small tmpfs needs root (CAP_SYS_ADMIN), which this machine refuses")
        self.addCleanup(subprocess.run, ["umount", "-l", out])
        spec = self.spec(self.gen("16M", extra=("--state_every=100",)), self.destination(out),
                         state_file=self.path("state.json"))
        code, err = self.run_sync(spec)
        self.assertEqual(code, EXIT_DESTINATION, err)
        report = self.report()
        self.assertIn("test-sync-destination/main exited 1", report["reason"])
        self.assertIn("No space left on device", report["destination"]["errors"][0]["message"])
        states = self.assert_committed_state_was_written(self.path("state.json"), out)
        self.assertEqual(report["committed_state_messages"], len(states))

    def test_killing_the_orchestrator_keeps_what_was_committed(self):
        out = self.path("out")
        spec = self.spec(self.gen("64M"),
                         self.destination(out, slow={"every_records": 1000, "sleep_ms": 50}),
                         state_file=self.path("state.json"))
        p = subprocess.Popen([SLUICE, "run", spec, f"--workdir={self.workdir}",
                              f"--report={self.path('report.json')}"], stderr=subprocess.DEVNULL)
        self.addCleanup(p.kill)
        deadline = time.time() + 30
        while not os.path.exists(self.path("state.json")) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # a few more commits
        self.assertIsNone(p.poll(), "the sync ended before it could be killed")
        p.kill()
        p.wait(10)
        self.assert_committed_state_was_written(self.path("state.json"), out)
        # The report found after the crash says the sync did not end, rather than nothing.
        self.assertEqual(self.report()["result"], "running")

    def test_a_killed_relay_makes_its_counts_unknown_not_zero(self):
        # Counted once (the default), the destination's relay only checksums: with the source's
        # relay dead, what was delivered is known in bytes, and records are unknown, not zero.
        report, written = self.kill_the_source_relay_mid_stream(relay={})
        self.assertGreater(report["bytes"]["delivered"], 0)
        self.assertIsNone(report["records_delivered_counted_by"])
        for s in report["streams"]:  # those committed before it died
            self.assertIsNone(s["records_emitted"], s)
            self.assertIsNone(s["records_delivered"], s)

    def test_with_both_relays_counting_a_killed_relay_leaves_the_delivered_counts_known(self):
        report, written = self.kill_the_source_relay_mid_stream(relay={"inspect": "both"})
        self.assertEqual(report["records_delivered_counted_by"], "destination relay")
        self.assertTrue(report["streams"])
        for s in report["streams"]:
            self.assertIsNone(s["records_emitted"], s)  # the relay that counted them died
        # What reached the destination is known, and is what it wrote.
        self.assertEqual(sum(s["records_delivered"] for s in report["streams"]), written)

    def kill_the_source_relay_mid_stream(self, **extra):
        out = self.path("out")
        spec = self.spec(self.gen("64M"),
                         self.destination(out, slow={"every_records": 1000, "sleep_ms": 20}),
                         **extra)
        p = subprocess.Popen([SLUICE, "run", spec, f"--workdir={self.workdir}",
                              f"--report={self.path('report.json')}"], stderr=subprocess.PIPE,
                             text=True)
        self.addCleanup(p.kill)
        relay = None
        for _ in range(200):
            # This sync's source relay: other suites' syncs have the same name, not the same
            # work directory.
            relay = self.find_process(b"\x00send\x00--name=test-sync-source\x00", self.workdir.encode())
            if relay and self.written_ids(out):
                break
            time.sleep(0.05)
        self.assertIsNotNone(relay, "the source relay was not found")
        os.kill(relay, signal.SIGKILL)
        _, err = p.communicate(timeout=90)
        self.assertEqual(p.returncode, EXIT_RELAY, err)
        report = self.report()
        self.assertIsNone(report["bytes"]["emitted"])
        written = len(self.written_ids(out))
        self.assertGreater(written, 0)
        return report, written

    @staticmethod
    def find_process(*needles):
        for proc, cmdline, _ in processes():
            if all(n in cmdline for n in needles):
                return int(proc.rsplit("/", 1)[1])
        return None

    def test_trace_errors_and_stray_lines_reach_the_report_and_the_reason(self):
        trace = json.dumps({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 1, "error": {
            "message": "the API said 401", "failure_type": "config_error"}}})
        source = ["sh", "-c", f"echo 'Traceback (most recent call last):'; echo '{trace}'; exit 1"]
        code, err = self.run_sync(self.spec(source, ["sh", "-c", "cat > /dev/null"]))
        self.assertEqual(code, EXIT_SOURCE, err)
        report = self.report()
        self.assertIn("the API said 401 (config_error)", report["reason"])
        self.assertEqual(report["source"]["trace_errors"], 1)
        self.assertEqual(report["source"]["errors"],
                         [{"message": "the API said 401", "failure_type": "config_error"}])
        self.assertEqual(report["source"]["non_protocol_lines"], 1)
        self.assertEqual(report["source"]["non_protocol_samples"], ["Traceback (most recent call last):"])

    def sync_in_tmpdir(self, source, destination, extra=()):
        tmp = self.path("tmp")
        os.makedirs(tmp, exist_ok=True)
        code, err = self.run_sync(self.spec(source, destination), workdir=False, extra=extra,
                                  env={"TMPDIR": tmp})
        return code, err, glob.glob(os.path.join(tmp, "sluice-test-sync-*"))

    def test_the_default_work_directory_is_removed_after_a_success(self):
        code, err, left = self.sync_in_tmpdir(self.gen("1M"), ["sh", "-c", "cat > /dev/null"])
        self.assertEqual(code, EXIT_OK, err)
        self.assertEqual(left, [])
        self.assertIsNone(self.report()["workdir"])

    def test_after_a_failure_or_on_request_it_stays_without_the_secret(self):
        for source, extra, want in ((["sh", "-c", "exit 3"], (), EXIT_SOURCE),
                                    (self.gen("1M"), ("--keep-workdir",), EXIT_OK)):
            for d in glob.glob(self.path("tmp/*")):
                subprocess.run(["rm", "-rf", d])
            code, err, left = self.sync_in_tmpdir(source, ["sh", "-c", "cat > /dev/null"], extra)
            self.assertEqual(code, want, err)
            self.assertEqual(len(left), 1, left)
            self.assertTrue(os.path.exists(os.path.join(left[0], "report.json")))
            self.assertFalse(os.path.exists(os.path.join(left[0], "secret")))
            self.assertEqual(self.report()["workdir"], left[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
