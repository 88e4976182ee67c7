"""Two network namespaces joined by a veth pair, as two pods on one node talk (root, iproute2).

    net = VethPair("sb")          # or VethPair.loopback(): no namespaces, 127.0.0.1
    subprocess.Popen([*net.src, "prog"]); subprocess.Popen([*net.dst, "server", net.dst_host])
    net.remove()
"""

import os
import subprocess

SRC_ADDR, DST_ADDR = "10.213.0.1", "10.213.0.2"  # the two pods' addresses


class VethPair:
    def __init__(self, prefix):
        """Makes the pair or raises RuntimeError saying which step failed and why. `src` and
        `dst` prefix a command to run it in either namespace; `dst_host` is where to connect."""
        tag = os.getpid() % 100000
        src, dst = f"{prefix}-src-{tag}", f"{prefix}-dst-{tag}"
        self.namespaces = []
        steps = [["ip", "netns", "add", src], ["ip", "netns", "add", dst],
                 ["ip", "link", "add", f"{prefix}s{tag}", "netns", src, "type", "veth",
                  "peer", "name", f"{prefix}d{tag}", "netns", dst]]
        for ns, dev, addr in ((src, f"{prefix}s{tag}", SRC_ADDR), (dst, f"{prefix}d{tag}", DST_ADDR)):
            steps += [["ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", dev],
                      ["ip", "-n", ns, "link", "set", dev, "up"],
                      ["ip", "-n", ns, "link", "set", "lo", "up"]]
        for step in steps:
            if step[:3] == ["ip", "netns", "add"]:
                self.namespaces.append(step[3])
            r = subprocess.run(step, capture_output=True, text=True)
            if r.returncode != 0:
                self.remove()
                raise RuntimeError(f"network namespaces need root and iproute2: "
                                   f"`{' '.join(step)}` failed: {r.stderr.strip()}")
        self.src, self.dst = ["ip", "netns", "exec", src], ["ip", "netns", "exec", dst]
        self.dst_host = DST_ADDR

    @classmethod
    def loopback(cls):
        """Both sides in this namespace, on 127.0.0.1."""
        net = cls.__new__(cls)
        net.namespaces, net.src, net.dst, net.dst_host = [], [], [], "127.0.0.1"
        return net

    def remove(self):
        for ns in self.namespaces:  # the veth pair goes with them
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
        self.namespaces = []
