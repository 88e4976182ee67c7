"""`sluice run --backend=kubernetes`: whole syncs through a fake API server
(tests/kube_fake/fake_apiserver.cc) that answers as the API reference says, grants exactly the
Role of deploy/kubernetes/rbac.yaml, and runs the pods it is given with podman, with the images
deploy/images/build.sh builds offline.

Skips, saying why, only where podman cannot run a pod at all."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import yaml

from images import Images, podman
from harness import (EXIT_INTERRUPTED, EXIT_OK, EXIT_START, SLUICE, SyncTest, assert_same_sync,
                     pods_spec)

FAKE = os.environ["SLUICE_FAKE_APISERVER"]
DEPLOY = os.environ["SLUICE_DEPLOY_KUBERNETES"]
ROLE = os.path.join(DEPLOY, "rbac.yaml")
NAMESPACE = "etl"
TOKEN = f"fake-token-{os.getpid()}"
ADMIN = f"fake-admin-{os.getpid()}"  # the test's own looks: not bound to the Role
STREAMS = ["users", "orders", "events"]


def make_certificates(directory):
    """A test CA and a server certificate for 127.0.0.1 it signed, with the openssl CLI."""
    with open(os.path.join(directory, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for args in (["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
                  "-subj", "/CN=fake-cluster-ca"],
                 ["req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
                 ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                  "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext"]):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)


class FakeApiServer:
    """One fake API server, its kubeconfig, and what it saw."""

    def __init__(self, test, name, faults=(), watch_timeout=None):
        self.dir = test.path(f"fake-{name}")
        os.makedirs(self.dir)
        self.prefix = f"kf{os.getpid() % 100000}{name}"  # its own: a fake sees only its pods
        args = [FAKE, f"--cert={test.certs}/server.crt", f"--key={test.certs}/server.key",
                f"--token={TOKEN}", f"--admin-token={ADMIN}", f"--state-dir={self.dir}", f"--podman-prefix={self.prefix}",
                f"--role={ROLE}", f"--faults={json.dumps(list(faults))}", f"--ca={test.certs}/ca.crt"]
        if watch_timeout:
            args.append(f"--watch-timeout={watch_timeout}")
        self.log = open(os.path.join(self.dir, "stderr"), "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise AssertionError(f"the fake API server did not start: {line}")
        self.port = int(line.split()[-1])
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        with open(self.kubeconfig, "w") as f:
            yaml.safe_dump({
                "apiVersion": "v1", "kind": "Config", "current-context": "fake",
                "clusters": [{"name": "fake", "cluster": {
                    "server": f"https://127.0.0.1:{self.port}",
                    "certificate-authority": f"{test.certs}/ca.crt"}}],
                "users": [{"name": "sluice", "user": {"token": TOKEN}}],
                "contexts": [{"name": "fake", "context": {
                    "cluster": "fake", "user": "sluice", "namespace": NAMESPACE}}]}, f)
        self.tls = ssl.create_default_context(cafile=f"{test.certs}/ca.crt")

    def call(self, method, path, body=None):
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls, timeout=30)
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data) if data.startswith(b"{") else data

    def names(self, resource):
        status, body = self.call("GET", f"/api/v1/namespaces/{NAMESPACE}/{resource}")
        assert status == 200, body
        return [item["metadata"]["name"] for item in body["items"]]

    def leftovers(self):
        """What the sync left in the fake (pods, Secrets) and in podman."""
        pods = podman("pod", "ls", "--format", "{{.Name}}").stdout.split()
        return (self.names("pods") + self.names("secrets") +
                [f"podman {p}" for p in pods if p.startswith(self.prefix)])

    def requests(self):
        with open(os.path.join(self.dir, "requests.jsonl")) as f:
            return [json.loads(line) for line in f]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.log.close()
        for pod in podman("pod", "ls", "--format", "{{.Name}}").stdout.split():
            if pod.startswith(self.prefix):
                podman("pod", "rm", "--force", "--time=0", pod)


class KubernetesSyncTest(SyncTest):
    used = set()  # (resource, verb) the syncs of every test were granted and used
    finished = set()  # the tests that ran

    @classmethod
    def setUpClass(cls):
        cls.images = Images("ctest-kube")
        cls.certs = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"sluice-kube-certs-{os.getpid()}")
        os.makedirs(cls.certs, exist_ok=True)
        make_certificates(cls.certs)

    @classmethod
    def tearDownClass(cls):
        cls.images.remove()
        subprocess.run(["rm", "-rf", cls.certs])
        # Least privilege: once every test ran, every rule the Role grants was used.
        if cls.finished == {n for n in dir(cls) if n.startswith("test_")}:
            with open(ROLE) as f:
                role = next(d for d in yaml.safe_load_all(f) if d["kind"] == "Role")
            granted = {(r, v) for rule in role["rules"] for r in rule["resources"]
                       for v in rule["verbs"]}
            if granted - cls.used:
                raise AssertionError(f"the Role grants what no sync used: {granted - cls.used}")

    def run(self, result=None):
        super().run(result)
        KubernetesSyncTest.finished.add(self._testMethodName)

    def setUp(self):
        super().setUp()
        self.fakes = []

    def tearDown(self):
        for fake in self.fakes:  # before the test's directory goes
            fake.stop()
            KubernetesSyncTest.used |= {(r["resource"], r["verb"]) for r in fake.requests()
                                        if r["status"] != 403}
        super().tearDown()

    def fake(self, name, **kw):
        self.fakes.append(FakeApiServer(self, name, **kw))
        return self.fakes[-1]

    def spec(self, name, source_config, relay=None, state=True):
        return pods_spec(self, name, self.images, STREAMS, source_config, "kubernetes",
                         state=state, relay=relay)

    def run_args(self, spec, fake, backend="kubernetes"):
        args = [SLUICE, "run", spec, f"--backend={backend}", f"--workdir={spec}.work",
                f"--report={spec}.report.json"]
        if backend == "kubernetes":
            args += [f"--kubeconfig={fake.kubeconfig}", "--advertise-address=127.0.0.1"]
        return args

    def sluice(self, spec, fake, backend="kubernetes", timeout=240):
        p = subprocess.run(self.run_args(spec, fake, backend), capture_output=True, text=True,
                           timeout=timeout)
        with open(f"{spec}.report.json") as f:
            return p.returncode, p.stderr, json.load(f)

    def assert_forbidden_never(self, fake):
        forbidden = [r for r in fake.requests() if r["status"] == 403]
        self.assertEqual(forbidden, [], "the Role of deploy/kubernetes/rbac.yaml is not enough")

    def test_a_multi_stream_sync_on_kubernetes_matches_the_local_backend(self):
        fake = self.fake("e2e")
        config = {"records_per_stream": 30000, "state_every": 1000, "log_every": 5000}
        results = {}
        for backend in ("local", "kubernetes"):
            name = f"k{os.getpid() % 100000}-{backend[:4]}"
            spec = pods_spec(self, name, self.images, STREAMS, config, backend)
            code, err, report = self.sluice(spec, fake, backend)
            self.assertEqual(code, EXIT_OK, err)
            with open(self.path(name + ".state.json")) as f:
                results[backend] = (report, json.load(f))
        local, kube = results["local"], results["kubernetes"]
        assert_same_sync(self, *kube, *local, records=30000)
        self.assertEqual(kube[0]["backend"], "kubernetes")
        self.assertEqual(fake.leftovers(), [])
        self.assert_forbidden_never(fake)
        # Pods were watched as the API concepts page says: a list, then a watch from its
        # resourceVersion, with bookmarks.
        watches = [r for r in fake.requests() if r["watch"]]
        self.assertTrue(watches)
        self.assertTrue(all(r["resourceVersion"] not in ("", "0") for r in watches), watches)
        # The connector's and the relays' logs were saved before the pods went.
        # Every container's log was saved before the pods went.
        for pod in ("source", "destination"):
            saved = sorted(os.listdir(os.path.join(f"{spec}.work", "logs", f"{name}-{pod}")))
            self.assertIn("main.log", saved)
            self.assertIn("relay-stdout.log", saved)

    def test_relays_as_native_sidecars_are_judged_by_their_summaries(self):
        fake = self.fake("native")
        name = f"k{os.getpid() % 100000}-native"
        code, err, report = self.sluice(
            self.spec(name, {"records_per_stream": 20000}, relay={"native_sidecars": True}), fake)
        self.assertEqual(code, EXIT_OK, err)
        self.assertEqual(sorted((s["stream"], s["records_delivered"]) for s in report["streams"]),
                         sorted((s, 20000) for s in STREAMS))
        # The kubelet stopped them after the connectors; each exited with its own result.
        for relay in ("source/relay-stdout", "destination/relay-stdin", "destination/relay-stdout"):
            self.assertIn(f"{name}-{relay} exited 0", err)
        self.assertEqual(fake.leftovers(), [])

    def test_a_watch_that_ends_is_started_again_from_where_it_was(self):
        fake = self.fake("rewatch", watch_timeout="1s")
        name = f"k{os.getpid() % 100000}-rewatch"
        code, err, report = self.sluice(self.spec(name, {"records_per_stream": 20000}), fake)
        self.assertEqual(code, EXIT_OK, err)
        watches = [r for r in fake.requests() if r["watch"]]
        self.assertGreater(len(watches), 2, watches)
        lists = [r for r in fake.requests() if r["verb"] == "list" and r["resource"] == "pods"]
        self.assertEqual(len(lists), 1,
                         f"a watch that ended is watched again, not listed again: {lists}\n{err}")
        self.assertEqual(fake.leftovers(), [])

    def test_410_gone_lists_the_pods_again(self):
        # Once as the answer to a watch, once as an ERROR event in a watch's stream.
        fake = self.fake("gone", faults=[
            {"method": "GET", "resource": "pods", "watch": True, "status": 410, "count": 1},
            {"method": "GET", "resource": "pods", "watch": True, "status": 410, "in_stream": True,
             "count": 1}])
        name = f"k{os.getpid() % 100000}-gone"
        code, err, report = self.sluice(self.spec(name, {"records_per_stream": 20000}), fake)
        self.assertEqual(code, EXIT_OK, err)
        lists = [r for r in fake.requests() if r["verb"] == "list" and r["resource"] == "pods"]
        self.assertEqual(len(lists), 3, "one list, and one more after each 410")
        self.assertIn("listing them again", err)
        self.assertEqual(fake.leftovers(), [])

    def test_a_pod_created_while_a_list_is_on_its_way_is_not_taken_for_deleted(self):
        # The first list is made before any pod exists and arrives after the destination pod
        # was created: that pod is missing from it because it is new, not because it went.
        fake = self.fake("late", faults=[
            {"method": "GET", "resource": "pods", "watch": False, "late_ms": 2000, "count": 1}])
        name = f"k{os.getpid() % 100000}-late"
        code, err, report = self.sluice(self.spec(name, {"records_per_stream": 2000}), fake)
        self.assertEqual(code, EXIT_OK, err)
        lists = [r for r in fake.requests() if r["verb"] == "list" and r["resource"] == "pods"]
        self.assertGreaterEqual(len(lists), 1)
        self.assertEqual(fake.leftovers(), [])

    def test_429_waits_for_retry_after_and_5xx_are_retried(self):
        fake = self.fake("retry", faults=[
            {"method": "POST", "resource": "secrets", "status": 500, "count": 2},
            {"method": "POST", "resource": "pods", "status": 429, "retry_after": 2, "count": 1},
            {"method": "GET", "resource": "pods", "watch": False, "status": 503, "count": 1}])
        name = f"k{os.getpid() % 100000}-retry"
        code, err, report = self.sluice(self.spec(name, {"records_per_stream": 10000}), fake)
        self.assertEqual(code, EXIT_OK, err)
        seen = fake.requests()
        secrets = [r["status"] for r in seen if r["method"] == "POST" and r["resource"] == "secrets"]
        self.assertEqual(secrets, [500, 500, 201])
        pods = [r for r in seen if r["method"] == "POST" and r["resource"] == "pods"]
        self.assertEqual([r["status"] for r in pods], [429, 201, 201])
        self.assertGreaterEqual(pods[1]["at"] - pods[0]["at"], 2.0, "Retry-After was not waited")
        self.assertEqual(fake.leftovers(), [])

    def test_a_sync_of_a_running_name_is_refused_not_taken_over(self):
        fake = self.fake("conflict")
        name = f"k{os.getpid() % 100000}-taken"
        # Another run's destination pod (its image is not there: it never starts, it stays).
        status, _ = fake.call("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{name}-destination", "labels": {"owner": "another-run"}},
            "spec": {"restartPolicy": "Never",
                     "containers": [{"name": "main", "image": "localhost/not-here:1"}]}})
        self.assertEqual(status, 201)
        start = time.monotonic()
        code, err, report = self.sluice(self.spec(name, {"records_per_stream": 1000}), fake)
        self.assertEqual(code, EXIT_START, err)
        self.assertLess(time.monotonic() - start, 60)
        self.assertIn("already exists", report["reason"])
        self.assertIn("does not take it over", report["reason"])
        status, pod = fake.call("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}-destination")
        self.assertEqual(status, 200, "the other run's pod was deleted")
        self.assertEqual(pod["metadata"]["labels"], {"owner": "another-run"})
        self.assertEqual(fake.names("secrets"), [])  # its own Secret is gone
        fake.call("DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}-destination")
        deadline = time.monotonic() + 60
        while fake.leftovers() and time.monotonic() < deadline:
            time.sleep(0.5)
        self.assertEqual(fake.leftovers(), [])

    def assert_never_starts(self, fake, name, relay, reasons):
        start = time.monotonic()
        code, err, report = self.sluice(self.spec(name, {"records_per_stream": 1000}, relay=relay),
                                        fake)
        self.assertEqual(code, EXIT_START, err)
        self.assertLess(time.monotonic() - start, 45, "not failed fast: the start deadline is 60 s")
        # Both pods have the relay that cannot start, and start side by side: the first seen
        # failing is named.
        self.assertRegex(report["reason"], f"pod {name}-(destination|source) will never start")
        self.assertTrue(any(r in report["reason"] for r in reasons), report["reason"])
        self.assertEqual(fake.leftovers(), [])

    def test_a_pod_whose_image_cannot_be_pulled_fails_the_start_at_once(self):
        fake = self.fake("pull")
        name = f"k{os.getpid() % 100000}-pull"
        self.assert_never_starts(fake, name, {"image": "localhost/sluice-relay:not-built"},
                                 ["ErrImagePull", "ImagePullBackOff"])
        # The source's pod did not wait for the destination's to run (its relay learns the
        # address on its report channel): both were created (and assert_never_starts saw both
        # deleted).
        created = [r for r in fake.requests()
                   if r["method"] == "POST" and r["resource"] == "pods" and r["status"] == 201]
        self.assertEqual(len(created), 2, created)

    def test_a_pod_that_cannot_be_scheduled_fails_the_start_at_once(self):
        fake = self.fake("sched")
        self.assert_never_starts(fake, f"k{os.getpid() % 100000}-sched",
                                 {"resources": {"requests": {"cpu": "64"}}},
                                 ["FailedScheduling"])

    def test_a_relay_that_dies_before_it_listens_fails_the_start_at_once(self):
        # The destination's relay cannot listen, its port (9000 in a cluster) taken on every
        # address, and exits while its connector runs on: the pod runs, the port is never
        # reported, and the start must not wait for it until its deadline (60 s).
        taken = socket.socket()
        try:
            taken.bind(("0.0.0.0", 9000))
            taken.listen()
        except OSError as e:
            taken.close()
            self.skipTest(f"port 9000, the relays' in a cluster, is in use here: {e}")
        try:
            fake = self.fake("dies")
            name = f"k{os.getpid() % 100000}-dies"
            start = time.monotonic()
            code, err, report = self.sluice(self.spec(name, {"records_per_stream": 1000}), fake)
        finally:
            taken.close()
        self.assertEqual(code, EXIT_START, err)
        self.assertLess(time.monotonic() - start, 30, "not failed fast: the start deadline is 60 s")
        self.assertIn(f"{name}-destination did not listen on its port relay: it exited",
                      report["reason"])
        self.assertIn("in use", err)  # the relay's own last words
        self.assertEqual(fake.leftovers(), [])

    def test_sigint_mid_sync_deletes_every_pod_and_the_secret(self):
        fake = self.fake("sigint")
        name = f"k{os.getpid() % 100000}-sigint"
        spec = self.spec(name, {"records_per_stream": 20000, "stall_after_records": 1000,
                                "stall_seconds": 60})
        p = subprocess.Popen(self.run_args(spec, fake), stderr=subprocess.PIPE, text=True)
        self.addCleanup(p.kill)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status, pod = fake.call("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}-source")
            if status == 200 and pod["status"].get("phase") == "Running":
                break
            time.sleep(0.3)
        else:
            self.fail("the source pod did not run")
        time.sleep(1)
        start = time.monotonic()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, EXIT_INTERRUPTED, err)
        self.assertLess(time.monotonic() - start, 45, err)
        self.assertEqual(fake.leftovers(), [])
        deleted = {r["path"].rsplit("/", 1)[-1] for r in fake.requests() if r["method"] == "DELETE"}
        self.assertLessEqual({f"{name}-source", f"{name}-destination"}, deleted)

    def start_job(self, fake, name, source_config):
        """Creates the pod of deploy/kubernetes/job.yaml's Job as its controller would, with this
        build's orchestrator image, and its ConfigMap with a spec of the test connectors (catalog
        inline, state on the Job's claim). Returns the pod's name and where the claim is."""
        with open(os.path.join(DEPLOY, "job.yaml")) as f:
            docs = {d["kind"]: d for d in yaml.safe_load_all(f)}
        with open(self.spec(name, source_config)) as f:
            sync = yaml.safe_load(f)
        with open(sync.pop("catalog_file")) as f:
            sync["catalog"] = json.load(f)
        sync["state_file"] = f"/var/lib/sluice/{name}.state.json"
        config_map = docs["ConfigMap"]
        config_map["data"] = {"sync.yaml": yaml.safe_dump(sync)}
        status, body = fake.call("POST", f"/api/v1/namespaces/{NAMESPACE}/configmaps", config_map)
        self.assertEqual(status, 201, body)
        template = docs["Job"]["spec"]["template"]
        template["spec"]["containers"][0]["image"] = self.images.orchestrator
        pod = f"{name}-job"
        status, body = fake.call("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod, "labels": template["metadata"]["labels"]},
            "spec": template["spec"]})
        self.assertEqual(status, 201, body)
        claim = docs["Job"]["spec"]["template"]["spec"]["volumes"][1]["persistentVolumeClaim"]
        return pod, os.path.join(fake.dir, "pvc", f"{NAMESPACE}-{claim['claimName']}")

    def wait_for_pod(self, fake, pod, phases, within):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            status, body = fake.call("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}")
            if status == 200 and body["status"].get("phase") in phases:
                return body
            time.sleep(0.3)
        _, log = fake.call("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/log?container=sluice")
        self.fail(f"pod {pod} not {phases} in {within} s: {log}")

    def test_in_a_cluster_the_jobs_pod_runs_the_sync_with_its_service_account(self):
        fake = self.fake("job")
        name = f"k{os.getpid() % 100000}-job"
        pod, claim = self.start_job(fake, name, {"records_per_stream": 20000, "state_every": 1000})
        done = self.wait_for_pod(fake, pod, ("Succeeded", "Failed"), 180)
        _, log = fake.call("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/log?container=sluice")
        self.assertEqual(done["status"]["phase"], "Succeeded", log)
        self.assertIn(b"in-cluster", log)  # the service account, not a kubeconfig
        with open(os.path.join(claim, "users-sync.report.json")) as f:
            report = json.load(f)
        self.assertEqual(report["result"], "succeeded")
        self.assertEqual(sorted((s["stream"], s["records_delivered"]) for s in report["streams"]),
                         sorted((s, 20000) for s in STREAMS))
        with open(os.path.join(claim, f"{name}.state.json")) as f:
            self.assertTrue(json.load(f))  # the committed state, on the claim for the next run
        self.assert_forbidden_never(fake)
        fake.call("DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}?gracePeriodSeconds=0")
        fake.call("DELETE", f"/api/v1/namespaces/{NAMESPACE}/configmaps/{name}")
        self.wait_for_leftovers(fake, [])

    def wait_for_leftovers(self, fake, expected, within=60):
        deadline = time.monotonic() + within
        while fake.leftovers() != expected and time.monotonic() < deadline:
            time.sleep(0.5)
        self.assertEqual(fake.leftovers(), expected)

    def test_the_pods_of_an_orchestrator_that_died_go_with_its_pod(self):
        fake = self.fake("owner")
        name = f"k{os.getpid() % 100000}-owner"
        pod, _ = self.start_job(fake, name, {"records_per_stream": 20000,
                                             "stall_after_records": 1000, "stall_seconds": 120})
        self.wait_for_pod(fake, f"{name}-source", ("Running",), 120)
        # The orchestrator is killed at once (grace 0: no clean-up of its own); its pod's
        # deletion takes the sync's pods and Secret, which it owns, with it.
        fake.call("DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}?gracePeriodSeconds=0")
        self.wait_for_leftovers(fake, [])

    def test_without_an_advertise_address_nothing_is_created(self):
        fake = self.fake("noaddr")
        name = f"k{os.getpid() % 100000}-noaddr"
        spec = self.spec(name, {"records_per_stream": 10})
        args = [a for a in self.run_args(spec, fake) if not a.startswith("--advertise-address")]
        p = subprocess.run(args, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, EXIT_START, p.stderr)
        self.assertIn("--advertise-address", p.stderr)
        self.assertEqual([r for r in fake.requests() if r["method"] == "POST"], [])


class DeployManifestsTest(unittest.TestCase):
    """deploy/kubernetes/: the RBAC and the Job agree with each other and with sluice."""

    def load(self, name):
        with open(os.path.join(DEPLOY, name)) as f:
            return {d["kind"]: d for d in yaml.safe_load_all(f)}

    def test_the_job_runs_sluice_with_the_service_account_and_its_spec(self):
        rbac, job = self.load("rbac.yaml"), self.load("job.yaml")
        sa = rbac["ServiceAccount"]["metadata"]["name"]
        self.assertEqual(rbac["RoleBinding"]["subjects"], [{"kind": "ServiceAccount", "name": sa}])
        self.assertEqual(rbac["RoleBinding"]["roleRef"]["name"], rbac["Role"]["metadata"]["name"])
        pod = job["Job"]["spec"]["template"]["spec"]
        self.assertEqual(pod["serviceAccountName"], sa)
        self.assertEqual(job["Job"]["spec"]["backoffLimit"], 0)
        (container,) = pod["containers"]
        env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]}
        self.assertEqual(env, {"POD_NAME": "metadata.name", "POD_IP": "status.podIP"})
        # Restricted: as the pods sluice creates.
        self.assertTrue(pod["securityContext"]["runAsNonRoot"])
        self.assertEqual(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault")
        self.assertFalse(container["securityContext"]["allowPrivilegeEscalation"])
        self.assertEqual(container["securityContext"]["capabilities"]["drop"], ["ALL"])
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        args = container["args"]
        spec_path = args[1]
        self.assertEqual(volumes[mounts[os.path.dirname(spec_path)]]["configMap"]["name"],
                         job["ConfigMap"]["metadata"]["name"])
        self.assertEqual(volumes["state"]["persistentVolumeClaim"]["claimName"],
                         job["PersistentVolumeClaim"]["metadata"]["name"])
        sync = yaml.safe_load(job["ConfigMap"]["data"][os.path.basename(spec_path)])
        self.assertEqual(os.path.dirname(sync["state_file"]), "/var/lib/sluice")
        # The spec is one sluice takes, and the Job's flags are ones `sluice run` takes: out of a
        # cluster, it stops at the missing kubeconfig (24), not at its arguments (2).
        with open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"job-sync-{os.getpid()}.yaml"), "w") as f:
            f.write(job["ConfigMap"]["data"]["sync.yaml"])
        # The Job's paths are the pod's: here they go to a directory of the test's own (run as
        # they are, they left a work directory at /work/sync on the host).
        scratch = tempfile.mkdtemp(prefix="sluice-job-flags-")
        try:
            rendered = subprocess.run([SLUICE, "render", f.name], capture_output=True, text=True)
            self.assertEqual(rendered.returncode, 0, rendered.stderr)
            env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
            env["HOME"] = "/nonexistent"
            flags = [re.sub(r"^--(workdir|report)=.*$", lambda m: f"--{m[1]}={scratch}/{m[1]}", a)
                     for a in args[2:]]
            for name in ("workdir", "report"):
                self.assertIn(f"--{name}={scratch}/{name}", flags, f"the Job names its --{name}")
            run = subprocess.run([SLUICE, args[0], f.name, *flags], capture_output=True,
                                 text=True, env=env, timeout=60)
            self.assertEqual(run.returncode, EXIT_START, run.stderr)
            self.assertIn("kubeconfig", run.stderr)
        finally:
            os.unlink(f.name)
            shutil.rmtree(scratch, ignore_errors=True)

    def test_the_role_grants_only_what_syncs_use(self):
        role = self.load("rbac.yaml")["Role"]
        for rule in role["rules"]:
            self.assertEqual(rule["apiGroups"], [""])
            self.assertNotIn("*", rule["verbs"] + rule["resources"])
        granted = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
        self.assertNotIn(("secrets", "get"), granted)  # sluice never reads a Secret back
        self.assertNotIn(("secrets", "list"), granted)


if __name__ == "__main__":
    unittest.main(verbosity=2)
