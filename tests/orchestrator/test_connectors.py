"""Connectors run the way Airbyte runs them: config, catalog and state files, spec/check/discover,
and a sync that resumes from the state the last one committed."""

import glob
import json
import os
import subprocess
import time
import unittest

from harness import (DESTINATION, EXIT_OK, EXIT_SOURCE, EXIT_USAGE, SLUICE, SOURCE, SyncTest,
                     processes)

SECRET_VALUE = "s3cr3t-config-value-8d41f0"


class ConnectorTest(SyncTest):
    def connector_yaml(self, command, config=None):
        path = self.path("connector.yaml")
        with open(path, "w") as f:
            f.write(f"command: {json.dumps(command)}\n")
            if config is not None:
                f.write(f"config: {json.dumps(config)}\n")
        return path

    def verb(self, verb, path):
        p = subprocess.run([SLUICE, verb, path], capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def test_spec_check_and_discover_print_the_connectors_answer(self):
        path = self.connector_yaml([SOURCE], {"streams": ["users", "orders"], "api_key": SECRET_VALUE})
        code, out, err = self.verb("spec", path)
        self.assertEqual(code, 0, err)
        self.assertIn("connectionSpecification", json.loads(out))
        code, out, err = self.verb("check", path)
        self.assertEqual((code, json.loads(out)), (0, {"status": "SUCCEEDED"}), err)
        code, out, err = self.verb("discover", path)
        self.assertEqual(code, 0, err)
        self.assertEqual([s["name"] for s in json.loads(out)["streams"]], ["users", "orders"])
        for text in (out, err):
            self.assertNotIn(SECRET_VALUE, text)
        # The destination answers spec and check too.
        code, out, err = self.verb("check", self.connector_yaml([DESTINATION], {"destination_path": self.dir}))
        self.assertEqual((code, json.loads(out)["status"]), (0, "SUCCEEDED"), err)

    def test_a_failed_check_a_broken_connector_and_a_missing_config_have_their_codes(self):
        code, out, _ = self.verb("check", self.connector_yaml([SOURCE], {"check_fails": True}))
        self.assertEqual(code, 1)
        self.assertEqual(json.loads(out)["status"], "FAILED")
        code, _, err = self.verb("check", self.connector_yaml(["/nonexistent/source"], {}))
        self.assertEqual(code, 20)
        self.assertIn("cannot run /nonexistent/source", err)
        code, _, err = self.verb("discover", self.connector_yaml([SOURCE]))
        self.assertEqual(code, EXIT_USAGE)
        self.assertIn("needs the connector's config", err)

    def test_a_sync_resumes_from_the_committed_state_after_a_crash(self):
        out, state = self.path("out"), self.path("state.json")
        config = {"streams": ["users", "orders", "events"], "namespace": "public",
                  "records_per_stream": 20000, "state_every": 500}
        # The first sync: the source is killed by SIGKILL a third of the way, mid-stream.
        code, err = self.run_sync(self.airbyte_spec({**config, "crash_after_records": 20000}, out, state))
        self.assertEqual(code, EXIT_SOURCE, err)
        with open(state) as f:
            committed = {s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"]["cursor"]
                         for s in json.load(f)}
        self.assertEqual(set(committed), {"users", "orders", "events"})
        first = self.ids_per_stream(out)
        # The second sync resumes from that state.
        code, err = self.run_sync(self.airbyte_spec(config, out, state))
        self.assertEqual(code, EXIT_OK, err)
        self.assertIn("resumes from the state committed in", err)
        final = self.ids_per_stream(out)
        for stream, ids in final.items():
            self.assertEqual(set(ids), set(range(20000)), f"{stream}: records lost")
            # At-least-once: a record is written twice only if it came after the last state
            # committed for its stream, and only the ones the first sync wrote after it.
            duplicates = len(ids) - 20000
            after_cursor = len([i for i in first[stream] if i >= committed[stream]])
            self.assertLessEqual(duplicates, after_cursor, stream)
            again = [i for i in ids[len(first[stream]):] if i in set(first[stream])]
            self.assertTrue(all(i >= committed[stream] for i in again), stream)

    def test_config_values_appear_nowhere_but_their_private_files(self):
        out = self.path("out")
        # The source stalls 2 s part way, so its process can be looked at while it runs.
        spec = self.airbyte_spec({"streams": ["a", "b"], "records_per_stream": 20000, "api_key": SECRET_VALUE,
                                  "stall_after_records": 1000, "stall_seconds": 2}, out)
        p = subprocess.Popen([SLUICE, "run", spec, f"--workdir={self.workdir}",
                              f"--report={self.path('report.json')}"], stderr=subprocess.PIPE, text=True)
        self.addCleanup(p.kill)
        # The source pod's connector volume (the Secret's keys): a directory of the work dir here.
        config_file = os.path.join(self.workdir, "pods", "source", "connector", "config.json")
        deadline = time.time() + 20
        while not os.path.exists(config_file) and time.time() < deadline:
            time.sleep(0.01)
        self.assertEqual(os.stat(config_file).st_mode & 0o777, 0o400)
        seen = 0
        while not seen and time.time() < deadline:
            seen = self.scan_processes(config_file)
        _, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, EXIT_OK, err)
        self.assertEqual(seen, 1, "the source was not seen running with its config file")
        self.assertNotIn(SECRET_VALUE, err)
        with open(self.path("report.json")) as f:
            self.assertNotIn(SECRET_VALUE, f.read())
        self.assertFalse(os.path.exists(config_file), "the config outlived the sync")
        for path in glob.glob(os.path.join(self.workdir, "**", "*"), recursive=True):
            if os.path.isfile(path):
                with open(path, errors="replace") as f:
                    self.assertNotIn(SECRET_VALUE, f.read(), path)

    def scan_processes(self, config_file):
        """How many processes name `config_file`; no process has the secret in its command line
        or environment."""
        seen = 0
        for proc, cmdline, environ in processes():
            seen += config_file.encode() in cmdline  # the path is there, never the value
            self.assertNotIn(SECRET_VALUE.encode(), cmdline, proc)
            self.assertNotIn(SECRET_VALUE.encode(), environ, proc)
        return seen


if __name__ == "__main__":
    unittest.main(verbosity=2)
