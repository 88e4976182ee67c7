"""socat as the peer in both directions, byte-exact (plain TCP, --insecure-no-auth)."""

import os
import subprocess
import unittest

from harness import EXIT_OK, RelayTest, FifoReader, free_port


class SocatInteropTest(RelayTest):
    SIZE = "256M"

    def test_socat_sends_into_sluice_recv(self):
        (dst,) = self.fifos("dst_in")
        data = self.path("data")
        subprocess.run(f"{__import__('harness').GEN} --bytes={self.SIZE} --truth={self.path('truth.json')} > {data}",
                       shell=True, check=True)
        recv = self.relay("recv", dst, "dest", listen="127.0.0.1:0", secret=None)
        port = recv.listening_port()
        reader = FifoReader(dst)
        socat = self.start(["socat", "-u", f"FILE:{data}", f"TCP:127.0.0.1:{port}"], "socat")
        self.assertEqual(socat.wait(120), 0, socat.text())
        self.assertEqual(recv.wait(60), EXIT_OK, recv.text())
        want = subprocess.run(["sha256sum", data], capture_output=True, text=True).stdout.split()[0]
        self.assertEqual(reader.join(30), want)
        self.assert_counters_match_truth(self.summary("dest"))

    def test_sluice_send_into_a_socat_listener(self):
        (src,) = self.fifos("src_out")
        out = self.path("received")
        port = free_port()
        socat = self.start(["socat", "-u", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr",
                            f"CREATE:{out}"], "socat")
        send = self.relay("send", src, "source", connect=f"127.0.0.1:{port}", secret=None)
        gen, sha_file = self.generate(src, self.SIZE)
        self.assertEqual(gen.wait(120), 0)
        self.assertEqual(send.wait(60), EXIT_OK, send.text())
        self.assertEqual(socat.wait(60), 0, socat.text())
        got = subprocess.run(["sha256sum", out], capture_output=True, text=True).stdout.split()[0]
        with open(sha_file) as f:
            self.assertEqual(got, f.read().strip())
        self.assertEqual(os.path.getsize(out), self.truth()["bytes"])
        self.assert_counters_match_truth(self.summary("source"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
