"""Real components on real pods: a municipality with Open Zaak, Open Notificaties, Objecten and
Objecttypen, as the example catalogue describes them, converges on a kind cluster and every
component answers its health endpoint with the Host the operator allowed."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import OperatorProcess, start_operator
from tests.support.cluster import REPO, Cluster, condition, get_json, wait_for

TENANT = "t-real"
CONVERGE_TIMEOUT = 1800  # image pulls and first migrations on a CI runner
COMPONENTS = {
    # component: (version with the health path, the path its maintainers probe)
    "open-notificaties": ("1.16.2", "/"),
    "open-zaak": ("1.30.0", "/_healthz/readyz/"),
    "objecttypen": ("3.4.2", "/"),
    "objecten": ("3.6.1", "/"),
}


@pytest.fixture(scope="module")
def converged(kind_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = kind_cluster
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO / "crds")
    )
    cluster.kubectl("apply", "--server-side", "-f", str(REPO / "examples" / "catalog"))
    operator: OperatorProcess = start_operator(
        cluster, tmp_path_factory.mktemp("real") / "operator.log"
    )
    cluster.apply(
        {
            "apiVersion": "appstore.commonground.nl/v1alpha1",
            "kind": "MunicipalityTenant",
            "metadata": {"name": TENANT},
            "spec": {
                "municipality": {"name": "Echt", "code": "GM0999"},
                "namespace": TENANT,
                "deletionPolicy": "Delete",
                "components": [
                    {"name": name, "offering": "container", "version": version}
                    for name, (version, _path) in COMPONENTS.items()
                ],
            },
        }
    )
    try:
        wait_for(
            "the tenant Ready on real pods",
            lambda: condition(get_json(cluster, "mt", TENANT), "Ready").get("status") == "True",
            timeout=CONVERGE_TIMEOUT,
            interval=5,
        )
    except AssertionError:
        print(cluster.kubectl("get", "pods,cgi", "-n", TENANT, "-o", "wide", check=False).stdout)
        print(cluster.kubectl("get", "events", "-n", TENANT, check=False).stdout[-8000:])
        print(operator.log()[-5000:])
        raise
    yield cluster
    operator.stop()
    cluster.kubectl("delete", "mt", TENANT, "--wait=false", check=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(cluster: Cluster, service: str, path: str, host: str) -> int:
    """GET path on the Service through `kubectl port-forward`, with the given Host header."""
    port = _free_port()
    forward = subprocess.Popen(
        [
            cluster.kubectl_binary, "--kubeconfig", str(cluster.kubeconfig), "-n", TENANT,
            "port-forward", f"svc/{service}", f"{port}:80",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", headers={"Host": host}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                    return int(response.status)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        forward.terminate()
        forward.wait(timeout=10)


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_each_component_runs_and_answers_its_health_endpoint(
    converged: Cluster, component: str
) -> None:
    version, path = COMPONENTS[component]
    cgi = get_json(converged, "cgi", component, "-n", TENANT)
    assert cgi["status"]["observedVersion"] == version
    pods = get_json(converged, "pods", "-n", TENANT, "-l", f"app.kubernetes.io/name={component}")
    assert pods["items"], f"no pods for {component}"
    for pod in pods["items"]:
        statuses = pod["status"].get("containerStatuses") or []
        assert all(s.get("ready") for s in statuses), f"{pod['metadata']['name']}: {statuses}"
    assert _get(converged, component, path, host=component) == 200


def test_the_data_volumes_are_bound_and_shared(converged: Cluster) -> None:
    claims: dict[str, Any] = get_json(converged, "pvc", "-n", TENANT)
    assert claims["items"]
    assert all(c["status"]["phase"] == "Bound" for c in claims["items"]), [
        (c["metadata"]["name"], c["status"]["phase"]) for c in claims["items"]
    ]


def test_nothing_in_the_tier_depends_on_simulated_nodes(converged: Cluster) -> None:
    nodes = get_json(converged, "nodes")["items"]
    assert not any(
        (n["metadata"].get("annotations") or {}).get("kwok.x-k8s.io/node") for n in nodes
    )
    assert Path(converged.kubeconfig).is_file()
