"""The benchmark's plumbing: the cluster connection, the chart identity, the operator process,
the API server's request counters, per-process CPU and memory, and a clean slate between runs.

Used by bench/run.py; nothing here decides what is measured.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kopf
import kubernetes
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from fleet import BACKING_SECRET, FLEET_LABEL, namespace_of  # noqa: E402
from tests.support.apiserver import OPERATOR_RESOURCES, OWN_KINDS  # noqa: E402
from tests.support.chart import render  # noqa: E402
from tests.support.cluster import Cluster, find_kubectl  # noqa: E402
from tests.support.identity import USER_ROLE_SUFFIXES  # noqa: E402

from cg_operator.api.constants import (  # noqa: E402
    FIELD_MANAGER,
    LABEL_MANAGED_BY,
    LABEL_TENANT,
    MANAGED_BY,
)

GROUP = "appstore.commonground.nl"
API = f"{GROUP}/v1alpha1"
IDENTITY_NAMESPACE = "cg-bench"
IDENTITY_NAME = "cg-bench-operator"
HARNESS_MANAGER = "bench"
SERVICE_CIDR = "10.96.0.0/16"
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})
# The kinds the operator creates for tenants and installations (its own kinds excluded).
CHILD_RESOURCES = OPERATOR_RESOURCES - OWN_KINDS
# Child writes the operator and the raw applier make: server-side apply, merge patches (retained
# labels) and deletes (prune). The control plane creates (POST) each namespace's default
# ServiceAccount and root CA ConfigMap and updates built-ins with PUT (the Deployment revision
# annotation); neither is counted as a child write.
CLIENT_VERBS = frozenset({"PATCH", "APPLY", "DELETE"})
# The harness applies tenants and the catalogue; the operator only patches them (finalizers,
# labels, status) and the raw applier never writes them.
HARNESS_WRITES = frozenset(
    {("APPLY", GROUP, "municipalitytenants", ""), ("APPLY", GROUP, "cgcomponents", "")}
)
_SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
_CG_SAMPLE = re.compile(r"^(?P<name>cg_\w+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Requests:
    """apiserver_request_total as (verb, group, resource, subresource) -> count."""

    counts: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)

    def __sub__(self, before: Requests) -> Requests:
        diff: Counter[tuple[str, str, str, str]] = Counter()
        for key, value in self.counts.items():
            if value - before.counts.get(key, 0) > 0:
                diff[key] = value - before.counts.get(key, 0)
        return Requests(diff)

    def split(self) -> dict[str, int]:
        """Write requests by who makes them: children (what the operator applies), own CRs (our
        group, status included), events, the harness's applies of tenants and catalogue, and
        the rest (the control plane's controllers); reads (GET, LIST, WATCH) of every client
        together."""
        out = {"children": 0, "own": 0, "events": 0, "control_plane": 0, "harness": 0, "reads": 0}
        for (verb, group, resource, sub), value in self.counts.items():
            if verb not in WRITE_VERBS:
                out["reads"] += value
            elif (verb, group, resource, sub) in HARNESS_WRITES:
                out["harness"] += value
            elif group == GROUP:
                out["own"] += value
            elif resource == "events":
                out["events"] += value
            elif resource in CHILD_RESOURCES and not sub and verb in CLIENT_VERBS:
                out["children"] += value
            else:
                out["control_plane"] += value
        out["writes"] = out["children"] + out["own"] + out["events"]
        return out

    def detail(self, *, writes_only: bool = True) -> dict[str, int]:
        """'VERB resource[/sub]' -> count, for the JSON file."""
        out: dict[str, int] = {}
        for (verb, _group, resource, sub), value in sorted(self.counts.items()):
            if writes_only and verb not in WRITE_VERBS:
                continue
            key = f"{verb} {resource}{'/' + sub if sub else ''}"
            out[key] = out.get(key, 0) + value
        return out


@dataclass(frozen=True)
class ProcStat:
    """CPU seconds (user + system) and resident memory of a process at one moment."""

    cpu: float
    rss_mb: float


def proc_stat(pid: int) -> ProcStat | None:
    """From /proc: utime + stime (fields 14, 15) and VmRSS; None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICK
    rss = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")), 0
    )
    return ProcStat(cpu, rss / 1024)


