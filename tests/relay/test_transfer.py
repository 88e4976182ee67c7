"""Byte-exact transfers through sluice-relay send -> TCP -> sluice-relay recv, per engine."""

import hashlib
import os
import socket
import subprocess
import time
import unittest

from harness import (EXIT_CONNECT_FAILED, EXIT_OK, EXIT_USAGE, GEN, NO_URING, RELAY, SECRET,
                     FakeOrchestrator, FifoReader, RelayTest, uring_available)

GIB = 1 << 30


class TransferTest(RelayTest):
    def transfer(self, engine, inspect, nbytes=GIB, host="127.0.0.1", wrapper=()):
        src, dst = self.fifos("src_out", "dst_in")
        extra = () if inspect else ("--no-inspect",)
        bracketed = f"[{host}]" if ":" in host else host
        recv = self.relay("recv", dst, "dest", listen=f"{bracketed}:0", engine=engine, extra=extra,
                          wrapper=wrapper)
        connect = f"{bracketed}:{recv.listening_port()}"
        send = self.relay("send", src, "source", connect=connect, engine=engine, extra=extra,
                          wrapper=wrapper)
        reader = FifoReader(dst)
        gen, sha_file = self.generate(src, nbytes)
        self.assert_delivered(gen, send, recv, reader, sha_file, gen_s=300, relay_s=120, reader_s=60)
        truth = self.truth()
        self.assertEqual(reader.bytes, truth["bytes"])
        for name in ("source", "dest"):
            s = self.summary(name)
            self.assertEqual(s["relay"]["bytes"], truth["bytes"], name)
            if inspect:
                self.assert_counters_match_truth(s)
            else:
                self.assertIsNone(s["inspector"])
                self.assertIsNone(s["relay"]["checksum"], name)
        if inspect:  # the receiver checked it against the sender's end marker, too
            self.assertRegex(self.summary("source")["relay"]["checksum"] or "", r"^[0-9a-f]{16}$")
            self.assertEqual(self.summary("dest")["relay"]["checksum"],
                             self.summary("source")["relay"]["checksum"])
        return self.summary("source"), self.summary("dest")

    def require_uring(self):
        if not uring_available():
            self.skipTest("io_uring is not available on this machine")

    def test_1gib_uring_inspected_ipv4(self):
        self.require_uring()
        s, d = self.transfer("uring", inspect=True)
        self.assertEqual(s["relay"]["engine"], "uring")

    def test_1gib_uring_not_inspected_ipv4(self):
        self.require_uring()
        self.transfer("uring", inspect=False)

    def test_1gib_splice_inspected_ipv6(self):
        s, d = self.transfer("splice", inspect=True, host="::1")
        self.assertEqual(d["relay"]["engine"], "splice")

    def test_1gib_splice_not_inspected_ipv6(self):
        self.transfer("splice", inspect=False, host="::1")

    def test_1gib_copy_inspected_ipv4(self):
        s, d = self.transfer("copy", inspect=True)
        self.assertEqual(s["relay"]["engine"], "copy")

    def test_1gib_copy_not_inspected_ipv6(self):
        self.transfer("copy", inspect=False, host="::1")

    def test_a_receiver_that_verifies_without_inspecting_has_the_senders_checksum(self):
        src, dst = self.fifos("src_out", "dst_in")
        recv = self.relay("recv", dst, "dest", listen="127.0.0.1:0",
                          extra=("--no-inspect", "--verify"))
        send = self.relay("send", src, "source", connect=f"127.0.0.1:{recv.listening_port()}")
        reader = FifoReader(dst)
        gen, sha_file = self.generate(src, 64 << 20)
        self.assert_delivered(gen, send, recv, reader, sha_file, gen_s=60, relay_s=30, reader_s=30)
        sent, arrived = self.summary("source"), self.summary("dest")
        self.assert_counters_match_truth(sent)
        self.assertIsNone(arrived["inspector"])
        self.assertRegex(sent["relay"]["checksum"] or "", r"^[0-9a-f]{16}$")
        self.assertEqual(arrived["relay"]["checksum"], sent["relay"]["checksum"])
        self.assertIn("inspection off, checksum on", recv.text())

    def test_verify_is_for_an_authenticated_receiver_only(self):
        (fifo,) = self.fifos("fifo")
        for mode, extra in (("send", ("--verify",)), ("recv", ("--verify", "--insecure-no-auth"))):
            r = self.relay(mode, fifo, f"{mode}-verify", connect="127.0.0.1:1", extra=extra,
                           secret=None if "--insecure-no-auth" in extra else SECRET)
            self.assertEqual(r.wait(10), EXIT_USAGE, r.text())
            self.assertIn("--verify is for recv", r.text())

    def test_auto_falls_back_to_splice_when_io_uring_is_blocked(self):
        for errno_name in ("EPERM", "ENOSYS"):
            with self.subTest(errno=errno_name):
                self.tearDown()
                self.setUp()
                s, d = self.transfer("auto", inspect=True, nbytes=64 << 20,
                                     wrapper=(NO_URING, f"--errno={errno_name}"))
                # Both splice; sending never needed io_uring.
                self.assertEqual(d["relay"]["engine"], "splice")
                self.assertIn("io_uring unavailable", d["relay"]["engine_reason"])
                self.assertEqual(s["relay"]["engine"], "splice")

    def test_auto_picks_uring_to_receive_and_splice_to_send(self):
        s, d = self.transfer("auto", inspect=True, nbytes=64 << 20)
        self.assertEqual(d["relay"]["engine"], "uring")
        self.assertEqual(s["relay"]["engine"], "splice")
        self.assertIn("measured", s["relay"]["engine_reason"])

    def test_port_file_names_the_port_bound_for_port_zero(self):
        src, dst = self.fifos("src_out", "dst_in")
        port_file = self.path("recv.port")
        recv = self.relay("recv", dst, "dest", listen="127.0.0.1:0", extra=(f"--port-file={port_file}",))
        port = recv.listening_port()  # from the log
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.01)
        with open(port_file) as f:
            self.assertEqual(int(f.read()), port)
        send = self.relay("send", src, "source", connect=f"127.0.0.1:{port}")
        reader = FifoReader(dst)
        gen, sha_file = self.generate(src, 1 << 20)
        self.assert_delivered(gen, send, recv, reader, sha_file, gen_s=60, relay_s=60, reader_s=60)

    def test_a_listening_socket_passed_as_a_descriptor_takes_the_peer_that_came_first(self):
        # As the orchestrator's local backend starts pods: it binds the port, so the sending side
        # starts at once and connects before the receiving relay even runs.
        src, dst = self.fifos("src_out", "dst_in")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        send = self.relay("send", src, "source", connect=f"127.0.0.1:{port}")
        gen, sha_file = self.generate(src, 1 << 20)
        time.sleep(0.3)  # the sender connects into the backlog: nobody accepts yet
        recv = self.relay("recv", dst, "dest", listen_fd=listener.fileno())
        listener.close()  # the relay holds the only copy
        self.assertEqual(recv.listening_port(), port)
        recv.wait_for_log(r"listening on 127\.0\.0\.1:\d+ \(file descriptor \d+")
        reader = FifoReader(dst)
        self.assert_delivered(gen, send, recv, reader, sha_file, gen_s=60, relay_s=60, reader_s=60)

    def test_a_listen_fd_that_is_not_a_listening_socket_is_a_usage_error_saying_so(self):
        (dst,) = self.fifos("dst_in")
        unbound = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # open, but not listening
        with open(self.path("a-file"), "w") as regular:
            cases = [(unbound.fileno(), True, "is not a TCP socket that listens"),
                     (regular.fileno(), True, "is not an open socket"),
                     (97, False, "is not an open socket"),  # not passed: closed in the relay
                     (-1, False, "give exactly one of --listen, --listen-fd, --connect and "
                                 "--connect-reported")]
            for n, (fd, inherited, said) in enumerate(cases):
                with self.subTest(fd=fd):
                    recv = self.relay("recv", dst, f"dest{n}", listen_fd=fd, pass_listen_fd=inherited)
                    self.assertEqual(recv.wait(10), EXIT_USAGE, recv.text())
                    self.assertIn(said, recv.text())
        unbound.close()

    def test_a_relay_connects_where_the_orchestrator_names_its_peer(self):
        # As the podman and kubernetes backends start pods: the sender starts before the
        # receiver's address exists, and learns it on its report channel.
        src, dst = self.fifos("src_out", "dst_in")
        recv = self.relay("recv", dst, "dest", listen="127.0.0.1:0")
        orchestrator = FakeOrchestrator(peer=f"127.0.0.1:{recv.listening_port()}")
        send = self.relay("send", src, "source", connect="reported",
                          extra=(f"--report-to=127.0.0.1:{orchestrator.port}",))
        reader = FifoReader(dst)
        gen, sha_file = self.generate(src, 1 << 20)
        self.assert_delivered(gen, send, recv, reader, sha_file, gen_s=60, relay_s=60, reader_s=60)
        send.wait_for_log(r"waiting for the orchestrator to name the peer")
        reported = orchestrator.join(10)
        self.assertIn('"hello":{"relay":"source","mode":"send"}', reported)
        self.assertIn('"summary":', reported)

    def test_a_relay_whose_peer_is_never_named_fails_saying_why(self):
        (src,) = self.fifos("src_out")
        cases = [(FakeOrchestrator(hang_up=True), EXIT_CONNECT_FAILED,
                  "closed the report channel before it named the peer"),
                 (FakeOrchestrator(), EXIT_CONNECT_FAILED, "did not name the peer in time"),
                 (None, EXIT_USAGE, "--connect-reported takes the peer's address from the report "
                                    "channel: give --report-to=ADDR")]
        for n, (orchestrator, code, said) in enumerate(cases):
            with self.subTest(said=said):
                extra = ("--connect-timeout=1s",)
                if orchestrator is not None:
                    extra += (f"--report-to=127.0.0.1:{orchestrator.port}",)
                send = self.relay("send", src, f"source{n}", connect="reported", extra=extra)
                self.assertEqual(send.wait(20), code, send.text())
                self.assertIn(said, send.text())
                if orchestrator is not None:
                    orchestrator.join(10)

    def test_forcing_uring_where_it_is_blocked_is_a_clear_usage_error(self):
        (src,) = self.fifos("src_out")
        send = self.relay("send", src, "source", connect="127.0.0.1:1", engine="uring",
                          wrapper=(NO_URING,))
        self.assertEqual(send.wait(10), EXIT_USAGE)
        self.assertIn("io_uring_setup failed", send.text())

    def test_a_held_relay_stays_after_its_transfer_until_stopped(self):
        # A native sidecar the kubelet would restart if it exited: done, it waits for SIGTERM.
        src, dst = self.fifos("src_out", "dst_in")
        recv = self.relay("recv", dst, "dest", listen="127.0.0.1:0", extra=("--hold-until-stopped",))
        port = recv.listening_port()
        send = self.relay("send", src, "source", connect=f"127.0.0.1:{port}",
                          extra=("--hold-until-stopped",))
        reader = FifoReader(dst)
        gen, sha_file = self.generate(src, 1 << 20)
        self.assertEqual(gen.wait(60), 0, gen.text())
        got = reader.join(60)
        with open(sha_file) as f:
            self.assertEqual(got, f.read().strip())
        send.wait_for_log(r"send done")
        recv.wait_for_log(r"recv done")
        time.sleep(0.5)
        self.assertIsNone(send.p.poll(), "a held relay exited before it was stopped")
        self.assertIsNone(recv.p.poll(), "a held relay exited before it was stopped")
        for relay in (send, recv):
            relay.p.terminate()
            self.assertEqual(relay.wait(10), EXIT_OK, relay.text())  # the transfer's result
        summary = self.summary("dest")["relay"]
        self.assertEqual(summary["exit_code"], EXIT_OK)  # the summary is the transfer's, too
        self.assertGreaterEqual(summary["bytes"], 1 << 20)

    def test_a_held_relay_stopped_mid_stream_finishes_the_stream_first(self):
        # The kubelet stops a native sidecar as soon as its connector exits, while the relay may
        # still be handing over the stream's end: SIGTERM must not cut it.
        src, dst = self.fifos("src_out", "dst_in")
        recv = self.relay("recv", dst, "dest", listen="127.0.0.1:0", extra=("--hold-until-stopped",))
        send = self.relay("send", src, "source", connect=f"127.0.0.1:{recv.listening_port()}",
                          extra=("--hold-until-stopped",))
        reader = FifoReader(dst)
        line = b'{"type":"RECORD","record":{"stream":"s","data":{"n":1},"emitted_at":1}}\n'
        sha = hashlib.sha256()
        with open(src, "wb", buffering=0) as w:
            for _ in range(1000):
                w.write(line)
                sha.update(line)
            time.sleep(0.3)
            for relay in (send, recv):
                relay.p.terminate()
            time.sleep(0.3)
            for _ in range(1000):  # after the SIGTERM, as a connector's last words
                w.write(line)
                sha.update(line)
        self.assertEqual(reader.join(30), sha.hexdigest())
        for relay in (send, recv):
            self.assertEqual(relay.wait(30), EXIT_OK, relay.text())
        self.assertEqual(self.summary("dest")["relay"]["bytes"], 2000 * len(line))

    def test_each_mode_takes_its_own_flags(self):
        (src,) = self.fifos("src_out")
        for args, message in ((["init", "--fifo=" + src], "unknown flag --fifo"),
                              (["logs", "--listen=:1", "--fifo=" + src], "unknown flag --listen"),
                              (["send", "--fifo=" + src, "--connect=127.0.0.1:1", "--max-streams=0"],
                               "--max-streams takes a positive number"),
                              (["send", "--fifo=" + src, "--linger-timeout=soon"], "--linger-timeout=soon: "),
                              (["send", "--fifo"], "--fifo needs a value"),
                              (["copy", "--fifo=" + src], "unknown mode 'copy'")):
            p = subprocess.run([RELAY, *args], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, EXIT_USAGE, args)
            self.assertIn(message, p.stderr, args)

    def test_big_records_pass_with_exact_counts(self):
        src, dst = self.fifos("src_out", "dst_in")
        recv = self.relay("recv", dst, "dest", listen="127.0.0.1:0", extra=("--max-line-bytes=1048576",))
        send = self.relay("send", src, "source", connect=f"127.0.0.1:{recv.listening_port()}",
                          extra=("--max-line-bytes=1048576",))
        reader = FifoReader(dst)
        gen, sha_file = self.generate(src, "100M", extra=("--big_every=20", "--big_record_bytes=12M"))
        self.assert_delivered(gen, send, recv, reader, sha_file, gen_s=120, relay_s=60, reader_s=30)
        for name in ("source", "dest"):
            s = self.summary(name)
            self.assert_counters_match_truth(s)
            self.assertGreater(s["inspector"]["oversize_lines"], 0)
            self.assertLess(recv.peak_rss_mib() if name == "dest" else send.peak_rss_mib(), 64)


if __name__ == "__main__":
    unittest.main(verbosity=2)
