"""The images deploy/images/build.sh builds offline: FROM scratch, not root, no shell; and inside
podman's default seccomp profile the relay falls back from io_uring and still moves every byte.

Skips, saying why, only where podman cannot run a container at all."""

import hashlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from images import Images, podman

BUILD = os.environ["SLUICE_BUILD_DIR"]
RELAY = os.path.join(BUILD, "dataplane", "sluice-relay")
GEN = os.path.join(BUILD, "tests", "sluice-gen")
SECRET = "test-secret-0123456789abcdef"


class ImagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.images = Images("ctest")

    @classmethod
    def tearDownClass(cls):
        cls.images.remove()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-images-")
        os.chmod(self.dir, 0o777)  # the containers' user (65532) creates its FIFOs here

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_the_images_run_as_no_root_and_hold_no_shell(self):
        for image in (self.images.relay, self.images.connectors, self.images.orchestrator):
            user = podman("image", "inspect", "--format", "{{.Config.User}}", image)
            self.assertEqual(user.stdout.strip(), "65532:65532", image)
            shell = podman("run", "--rm", "--entrypoint", "/bin/sh", image, "-c", "true")
            self.assertNotEqual(shell.returncode, 0, f"{image} has a shell")
        spec = podman("run", "--rm", "--entrypoint", "/usr/local/bin/sluice-test-source",
                      self.images.connectors, "spec")
        self.assertEqual(spec.returncode, 0, spec.stderr)
        self.assertEqual(json.loads(spec.stdout)["type"], "SPEC")

    @staticmethod
    def read_fifo_while(path, proc, timeout):
        """What is written into the FIFO at `path` while `proc` runs (the relay's end of it),
        without blocking: a writer that never comes ends with `proc`, not in a hang."""
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        out = b""
        deadline = time.time() + timeout
        try:
            while proc.poll() is None and time.time() < deadline:
                if not poller.poll(100):
                    continue
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    chunk = b""
                out += chunk
                if not chunk:
                    time.sleep(0.05)  # the writer came and went: wait for the exit
            try:
                out += os.read(fd, 1 << 20)
            except BlockingIOError:
                pass
        finally:
            os.close(fd)
        return out.decode()

    def test_a_connector_image_without_a_shell_runs_through_the_installed_entrypoint(self):
        pod = self.dir
        # The init container (the relay image) creates the FIFO and installs the entrypoint.
        init = podman("run", "--rm", "-v", f"{pod}:/pod", self.images.relay, "init", "--mode=0666",
                      "--install-entrypoint=/pod/sluice-entrypoint", "/pod/stdout")
        self.assertEqual(init.returncode, 0, init.stderr)
        # The main container: the connector image, FROM scratch, runs it.
        main = subprocess.Popen(
            ["podman", "run", "--rm", "-v", f"{pod}:/pod", "--entrypoint", "/pod/sluice-entrypoint",
             self.images.connectors, "--stdout=/pod/stdout", "--exit-code-file=/pod/exit", "--",
             "/usr/local/bin/sluice-test-source", "spec"], stderr=subprocess.PIPE, text=True)
        out = self.read_fifo_while(os.path.join(pod, "stdout"), main, timeout=60)
        _, err = main.communicate(timeout=60)
        self.assertEqual(main.returncode, 0, err)
        self.assertEqual(json.loads(out)["type"], "SPEC")
        with open(os.path.join(pod, "exit")) as f:
            self.assertEqual(f.read(), "0\n")

    def test_the_relay_falls_back_from_io_uring_in_a_container_and_moves_every_byte(self):
        pipes = self.dir
        # The init container's work, in the image, as its user: the FIFO the relay writes into.
        init = podman("run", "--rm", "-v", f"{pipes}:/pipes", self.images.relay, "init", "--mode=0666",
                      "/pipes/in")
        self.assertEqual(init.returncode, 0, init.stderr)
        name = f"sluice-recv-ctest-{os.getpid()}"
        self.addCleanup(podman, "rm", "-f", name)
        recv = subprocess.Popen(
            ["podman", "run", "--rm", "--name", name, "--network", "host", "-v", f"{pipes}:/pipes",
             "-e", "SLUICE_SECRET", self.images.relay, "recv", "--fifo=/pipes/in", "--listen=127.0.0.1:0",
             "--port-file=/pipes/port", "--summary=/pipes/recv.json", "--accept-timeout=60s"],
            env={**os.environ, "SLUICE_SECRET": SECRET}, stderr=subprocess.PIPE, text=True)
        port_file = os.path.join(pipes, "port")
        deadline = time.time() + 30
        while not os.path.exists(port_file) and time.time() < deadline:
            time.sleep(0.05)
        with open(port_file) as f:
            port = int(f.read())
        # The destination side on the host reads what the containerized relay delivers.
        got = hashlib.sha256()

        def read():
            with open(os.path.join(pipes, "in"), "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    got.update(chunk)

        reader = threading.Thread(target=read)
        reader.start()
        src = os.path.join(self.dir, "src")
        subprocess.run([RELAY, "init", src], check=True)
        send = subprocess.Popen([RELAY, "send", f"--fifo={src}", f"--connect=127.0.0.1:{port}"],
                                env={**os.environ, "SLUICE_SECRET": SECRET}, stderr=subprocess.PIPE,
                                text=True)
        truth = os.path.join(self.dir, "truth.json")
        data = subprocess.run([GEN, "--bytes=16M", "--streams=4", "--state_every=1000",
                               f"--truth={truth}"], capture_output=True, check=True).stdout
        with open(src, "wb") as f:
            f.write(data)
        _, send_log = send.communicate(timeout=60)
        self.assertEqual(send.returncode, 0, send_log)
        _, recv_log = recv.communicate(timeout=60)
        self.assertEqual(recv.returncode, 0, recv_log)
        reader.join(30)
        self.assertEqual(got.hexdigest(), hashlib.sha256(data).hexdigest())
        with open(os.path.join(pipes, "recv.json")) as f:
            summary = json.load(f)
        self.assertEqual(summary["relay"]["engine"], "splice")
        self.assertIn("io_uring unavailable", summary["relay"]["engine_reason"])
        with open(truth) as f:
            self.assertEqual(summary["inspector"]["types"]["RECORD"]["count"], json.load(f)["records"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