def machine() -> dict[str, Any]:
    """nproc, memory, CPU model, Python and library versions."""
    meminfo = Path("/proc/meminfo").read_text()
    total = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(total / 1024 / 1024, 1),
        "cpu_model": model.group(1).strip() if model else "unknown",
        "python": sys.version.split()[0],
        "kopf": kopf.__version__ if hasattr(kopf, "__version__") else "",
        "kubernetes_client": kubernetes.__version__,
    }


class Bench:
    """The cluster the benchmark runs on, reached as admin (the harness) and as the chart's
    ServiceAccount (the operator and the raw applier)."""

    def __init__(self, kubeconfig: Path, workdir: Path) -> None:
        doc = yaml.safe_load(kubeconfig.read_text())
        self.kubeconfig = kubeconfig
        self.workdir = workdir
        self.cluster = Cluster(kubeconfig, doc["current-context"], find_kubectl())
        configuration = client.Configuration()
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=configuration
        )
        configuration.connection_pool_maxsize = 16
        self.api = client.ApiClient(configuration)
        self.dynamic = DynamicClient(self.api)  # type: ignore[no-untyped-call]
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.token_kubeconfig = workdir / "kubeconfig-operator"
        self.pool = ThreadPoolExecutor(max_workers=8)

    # --- identity -------------------------------------------------------------------------
    def chart_identity(self) -> Path:
        """Apply the chart's ServiceAccount, ClusterRole and ClusterRoleBinding (renamed) and
        write a kubeconfig with a TokenRequest token for it."""
        self.cluster.kubectl("create", "namespace", IDENTITY_NAMESPACE, check=False)
        for obj in render(None, "--namespace", IDENTITY_NAMESPACE):
            if obj["kind"] not in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding"):
                continue
            if obj["metadata"]["name"].endswith(USER_ROLE_SUFFIXES):
                continue
            obj["metadata"]["name"] = IDENTITY_NAME
            if obj["kind"] == "ClusterRoleBinding":
                obj["roleRef"]["name"] = IDENTITY_NAME
                for subject in obj["subjects"]:
                    subject["name"], subject["namespace"] = IDENTITY_NAME, IDENTITY_NAMESPACE
            if obj["kind"] == "ServiceAccount":
                obj["metadata"]["namespace"] = IDENTITY_NAMESPACE
            self.cluster.apply(obj)
        token = self.cluster.kubectl(
            "create", "token", IDENTITY_NAME, "-n", IDENTITY_NAMESPACE, "--duration=12h"
        ).stdout.strip()
        admin = yaml.safe_load(self.kubeconfig.read_text())
        context = next(c for c in admin["contexts"] if c["name"] == self.cluster.context)
        entry = next(c for c in admin["clusters"] if c["name"] == context["context"]["cluster"])
        self.token_kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "bench", "cluster": entry["cluster"]}],
                    "users": [{"name": IDENTITY_NAME, "user": {"token": token}}],
                    "contexts": [
                        {"name": "bench", "context": {"cluster": "bench", "user": IDENTITY_NAME}}
                    ],
                    "current-context": "bench",
                }
            )
        )
        self.token_kubeconfig.chmod(0o600)
        who = self.cluster.kubectl(
            "auth", "whoami", "--kubeconfig", str(self.token_kubeconfig), "-o", "json"
        )
        user = json.loads(who.stdout)["status"]["userInfo"]["username"]
        assert user == f"system:serviceaccount:{IDENTITY_NAMESPACE}:{IDENTITY_NAME}", user
        return self.token_kubeconfig

    # --- control plane ----------------------------------------------------------------------
    def install_crds(self) -> None:
        """The operator's CRDs from crds/ (the ones this checkout generates), Established."""
        crds = str(REPO / "crds")
        self.cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", crds)
        self.cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", crds)

    def service_range(self) -> None:
        """A second ServiceCIDR: kwokctl's default range (a /24) holds 254 ClusterIPs, the fleet
        needs one Service per installation (~3,900 at N=342)."""
        self.cluster.apply(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "ServiceCIDR",
                "metadata": {"name": "cg-bench"},
                "spec": {"cidrs": [SERVICE_CIDR]},
            }
        )

    def control_plane_pids(self) -> dict[str, int]:
        """kube-apiserver and etcd, from kwokctl's pid files (KWOK_WORKDIR of cluster-env.sh)."""
        name = self.cluster.context.removeprefix("kwok-")
        pids = REPO / ".local" / "kwok" / "clusters" / name / "pids"
        out = {}
        for process in ("kube-apiserver", "etcd"):
            path = pids / f"{process}.pid"
            if path.is_file():
                out[process] = int(path.read_text().strip())
        return out

    def kube_version(self) -> str:
        """The API server's version."""
        found = json.loads(self.cluster.kubectl("version", "-o", "json").stdout)
        return str(found.get("serverVersion", {}).get("gitVersion", ""))

    def requests(self) -> Requests:
        """The API server's apiserver_request_total, now."""
        counts: Counter[tuple[str, str, str, str]] = Counter()
        for line in self.get_raw("/metrics").decode().splitlines():
            match = _SAMPLE.match(line)
            if not match:
                continue
            labels = dict(_LABEL.findall(match["labels"]))
            key = (
                labels.get("verb", ""),
                labels.get("group", ""),
                labels.get("resource", ""),
                labels.get("subresource", ""),
            )
            counts[key] += int(float(match["value"]))
        return Requests(counts)

    # --- objects ----------------------------------------------------------------------------
    def apply_all(self, objects: Sequence[dict[str, Any]]) -> None:
        """Server-side apply as the harness (field manager 'bench'), 8 at a time."""
        # The dynamic client's discovery cache is not thread-safe (a lookup that misses it
        # rebuilds it, and a rebuild racing another thread's lookup raises KeyError): resolve
        # each kind once, here, before the pool runs.
        kinds = {(o["apiVersion"], o["kind"]) for o in objects}
        resources = {
            (v, k): self.dynamic.resources.get(api_version=v, kind=k) for v, k in sorted(kinds)
        }

        def one(obj: dict[str, Any]) -> None:
            resource = resources[obj["apiVersion"], obj["kind"]]
            resource.server_side_apply(
                body=obj,
                name=obj["metadata"]["name"],
                namespace=obj["metadata"].get("namespace"),
                field_manager=HARNESS_MANAGER,
                force_conflicts=True,
            )

        list(self.pool.map(one, objects))

    def apply_catalogue(self, catalogue: Mapping[str, dict[str, Any]]) -> None:
        """Write the catalogue to the work folder and apply it with kubectl."""
        folder = self.workdir / "catalogue"
        folder.mkdir(exist_ok=True)
        for name, component in catalogue.items():
            (folder / f"{name}.yaml").write_text(yaml.safe_dump(component, sort_keys=False))
        self.cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(folder))

    def prepare(self, tenants: Iterable[Mapping[str, Any]]) -> None:
        """Each tenant's namespace (labelled as the operator's, so it is adopted, not refused)
        and the Secret its external backing services name. Not measured."""
        objects: list[dict[str, Any]] = []
        for tenant in tenants:
            namespace = namespace_of(tenant)
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": namespace,
                        "labels": {
                            FLEET_LABEL: "true",
                            LABEL_MANAGED_BY: MANAGED_BY,
                            LABEL_TENANT: tenant["metadata"]["name"],
                        },
                    },
                }
            )
        self.apply_all(objects)
        secrets = []
        for tenant in tenants:
            namespace = namespace_of(tenant)
            host = f"shared-db.{namespace}.example"
            secrets.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": BACKING_SECRET, "namespace": namespace},
                    "stringData": {
                        "host": host,
                        "port": "5432",
                        "database": "app",
                        "username": "app",
                        "password": "not-a-real-password",
                        "cache": f"redis://{host}:6379/0",
                        "url": f"redis://{host}:6379/1",
                    },
                }
            )
        self.apply_all(secrets)

    def list_custom(self, plural: str, selector: str = "") -> list[dict[str, Any]]:
        """Every object of one of our kinds (cluster-wide), as dicts."""
        found: Any = self.custom.list_cluster_custom_object(
            GROUP, "v1alpha1", plural, label_selector=selector
        )
        return list(found["items"])

    def get_raw(self, path: str) -> bytes:
        """GET a path of the API server; the body as bytes (no model deserialisation)."""
        method, url, headers, _body, _post = self.api.param_serialize(
            "GET", path, auth_settings=["BearerToken"]
        )
        response = self.api.call_api(method, url, header_params=headers)
        return bytes(response.read())  # type: ignore[no-untyped-call]

    def list_raw(self, path: str) -> list[dict[str, Any]]:
        """A list call returning plain dicts."""
        return list(json.loads(self.get_raw(path))["items"])

    def operator_events(self) -> Counter[str]:
        """The Events the operator posted that are stored now, as 'Kind reason' -> count (a
        series counted up is one Event): what a person reads, to aim a change at the largest."""
        out: Counter[str] = Counter()
        for event in self.list_raw("/api/v1/events"):
            if event.get("reportingComponent") == FIELD_MANAGER:
                out[f"{event['involvedObject'].get('kind')} {event.get('reason')}"] += 1
        return out

    def clean(self, timeout: float = 900) -> float:
        """Remove the fleet: finalizers off every installation and tenant, the tenants and the
        fleet's namespaces deleted, and wait until they are gone. Seconds it took."""
        started = time.monotonic()
        patch = {"metadata": {"finalizers": None}}

        def strip(obj: dict[str, Any]) -> None:
            meta = obj["metadata"]
            if not meta.get("finalizers"):
                return
            try:
                if meta.get("namespace"):
                    self.custom.patch_namespaced_custom_object(
                        GROUP, "v1alpha1", meta["namespace"], obj["_plural"], meta["name"], patch
                    )
                else:
                    self.custom.patch_cluster_custom_object(
                        GROUP, "v1alpha1", obj["_plural"], meta["name"], patch
                    )
            except ApiException as error:
                if error.status != 404:
                    raise

        for plural, selector in (("componentinstallations", ""), ("municipalitytenants", "")):
            items = self.list_custom(plural, selector)
            for item in items:
                item["_plural"] = plural
            list(self.pool.map(strip, items))
        self.cluster.kubectl(
            "delete", "mt", "-l", f"{FLEET_LABEL}=true", "--wait=false", "--ignore-not-found"
        )
        self.cluster.kubectl(
            "delete", "namespace", "-l", f"{FLEET_LABEL}=true", "--wait=false",
            "--ignore-not-found",
        )  # fmt: skip
        poll(
            "the fleet gone",
            lambda: (
                not self.list_raw(f"/api/v1/namespaces?labelSelector={FLEET_LABEL}%3Dtrue")
                and not self.list_custom("municipalitytenants", f"{FLEET_LABEL}=true")
            ),
            timeout=timeout,
            interval=2,
        )
        return time.monotonic() - started


