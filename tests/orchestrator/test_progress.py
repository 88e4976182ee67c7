"""What a person sees of a sync: committed counts as the platform counts them, the live display's
plain form, the source's LOG and TRACE messages in the sync's log, and the heartbeat."""

import json
import time
import unittest

from harness import EXIT_DESTINATION, EXIT_OK, EXIT_SOURCE, SyncTest

STREAMS = ["users", "orders", "events"]


class ProgressTest(SyncTest):
    def committed_cursors(self, state_file):
        with open(state_file) as f:
            return {s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"]["cursor"]
                    for s in json.load(f)}

    def committed_in_report(self):
        return {s["stream"].split(".")[-1]: s["records_committed"] for s in self.report()["streams"]}

    def test_a_destination_that_commits_in_batches_has_every_record_committed(self):
        out, state = self.path("out"), self.path("state.json")
        spec = self.airbyte_spec({"streams": STREAMS, "namespace": "public", "records_per_stream": 30000,
                                  "state_every": 700}, out, state,
                                 destination_config={"commit_every_states": 7})
        code, err = self.run_sync(spec)
        self.assertEqual(code, EXIT_OK, err)
        report = self.report()
        self.assertTrue(report["committed_counts_exact"])
        for s in report["streams"]:
            self.assertEqual(s["records_committed"], 30000, s)
            self.assertEqual(s["records_committed"], s["records_emitted"], s)
        self.assertRegex(err, r"emitted\s+delivered\s+committed")

    def test_committed_is_never_ahead_of_a_destination_that_fails_between_commits(self):
        # It commits every 5 STATEs and fails part way through a batch: what it wrote after its
        # last commit is not committed, and the counts say exactly what was.
        out, state = self.path("out"), self.path("state.json")
        spec = self.airbyte_spec({"streams": STREAMS, "namespace": "public", "records_per_stream": 30000,
                                  "state_every": 500}, out, state,
                                 destination_config={"commit_every_states": 5, "fail_after_records": 40000})
        code, err = self.run_sync(spec)
        self.assertEqual(code, EXIT_DESTINATION, err)
        cursors = self.committed_cursors(state)
        committed = self.committed_in_report()
        written = self.ids_per_stream(out)
        self.assertEqual(set(committed), set(STREAMS))
        for stream in STREAMS:
            # The source's cursor is the number of the stream's records before the state.
            self.assertEqual(committed[stream], cursors[stream], stream)
            self.assertLessEqual(committed[stream], len(written[stream]), stream)
            self.assertEqual(set(range(committed[stream])) - set(written[stream]), set(), stream)
        self.assertLess(sum(committed.values()), 40000)  # the last batch was not committed
        self.assertTrue(self.report()["committed_counts_exact"])

    def test_global_states_commit_every_stream(self):
        out = self.path("out")
        spec = self.airbyte_spec({"streams": STREAMS, "namespace": "public", "records_per_stream": 5000,
                                  "state_every": 100, "state_type": "GLOBAL"}, out)
        code, err = self.run_sync(spec)
        self.assertEqual(code, EXIT_OK, err)
        self.assertEqual(self.committed_in_report(), {s: 5000 for s in STREAMS})

    def test_the_display_without_a_terminal_is_a_plain_line_every_few_seconds(self):
        # Counted once (the default), the destination's relay counts bytes, not records; with
        # both relays counting, records delivered are shown live.
        for relay, delivered in (({}, r"[\d.]+ MB delivered"), ({"inspect": "both"}, r"\d+ delivered")):
            with self.subTest(relay=relay):
                out = self.path(f"out{len(relay)}")
                spec = self.airbyte_spec({"streams": STREAMS, "namespace": "public", "records_per_stream": 60000,
                                          "state_every": 1000}, out,
                                         destination_config={"slow": {"every_records": 1000, "sleep_ms": 40}},
                                         relay=relay)
                code, err = self.run_sync(spec)
                self.assertEqual(code, EXIT_OK, err)
                lines = [l for l in err.splitlines() if l.startswith("sluice: sync test-sync: 00:")]
                self.assertGreaterEqual(len(lines), 1, err)
                self.assertRegex(lines[0], r"^sluice: sync test-sync: 00:00:0\d, \d+ records emitted, " + delivered +
                                 r", \d+ committed, [\d.]+ MB \([\d.]+ MB/s\)")
                self.assertIn("held back by: destination", "\n".join(lines))
                self.assertNotIn("\x1b[", err)  # no terminal codes where there is no terminal

    def test_the_sources_log_and_trace_messages_reach_the_sync_log(self):
        out = self.path("out")
        spec = self.airbyte_spec({"streams": ["users"], "records_per_stream": 5000, "log_every": 2000,
                                  "fail_after_records": 4500}, out)
        code, err = self.run_sync(spec)
        self.assertEqual(code, EXIT_SOURCE, err)
        self.assertIn("sluice: [source] INFO emitted 2000 records", err)
        self.assertIn("sluice: [source] INFO emitted 4000 records", err)
        self.assertIn("sluice: [source] ERROR failing on request after 4500 records (system_error)", err)
        self.assertEqual(err.count("INFO emitted 2000 records"), 1)  # once, not per relay
        self.assertIn("failing on request after 4500 records (system_error)", self.report()["reason"])

    def test_a_source_that_sends_nothing_for_the_heartbeat_timeout_fails_the_sync(self):
        out, state = self.path("out"), self.path("state.json")
        spec = self.airbyte_spec({"streams": ["users"], "records_per_stream": 5000, "state_every": 100,
                                  "stall_after_records": 1000, "stall_seconds": 60}, out, state,
                                 heartbeat_timeout="2s")
        start = time.time()
        code, err = self.run_sync(spec, timeout=60)
        self.assertEqual(code, EXIT_SOURCE, err)
        self.assertLess(time.time() - start, 20)
        self.assertIn("the source sent nothing for 2s (heartbeat_timeout)", self.report()["reason"])
        # Only the source was stopped: the destination committed all it had received.
        self.assertEqual(self.committed_cursors(state), {"users": 1000})
        self.assertEqual(self.committed_in_report(), {"users": 1000})


if __name__ == "__main__":
    unittest.main(verbosity=2)
