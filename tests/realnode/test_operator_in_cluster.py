"""The operator installed for real: `helm install` of the chart with its defaults plus only what
the real node forces (hack/realnode/operator-values.yaml). The pod runs restricted, becomes
Ready through its own probes, reconciles from inside the cluster under the chart's RBAC, serves
/metrics, a replacement pod writes nothing on a converged fleet, and `helm uninstall` leaves the
municipalities, their installations and data in place."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.realnode.conftest import NODE, OPERATOR_IMAGE
from tests.support.appstore import make_tenant
from tests.support.chart import helm_binary
from tests.support.cluster import REPO, Cluster, get_json, wait_for
from tests.support.configuration import entry

RELEASE, NAMESPACE = "cg-real", "cg-real"
COMPONENT, TENANT = "realnode-test", "t-real-zwolle"
METRICS = "http://127.0.0.1:8081/metrics"
WRITES = ("create", "patch", "update", "delete")


def helm(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    """helm against the test cluster, with its config and cache under .local."""
    home = REPO / ".local" / "helm-realnode"
    env = {
        **os.environ,
        **{f"HELM_{k}_HOME": str(home / k.lower()) for k in ("CONFIG", "CACHE", "DATA")},
    }
    return subprocess.run(
        [helm_binary(), "--kubeconfig", str(cluster.kubeconfig), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def api_server_port(cluster: Cluster) -> str:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    return str(server.rsplit(":", 1)[1])


def metrics() -> str:
    with urllib.request.urlopen(METRICS, timeout=5) as response:
        return str(response.read().decode())


def counted(page: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in page.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def writes(page: str) -> float:
    return sum(counted(page, "cg_api_requests_total", verb=verb) for verb in WRITES)


def quiet(seconds: float = 60) -> str:
    """The metrics page once the operator is idle: its work queue empty and no write between
    two scrapes (a converged fleet gets no writes at all, so a quiet pair means converged)."""
    last: list[float] = []

    def settled() -> str | None:
        page = metrics()
        depth = sum(
            float(line.rsplit(" ", 1)[1])
            for line in page.splitlines()
            if line.startswith("cg_workqueue_depth")
        )
        now = writes(page)
        done = depth == 0 and last == [now]
        last[:] = [now]
        return page if done else None

    return wait_for("the operator idle", settled, timeout=seconds, interval=3)


def operator_pod(cluster: Cluster) -> dict[str, Any] | None:
    pods = cluster.kubectl(
        "get", "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=cg-operator", "-o", "json"
    )
    items = [
        p
        for p in yaml.safe_load(pods.stdout)["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]
    return items[0] if len(items) == 1 else None


def ready(pod: dict[str, Any] | None) -> bool:
    conditions = (pod or {}).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest.fixture(scope="module")
def installed(cluster: Cluster, crds: None, operator_image: str) -> Iterator[None]:
    for port in (8080, 8081):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"127.0.0.1:{port} is taken: the operator pod listens there")
    cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    install = helm(
        cluster,
        "install",
        RELEASE,
        str(REPO / "charts" / "cg-operator"),
        "-n",
        NAMESPACE,
        "-f",
        str(REPO / "hack" / "realnode" / "operator-values.yaml"),
        "--set",
        f"podNetwork.apiServer.port={api_server_port(cluster)}",
        "--set",
        f"image.tag={OPERATOR_IMAGE.rsplit(':', 1)[1]}",
        "--skip-crds",
        "--wait",
        "--timeout",
        "180s",
    )
    assert install.returncode == 0, install.stderr
    yield
    helm(cluster, "uninstall", RELEASE, "-n", NAMESPACE, "--wait")
    cluster.kubectl("delete", "mt", TENANT, "--ignore-not-found", "--timeout=90s", check=False)
    cluster.kubectl("delete", "cgc", COMPONENT, "--ignore-not-found", check=False)
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_the_operator_runs_in_the_cluster_restricted_and_reconciles(
    cluster: Cluster, installed: None
) -> None:
    pod = wait_for(
        "the operator pod Ready",
        lambda: (p := operator_pod(cluster)) and ready(p) and p,
        timeout=120,
    )
    assert isinstance(pod, dict)
    assert pod["spec"]["nodeName"] == NODE
    container = pod["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsUser"] == 65532
    assert re.search(r"^cg_build_info\{", metrics(), re.M)

    cluster.apply(entry(COMPONENT))
    cluster.apply(make_tenant(TENANT, "volger", "GM0193", COMPONENT))
    wait_for(
        "the installation Ready, reconciled from inside the cluster",
        lambda: (
            any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in get_json(cluster, "cgi", COMPONENT, "-n", TENANT)
                .get("status", {})
                .get("conditions", [])
            )
            or None
        ),
        timeout=120,
    )
    assert writes(metrics()) > 0, "the installation was made by this operator"


def test_a_new_pod_takes_over_and_writes_nothing_on_a_converged_fleet(
    cluster: Cluster, installed: None
) -> None:
    before = operator_pod(cluster)
    assert before is not None
    assert ready(before)
    quiet(120)  # everything in the cluster converged by the first pod
    cluster.kubectl("delete", "pod", before["metadata"]["name"], "-n", NAMESPACE, "--wait=false")
    after = wait_for(
        "a new operator pod Ready",
        lambda: (
            (p := operator_pod(cluster))
            and p["metadata"]["uid"] != before["metadata"]["uid"]
            and ready(p)
            and p
        ),
        timeout=120,
    )
    assert isinstance(after, dict)
    # Once it has listed what it manages (the installation among it) and gone idle, it has
    # compared everything and written nothing.
    wait_for(
        "the new pod's view of the installations",
        lambda: (
            counted(metrics(), "cg_watch_events_total", resource="componentinstallations") > 0
            or None
        ),
        timeout=60,
    )
    page = quiet()
    requests = [r for r in page.splitlines() if r.startswith("cg_api_requests_total")]
    assert writes(page) == 0, requests


def test_helm_uninstall_leaves_the_municipalities_and_their_data(
    cluster: Cluster, installed: None
) -> None:
    done = helm(cluster, "uninstall", RELEASE, "-n", NAMESPACE, "--wait")
    assert done.returncode == 0, done.stderr
    assert get_json(cluster, "mt", TENANT), "the tenant stays"
    assert get_json(cluster, "cgi", COMPONENT, "-n", TENANT), "its installation stays"
    assert get_json(cluster, "deployment", COMPONENT, "-n", TENANT), "and what runs it"
    assert get_json(cluster, "crd", "municipalitytenants.appstore.commonground.nl")