def poll(what: str, check: Callable[[], Any], *, timeout: float, interval: float = 1.0) -> Any:
    """Call check until it returns something true; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metric_samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of one cg_ metric in a Prometheus text exposition, as (labels, value);
    a sample without labels has none."""
    out = []
    for line in text.splitlines():
        match = _CG_SAMPLE.match(line)
        if match and match["name"] == name:
            out.append((dict(_LABEL.findall(match["labels"] or "")), float(match["value"])))
    return out


def full_collections(text: str) -> tuple[int, float, int]:
    """The full (generation 2) garbage collections in an operator's metrics text
    (cg_gc_pause_seconds): how many, their seconds in all, and how many took over 0.1 s."""

    def generation_2(name: str) -> list[tuple[dict[str, str], float]]:
        return [(lb, v) for lb, v in metric_samples(text, name) if lb.get("generation") == "2"]

    count = sum(v for _labels, v in generation_2("cg_gc_pause_seconds_count"))
    seconds = sum(v for _labels, v in generation_2("cg_gc_pause_seconds_sum"))
    buckets = generation_2("cg_gc_pause_seconds_bucket")
    within = sum(v for labels, v in buckets if float(labels["le"]) == 0.1)
    return int(count), seconds, int(count - within)


class Operator:
    """`python -m cg_operator run` as a child process, as the chart's ServiceAccount, probes
    off; optionally under cProfile (all threads, see bench/profiled.py)."""

    def __init__(
        self,
        kubeconfig: Path,
        log: Path,
        *,
        profile: Path | None = None,
        heap: Path | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.port, self.metrics_port = free_port(), free_port()
        self.log_path = log
        run = [
            "run",
            "--liveness",
            f"http://127.0.0.1:{self.port}/healthz",
            "--metrics-address",
            f"127.0.0.1:{self.metrics_port}",
            "--probe-interval",
            "0",
            *args,
        ]
        self.heap = heap
        if profile is not None:
            command = [sys.executable, str(BENCH / "profiled.py"), str(profile), *run]
        elif heap is not None:
            command = [sys.executable, str(BENCH / "heap.py"), str(heap), *run]
        else:
            command = [sys.executable, "-m", "cg_operator", *run]
        self._log = log.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "KUBECONFIG": str(kubeconfig)},
            cwd=REPO,
        )
        self.peak_rss = 0.0
        poll("the operator live", self.healthy, timeout=120, interval=0.2)

    @property
    def pid(self) -> int:
        """The operator's process id."""
        return self.process.pid

    def healthy(self) -> bool:
        """kopf's liveness endpoint answers 200."""
        if self.process.poll() is not None:
            raise RuntimeError(f"the operator exited: see {self.log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stat(self) -> ProcStat | None:
        """CPU and RSS now (and the peak RSS seen so far)."""
        found = proc_stat(self.pid)
        if found is not None:
            self.peak_rss = max(self.peak_rss, found.rss_mb)
        return found

    def _exposition(self) -> str:
        """The operator's /metrics text."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())

    def _samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """The operator's samples of one metric, as (labels, value)."""
        return metric_samples(self._exposition(), name)

    def _counted(self, name: str, *labels: str) -> Counter[str]:
        """A counter's samples summed by the given labels, joined with a space."""
        out: Counter[str] = Counter()
        for found, value in self._samples(name):
            out[" ".join(found[label] for label in labels)] += int(value)
        return out

    def client_requests(self) -> Counter[str]:
        """The operator's own cg_api_requests_total as 'verb resource' -> count."""
        return self._counted("cg_api_requests_total", "verb", "resource")

    def queue_depth(self) -> int:
        """Keys waiting in the operator's work queue, now or after a delay (cg_workqueue_depth):
        a held status write is such a key until its window ends."""
        return int(sum(value for _labels, value in self._samples("cg_workqueue_depth")))

    def full_collections(self) -> tuple[int, float, int]:
        """The operator's full garbage collections so far (see `full_collections`)."""
        return full_collections(self._exposition())

    def status_writes(self) -> Counter[str]:
        """The operator's status writes so far as 'Kind cause' -> count (cg_status_writes_total):
        what made each due, to aim a change at the largest."""
        return self._counted("cg_status_writes_total", "kind", "cause")

    def passes(self) -> Counter[str]:
        """Reconcile passes so far, by kind (cg_reconcile_total)."""
        return self._counted("cg_reconcile_total", "kind")

    def idle_lines(self) -> int:
        """How many times the operator has logged that its work queue is idle."""
        self._log.flush()
        return self.log_path.read_text(errors="replace").count("work queue idle after")

    def heap_report(self) -> dict[str, Any]:
        """Where the operator's memory is now (bench/heap.py; only when started with `heap`)."""
        assert self.heap is not None, "started without heap"
        self.heap.unlink(missing_ok=True)
        self.process.send_signal(signal.SIGUSR2)
        poll("the heap report", self.heap.exists, timeout=600, interval=0.5)
        found: dict[str, Any] = json.loads(self.heap.read_text())
        return found

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (or SIGKILL) and wait."""
        if self.process.poll() is None:
            (self.process.kill if kill else self.process.terminate)()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class Sampler:
    """Samples a process's RSS in the background (the peak during a window)."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            found = proc_stat(self.pid)
            if found is None:
                return
            self.peak = max(self.peak, found.rss_mb)

    def stop(self) -> float:
        """Stop sampling; the peak RSS in MB."""
        self._stop.set()
        self._thread.join()
        return self.peak


def workdir() -> Path:
    """A fresh temporary folder for one benchmark run."""
    return Path(tempfile.mkdtemp(prefix="cg-bench-"))
