"""What a relay reports can be trusted: delivered means read by the connector, slow is not dead,
idle connections do not keep the real peer out, memory has a bound for every input."""

import array
import fcntl
import os
import socket
import stat
import subprocess
import termios
import time
import unittest
import urllib.request

from harness import (EXIT_AUTH_FAILED, EXIT_LINGER_TIMEOUT, EXIT_NO_PEER, EXIT_OK, EXIT_PEER_LOST,
                     EXIT_READER_GONE, EXIT_USAGE, GEN, RELAY, SECRET, FifoReader, RelayTest)


class VerdictTest(RelayTest):
    def pair(self, size, send_extra=(), recv_extra=(), reader_delay=None):
        src, dst = self.fifos("src_out", "dst_in")
        recv = self.relay("recv", dst, "dest", listen="127.0.0.1:0", extra=recv_extra)
        send = self.relay("send", src, "source", connect=f"127.0.0.1:{recv.listening_port()}",
                          extra=send_extra)
        reader = FifoReader(dst, delay_per_64k=reader_delay) if reader_delay is not None else None
        gen, sha_file = self.generate(src, size)
        return send, recv, reader, gen, sha_file, dst

    def test_bytes_the_connector_never_read_are_not_delivered(self):
        # Everything fits in the FIFO; the destination reads 4 KiB of it and exits.
        send, recv, _, gen, _, dst = self.pair("600K")
        total = self.truth_when_written(gen)
        with open(dst, "rb", buffering=0) as f:
            self.wait_for_fifo_to_hold(f, total)
            self.assertEqual(len(f.read(4096)), 4096)
        self.assertEqual(recv.wait(15), EXIT_READER_GONE, recv.text())
        self.assertIn(f"with {total - 4096} bytes it never read", recv.text())
        summary = self.summary("dest")["relay"]
        self.assertEqual(summary["bytes"], total)
        self.assertEqual(summary["unread_bytes"], total - 4096)

    def truth_when_written(self, gen):
        self.assertEqual(gen.wait(30), 0, gen.text())
        return self.truth()["bytes"]

    def wait_for_fifo_to_hold(self, f, n, timeout=15):
        deadline = time.time() + timeout
        buf = array.array("i", [0])
        while time.time() < deadline:
            fcntl.ioctl(f.fileno(), termios.FIONREAD, buf, True)
            if buf[0] >= n:
                return
            time.sleep(0.02)
        self.fail(f"the FIFO held {buf[0]} of {n} bytes after {timeout} s")

    def test_a_sender_that_dies_before_its_end_marker_leaves_exact_counts(self):
        # Whole records, then the source keeps its stdout open and the sender is killed: the
        # last 16 bytes the receiver held back (the end of the last record) are payload after
        # all. They reach the connector, and the counts must have them too.
        src, dst = self.fifos("src_out", "dst_in")
        data = self.path("records.jsonl")
        subprocess.run([GEN, "--bytes=1M", "--streams=2", f"--truth={self.path('truth.json')}"],
                       stdout=open(data, "wb"), check=True)
        recv = self.relay("recv", dst, "dest", listen="127.0.0.1:0")
        send = self.relay("send", src, "source", connect=f"127.0.0.1:{recv.listening_port()}")
        reader = FifoReader(dst)
        self.start(["bash", "-c", f'exec > "{src}"; cat "{data}"; sleep 60'], "source-connector")
        size = os.path.getsize(data)
        deadline = time.time() + 20
        while reader.bytes < size - 16 and time.time() < deadline:
            time.sleep(0.02)
        send.kill()
        self.assertEqual(recv.wait(15), EXIT_PEER_LOST, recv.text())
        reader.join(10)
        self.assertEqual(reader.bytes, size)
        summary = self.summary("dest")
        self.assertEqual(summary["relay"]["bytes"], size)
        self.assertEqual(summary["inspector"]["types"]["RECORD"]["count"], self.truth()["records"])

    def test_a_slow_reader_is_never_cut_off_while_it_reads(self):
        # 32 MiB read at ~6.5 MB/s: more than the socket buffers and pipes hold (~20 MB here),
        # so the reader is still reading for seconds after the sender's EOF, against a 1 s
        # linger timeout that measures the absence of progress, not the time since EOF.
        send, recv, reader, gen, sha_file, _ = self.pair(
            "32M", send_extra=("--linger-timeout=1s",), reader_delay=0.01)
        self.assert_delivered(gen, send, recv, reader, sha_file, gen_s=60, relay_s=60, reader_s=30)

    def test_a_peer_that_reads_nothing_still_hits_the_linger_timeout(self):
        # The destination opens its stdin and never reads: nothing moves, no heartbeat comes.
        send, recv, _, gen, _, dst = self.pair("256K", send_extra=("--linger-timeout=2s",))
        with open(dst, "rb"):
            start = time.time()
            self.assertEqual(send.wait(30), EXIT_LINGER_TIMEOUT, send.text())
            self.assertLess(time.time() - start, 10)
        self.assertIn("showed no progress", send.text())

    def test_idle_connections_do_not_keep_the_real_peer_out(self):
        src, dst = self.fifos("src_out", "dst_in")
        recv = self.relay("recv", dst, "dest", listen="127.0.0.1:0", extra=("--accept-timeout=60s",))
        port = recv.listening_port()
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
        self.addCleanup(lambda: [s.close() for s in idle])
        time.sleep(0.2)
        start = time.time()
        send = self.relay("send", src, "source", connect=f"127.0.0.1:{port}")
        reader = FifoReader(dst)
        gen, sha_file = self.generate(src, "4M")
        self.assert_delivered(gen, send, recv, reader, sha_file, gen_s=30, relay_s=30, reader_s=10)
        # Served at once, not after the idle connections' 10 s handshake timeouts.
        self.assertLess(time.time() - start, 8)

    def test_the_accept_deadline_holds_with_idle_connections(self):
        (dst,) = self.fifos("dst_in")
        recv = self.relay("recv", dst, "dest", listen="127.0.0.1:0", extra=("--accept-timeout=3s",))
        port = recv.listening_port()
        start = time.time()
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        self.addCleanup(lambda: [s.close() for s in idle])
        self.assertIn(recv.wait(20), (EXIT_NO_PEER, EXIT_AUTH_FAILED), recv.text())
        self.assertLess(time.time() - start, 5)  # 3 s, not 3 + 3 x 10 s of handshakes

    def test_a_secret_file_others_can_read_is_refused(self):
        (src,) = self.fifos("src_out")
        secret_file = self.path("secret")
        with open(secret_file, "w") as f:
            f.write(SECRET)
        os.chmod(secret_file, 0o644)
        send = self.start([RELAY, "send", f"--fifo={src}", "--connect=127.0.0.1:1",
                           f"--secret-file={secret_file}"], "source-file")
        self.assertEqual(send.wait(10), EXIT_USAGE, send.text())
        self.assertIn(f"the secret file {secret_file} has mode 0644", send.text())
        self.assertNotIn(SECRET, send.text())
        os.chmod(secret_file, stat.S_IRUSR | stat.S_IWUSR)
        send = self.start([RELAY, "send", f"--fifo={src}", "--connect=127.0.0.1:1",
                           f"--secret-file={secret_file}", "--connect-timeout=1s"], "source-ok")
        self.assertNotEqual(send.wait(10), EXIT_USAGE, send.text())

    def test_a_million_streams_keep_memory_metrics_and_summary_bounded(self):
        src, dst = self.fifos("src_out", "dst_in")
        recv = self.relay("recv", dst, "dest", listen="127.0.0.1:0",
                          extra=("--metrics-addr=127.0.0.1:0",))
        send = self.relay("send", src, "source", connect=f"127.0.0.1:{recv.listening_port()}")
        reader = FifoReader(dst)
        n = 1_000_000
        lines = b"".join(b'{"type":"RECORD","record":{"stream":"s%d","data":{"i":1},"emitted_at":1}}\n' % i
                         for i in range(n))
        with open(src, "wb") as f:
            f.write(lines)
        port = int(recv.wait_for_log(r"metrics on port (\d+)").group(1))
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read()
        self.assertEqual(send.wait(60), EXIT_OK, send.text())
        self.assertEqual(recv.wait(60), EXIT_OK, recv.text())
        reader.join(30)
        self.assertEqual(reader.bytes, len(lines))
        for name, p in (("source", send), ("dest", recv)):
            summary_bytes = os.path.getsize(self.path(name + ".json"))
            self.assertLess(summary_bytes, 8 << 20, name)
            inspector = self.summary(name)["inspector"]
            self.assertEqual(len(inspector["streams"]), 10000)
            self.assertEqual(inspector["untracked"]["records"], n - 10000)
            self.assertEqual(inspector["types"]["RECORD"]["count"], n)
            self.assertLess(p.peak_rss_mib(), 96, f"{name} peak RSS {p.peak_rss_mib():.1f} MiB")
            self.assertIn("more than 10000 streams", p.text())
        self.assertLess(len(metrics), 8 << 20)
        self.assertIn(b"sluice_untracked_records_total", metrics)

    def test_metrics_scraped_while_the_transfer_starts(self):
        """The engine and peer are written by the transfer while the metrics thread renders them:
        this test is what the ThreadSanitizer build runs to catch a race there."""
        src, dst = self.fifos("src_out", "dst_in")
        recv = self.relay("recv", dst, "dest", listen="127.0.0.1:0",
                          extra=("--metrics-addr=127.0.0.1:0",))
        port = int(recv.wait_for_log(r"metrics on port (\d+)").group(1))
        listen_port = recv.listening_port()
        send = self.relay("send", src, "source", connect=f"127.0.0.1:{listen_port}",
                          extra=("--metrics-addr=127.0.0.1:0",))
        sport = int(send.wait_for_log(r"metrics on port (\d+)").group(1))
        reader = FifoReader(dst)
        gen, sha_file = self.generate(src, "32M")
        for _ in range(20):
            for p in (port, sport):
                try:
                    body = urllib.request.urlopen(f"http://127.0.0.1:{p}/metrics", timeout=5).read()
                    self.assertIn(b"sluice_relay_info", body)
                except OSError:
                    pass  # the relay finished and its server is gone
            time.sleep(0.05)
        self.assert_delivered(gen, send, recv, reader, sha_file, gen_s=60, relay_s=60, reader_s=10)
        self.assertRegex(recv.text(), r"engine (uring|splice)")


if __name__ == "__main__":
    unittest.main(verbosity=2)
