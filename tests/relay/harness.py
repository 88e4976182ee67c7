"""Drives real sluice-relay processes over real FIFOs and loopback TCP for the integration tests.

Binaries come from the environment (set by CTest): SLUICE_RELAY, SLUICE_GEN, SLUICE_NO_URING.
"""

import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

RELAY = os.environ.get("SLUICE_RELAY", "build/release/dataplane/sluice-relay")
GEN = os.environ.get("SLUICE_GEN", "build/release/tests/sluice-gen")
NO_URING = os.environ.get("SLUICE_NO_URING", "build/release/tests/no-uring")
SECRET = "test-secret-0123456789abcdef"

for _binary in (RELAY, GEN, NO_URING):
    if not os.access(_binary, os.X_OK):
        raise SystemExit(f"missing test binary {_binary}: set SLUICE_RELAY, SLUICE_GEN and "
                         "SLUICE_NO_URING (ctest does)")

# Exit codes, as documented in the README and dataplane/exit_codes.h.
EXIT_OK, EXIT_USAGE, EXIT_FIFO, EXIT_CONNECT_FAILED, EXIT_NO_PEER = 0, 2, 10, 11, 12
EXIT_AUTH_FAILED, EXIT_PEER_LOST, EXIT_READER_GONE, EXIT_LINGER_TIMEOUT = 13, 14, 15, 16
EXIT_CORRUPT, EXIT_TERMINATED = 18, 143


def uring_available():
    """Asks the relay itself, so a skip means this machine, not a broken build."""
    out = subprocess.run([RELAY, "send", "--fifo=/nonexistent-probe", "--connect=127.0.0.1:1",
                          "--insecure-no-auth", "--engine=uring"], capture_output=True, timeout=10)
    return b"io_uring_setup failed" not in out.stderr


class Proc:
    """A relay (or helper) process whose stderr goes to a file we can poll."""

    def __init__(self, args, workdir, name, env=None, stdin=None, stdout=None, pass_fds=()):
        self.log_path = os.path.join(workdir, name + ".log")
        self.log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.args = args
        # A group of its own: a pipeline's children (the generator behind `bash -c`) go with it
        # when a failed test ends it, instead of staying blocked on a FIFO nobody reads.
        self.p = subprocess.Popen(args, stderr=self.log, stdin=stdin, stdout=stdout, env=full_env,
                                  pass_fds=pass_fds, start_new_session=True)
        self.rusage = None
        self.returncode = None

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for_log(self, pattern, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(pattern, self.text())
            if m:
                return m
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"{pattern!r} not seen in {self.log_path}:\n{self.text()}")

    def listening_port(self):
        return int(self.wait_for_log(r"listening on \S*:(\d+)").group(1))

    def wait(self, timeout):
        """Waits for exit (failing the test after `timeout` s) and records its resource usage."""
        deadline = time.time() + timeout
        while True:
            pid, status, rusage = os.wait4(self.p.pid, os.WNOHANG)
            if pid:
                self.rusage = rusage
                self.returncode = os.waitstatus_to_exitcode(status)
                self.p.returncode = self.returncode
                self.log.close()
                return self.returncode
            if time.time() > deadline:
                self.kill_group()
                raise AssertionError(f"{self.args[:2]} did not exit within {timeout} s:\n{self.text()}")
            time.sleep(0.01)

    def peak_rss_mib(self):
        return self.rusage.ru_maxrss / 1024.0

    def kill(self, sig=signal.SIGKILL):
        self.p.send_signal(sig)

    def kill_group(self):
        """SIGKILL to the process and whatever it started."""
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class FifoReader:
    """Reads a FIFO to the end in a thread, hashing; optionally slowly."""

    def __init__(self, path, delay_per_64k=0.0):
        self.path, self.delay = path, delay_per_64k
        self.sha, self.bytes, self.error = hashlib.sha256(), 0, None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            with open(self.path, "rb", buffering=0) as f:
                while True:
                    b = f.read(1 << 16 if self.delay else 1 << 20)
                    if not b:
                        return
                    self.sha.update(b)
                    self.bytes += len(b)
                    if self.delay:
                        time.sleep(self.delay)
        except OSError as e:
            self.error = e

    def join(self, timeout):
        self.t.join(timeout)
        if self.t.is_alive():
            raise AssertionError(f"reader of {self.path} still running after {timeout} s")
        return self.sha.hexdigest()


class RelayTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-test-")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.kill_group()  # also what a finished pipeline left behind
            if p.p.poll() is None:
                p.p.wait()
        if not getattr(self, "_keep", False):
            shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def fifos(self, *names):
        paths = [self.path(n) for n in names]
        subprocess.run([RELAY, "init", *paths], check=True)
        return paths

    def start(self, args, name, env=None, **kw):
        p = Proc(args, self.dir, name, env=env, **kw)
        self.procs.append(p)
        return p

    def relay(self, mode, fifo, name, listen=None, connect=None, engine="auto", extra=(),
              secret=SECRET, wrapper=(), listen_fd=None, pass_listen_fd=True):
        args = [*wrapper, RELAY, mode, f"--name={name}", f"--fifo={fifo}", f"--engine={engine}",
                f"--summary={self.path(name + '.json')}", *extra]
        if listen_fd is not None:  # inherited: the process keeps the descriptor's number
            args.append(f"--listen-fd={listen_fd}")
        elif connect == "reported":  # the address comes on the report channel (extra names it)
            args.append("--connect-reported")
        else:
            args.append(f"--listen={listen}" if listen is not None else f"--connect={connect}")
        env = {}
        if secret is None:
            args.append("--insecure-no-auth")
        else:
            env["SLUICE_SECRET"] = secret
        return self.start(args, name, env=env,
                          pass_fds=(listen_fd,) if listen_fd is not None and pass_listen_fd else ())

    def summary(self, name):
        with open(self.path(name + ".json")) as f:
            return json.load(f)

    def generate(self, fifo, nbytes, truth=True, extra=()):
        """sluice-gen into `fifo`, hashing what it writes; returns (proc, sha file)."""
        sha_file = self.path("source.sha")
        truth_arg = f"--truth={self.path('truth.json')}" if truth else ""
        # The hasher ends the pipeline, so bash waits for it (it would not for a >(...) substitution).
        cmd = (f"set -o pipefail; {GEN} --bytes={nbytes} --streams=8 --state_every=1000 {truth_arg} "
               f"{' '.join(extra)} | tee {fifo} | sha256sum | cut -d' ' -f1 > {sha_file}")
        return self.start(["bash", "-c", cmd], "generator"), sha_file

    def truth(self):
        with open(self.path("truth.json")) as f:
            return json.load(f)

    def assert_delivered(self, gen, send, recv, reader, sha_file, gen_s, relay_s, reader_s):
        """The generator, then both relays, exited 0 within their deadlines (seconds), and the
        reader got exactly the bytes the generator wrote."""
        self.assertEqual(gen.wait(gen_s), 0, gen.text())
        self.assertEqual(send.wait(relay_s), EXIT_OK, send.text())
        self.assertEqual(recv.wait(relay_s), EXIT_OK, recv.text())
        got = reader.join(reader_s)
        with open(sha_file) as f:
            self.assertEqual(got, f.read().strip(), "bytes differ")

    def assert_counters_match_truth(self, summary):
        truth = self.truth()
        inspector = summary["inspector"]
        self.assertIsNotNone(inspector)
        got = {(s["namespace"], s["name"]): s for s in inspector["streams"]}
        self.assertEqual(len(got), len(truth["streams"]))
        for t in truth["streams"]:
            s = got[(t["namespace"], t["name"])]
            for field in ("records", "record_bytes", "data_bytes", "states"):
                self.assertEqual(s[field], t[field], f"{t['name']}.{field}")
        self.assertEqual(inspector["bytes"], truth["bytes"])
        self.assertEqual(inspector["types"]["RECORD"]["count"], truth["records"])
        self.assertEqual(inspector["non_protocol"]["count"], 0)


class FakeOrchestrator:
    """The orchestrator's end of one relay's report channel: proves the secret as the relay's
    server (dataplane/auth.h), then names the peer (`peer`, if any) once the relay said hello,
    and keeps what the relay sends; with `hang_up`, closes right after the hello instead."""

    def __init__(self, peer=None, hang_up=False, secret=SECRET):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = b""
        self._peer, self._hang_up, self._secret = peer, hang_up, secret.encode()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _proof(self, role, a, b):
        return hmac.new(self._secret, role + a + b, hashlib.sha256).digest()

    def _serve(self):
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(30)
            f = conn.makefile("rb")
            assert f.read(9) == b"SLUICE/2\n"
            theirs, mine = f.read(32), os.urandom(32)
            conn.sendall(b"SLUICE/2\n" + mine + self._proof(b"server", theirs, mine))
            if f.read(32) != self._proof(b"client", mine, theirs):
                return
            conn.sendall(b"\x01")
            self.received = f.readline()  # the hello
            if self._hang_up:
                return
            if self._peer is not None:
                conn.sendall(json.dumps({"peer": {"address": self._peer}}).encode() + b"\n")
            for line in f:
                self.received += line

    def join(self, timeout):
        self._thread.join(timeout)
        self.listener.close()
        return self.received.decode(errors="replace")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CorruptingProxy:
    """A TCP hop between two relays that forwards both ways and changes one byte: the one at
    `offset` of what the sender writes (the handshake's bytes come first, so an offset well past
    them falls in the payload), as a bad NIC, a kernel bug or a relay bug could."""

    def __init__(self, target_port, offset):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target_port, self.offset = target_port, offset
        self.changed = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _pipe(self, src, dst, change):
        seen = 0
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if change and seen <= self.offset < seen + len(data):
                    i = self.offset - seen
                    data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
                    self.changed.set()
                seen += len(data)
                dst.sendall(data)
        except OSError:
            pass

    def _serve(self):
        sender, _ = self.listener.accept()
        self.listener.close()
        receiver = socket.create_connection(("127.0.0.1", self.target_port))
        back = threading.Thread(target=self._pipe, args=(receiver, sender, False), daemon=True)
        back.start()
        self._pipe(sender, receiver, True)
        back.join()
        sender.close()
        receiver.close()
