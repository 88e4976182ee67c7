"""The images deploy/images/build.sh builds, for the suites that run them: built from this build
under a tag of the suite's own, removed when it ends. A skip, saying why, only where podman
cannot run a container at all.

  images = Images("ctest-pods")      # in setUpClass; images.relay, .connectors, .orchestrator
  images.remove()                    # in tearDownClass
"""

import os
import shutil
import subprocess
import unittest


def podman(*args, **kw):
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120, **kw)


class Images:
    def __init__(self, prefix):
        tag = f"{prefix}-{os.getpid()}"
        self.relay = f"localhost/sluice-relay:{tag}"
        self.connectors = f"localhost/sluice-test-connectors:{tag}"
        self.orchestrator = f"localhost/sluice:{tag}"
        if shutil.which("podman") is None:
            raise unittest.SkipTest("podman is not installed (scripts/install-deps.sh installs it)")
        built = subprocess.run([os.environ["SLUICE_IMAGES_BUILD"], os.environ["SLUICE_BUILD_DIR"], tag],
                               capture_output=True, text=True, timeout=300)
        if built.returncode != 0:
            raise AssertionError(f"deploy/images/build.sh failed:\n{built.stdout}{built.stderr}")
        probe = podman("run", "--rm", self.relay, "--help")
        if probe.returncode != 0:
            self.remove()
            raise unittest.SkipTest(f"podman cannot run a container here: {probe.stderr.strip()}")

    def remove(self):
        podman("rmi", "-f", self.relay, self.connectors, self.orchestrator)
