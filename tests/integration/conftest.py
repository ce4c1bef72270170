"""Integration fixtures: the real cluster (local control plane or KUBECONFIG), a namespace per
test, and the operator running as a subprocess against that cluster."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from tests.support.cluster import (
    LOCAL_KUBECONFIG,
    REPO,
    Cluster,
    ClusterRefusedError,
    check_local,
    cluster_required,
    find_kubectl,
    wait_for,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration is marked `integration`."""
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.integration)


def _unavailable(reason: str) -> None:
    if cluster_required():
        pytest.fail(f"no usable cluster and CI/CG_REQUIRE_CLUSTER forbids skipping: {reason}")
    pytest.skip(f"no usable cluster: {reason}")


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    """The cluster in KUBECONFIG, else the local control plane (started when not running)."""
    path = Path(os.environ.get("KUBECONFIG") or LOCAL_KUBECONFIG)
    if path == LOCAL_KUBECONFIG:
        up = subprocess.run(
            [str(REPO / "hack" / "cluster-up.sh")], capture_output=True, text=True, check=False
        )
        if up.returncode != 0:
            _unavailable(f"hack/cluster-up.sh failed: {up.stderr.strip()[-2000:]}")
    if not path.is_file():
        _unavailable(f"kubeconfig {path} does not exist")
    try:
        context = check_local(
            yaml.safe_load(path.read_text()),
            allow_remote=os.environ.get("CG_ALLOW_REMOTE_CLUSTER") == "1",
        )
        kubectl = find_kubectl()
    except (ClusterRefusedError, FileNotFoundError) as refused:
        _unavailable(str(refused))
    found = Cluster(kubeconfig=path, context=context, kubectl_binary=kubectl)
    ready = found.kubectl("get", "--raw", "/readyz", check=False)
    if ready.returncode != 0:
        _unavailable(f"API server in {path} is not ready: {ready.stderr.strip()}")
    return found


@pytest.fixture(scope="session")
def api(cluster: Cluster) -> client.ApiClient:
    """An official-client ApiClient authenticated as the kubeconfig's user."""
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


@pytest.fixture
def namespace(cluster: Cluster, api: client.ApiClient) -> Iterator[str]:
    """A fresh namespace for one test, deleted (without waiting) afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Operators running now, so a failing test's report carries what they logged (CI keeps no
# temporary directories; without this a failure there cannot be diagnosed).
RUNNING: list[OperatorProcess] = []
REPORTED_LOG_LINES = 120


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the tail of every running operator's log (debug lines left out) to a failure."""
    report = yield
    if report.failed and call.when in ("setup", "call"):
        for proc in RUNNING:
            lines = [line for line in proc.log().splitlines() if "[DEBUG" not in line]
            tail = "\n".join(lines[-REPORTED_LOG_LINES:])
            report.sections.append((f"operator log ({proc.log_path.name}, last lines)", tail))
    return report


class OperatorProcess:
    """`python -m cg_operator run` as a child process, with its log in a file."""

    def __init__(
        self,
        cluster: Cluster,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
        args: Sequence[str] = (),
    ):
        self.cluster = cluster
        self.extra_env = extra_env
        self._spawn(log_path, args)

    def _spawn(self, log_path: Path, args: Sequence[str]) -> None:
        self.port = _free_port()
        self.metrics_port = _free_port()
        self.log_path = log_path
        env = {**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig), **(self.extra_env or {})}
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cg_operator",
                "run",
                "--verbose",
                "--liveness",
                f"http://127.0.0.1:{self.port}/healthz",
                "--metrics-address",
                f"127.0.0.1:{self.metrics_port}",
                *args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )
        RUNNING.append(self)

    def restart(self, log_path: Path, args: Sequence[str] = ()) -> None:
        """Stop this operator and start it again in place (a fixture's later tests keep one
        running), logging to `log_path`, with `args`; returns once it is live."""
        self.stop()
        self._spawn(log_path, args)
        wait_for("the restarted operator's liveness endpoint", self.healthy, timeout=60)

    def healthy(self) -> bool:
        """True when kopf's liveness endpoint answers 200."""
        if self.process.poll() is not None:
            raise AssertionError(f"operator exited with {self.process.returncode}:\n{self.log()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def metrics(self) -> str:
        """The operator's /metrics page (Prometheus text format)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def log(self) -> str:
        """Everything the operator has logged so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def stop(self, *, kill: bool = False) -> int:
        """SIGTERM (or SIGKILL) and wait; returns the exit code."""
        if self.process.poll() is None:
            (self.process.kill if kill else self.process.terminate)()
            self.process.wait(timeout=30)
        if self in RUNNING:
            RUNNING.remove(self)
        self._log.close()
        return self.process.returncode


def start_operator(cluster: Cluster, log_path: Path, args: Sequence[str] = ()) -> OperatorProcess:
    """Start the operator (with extra command-line `args`) and wait until kopf reports it live."""
    proc = OperatorProcess(cluster, log_path, args=args)
    try:
        wait_for("the operator's liveness endpoint", proc.healthy, timeout=60)
    except BaseException:
        proc.stop()
        raise
    return proc


@pytest.fixture
def operator(cluster: Cluster, crds: None, tmp_path: Path) -> Iterator[OperatorProcess]:
    """The operator running against the test cluster until the test ends."""
    proc = start_operator(cluster, tmp_path / "operator.log")
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def module_operator(
    cluster: Cluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """One operator for all tests of a module."""
    proc = start_operator(cluster, tmp_path_factory.mktemp("operator") / "operator.log")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def crds(cluster: Cluster) -> None:
    """The generated CRDs installed (server-side apply) and Established."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO / "crds")
    )
