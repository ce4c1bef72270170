"""Health against the real control plane: SaaS endpoints probed on 127.0.0.1 (allowed by an
explicit setting), the SSRF guard refusing the metadata address, Container installations probed
through the API server's service proxy, results in status and metrics, and a steady probe that
writes nothing."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import OperatorProcess, start_operator
from tests.support.cluster import Cluster, condition, get_json, wait_for
from tests.support.http_server import Behaviour, LocalServer
from tests.support.probe_catalogue import COMPONENT, CONTAINER_PORT, component, tenant

TIMEOUT = 120


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    running = LocalServer().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def prober_operator(
    cluster: Cluster, crds: None, server: LocalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    cluster.apply(component(server.port))
    proc = start_operator(
        cluster,
        tmp_path_factory.mktemp("health") / "operator.log",
        args=[
            "--probe-interval=0.5",
            "--probe-timeout=2",
            "--probe-allow-cidr=127.0.0.0/8",
            "--probe-allow-cidr=169.254.0.0/16",
            "--probe-status-refresh=3600",
            "--container-probe=proxy",
        ],
    )
    yield proc
    # The operator finalises what it made (deletionPolicy Delete takes the namespaces).
    names = ("t-zeist", "t-baarn", "t-soest")
    cluster.kubectl("delete", "mt", *names, "--ignore-not-found", "--timeout=110s")
    cluster.kubectl("delete", "cgc", COMPONENT, "--ignore-not-found", "--timeout=60s")
    proc.stop()


def _healthy(cluster: Cluster, namespace: str) -> dict[str, Any]:
    return condition(get_json(cluster, "cgi", COMPONENT, "-n", namespace), "Healthy")


def _events(cluster: Cluster, namespace: str) -> list[str]:
    items = get_json(cluster, "events", "-n", namespace).get("items") or []
    return [e["reason"] for e in items if e["involvedObject"]["name"] == COMPONENT]


def test_a_saas_endpoint_that_goes_down_turns_unhealthy_and_recovers(
    cluster: Cluster, prober_operator: OperatorProcess, server: LocalServer
) -> None:
    server.set("/gm0355/healthz", Behaviour(200))
    cluster.apply(tenant("t-zeist", "GM0355", "local-saas"))
    healthy = wait_for(
        "Healthy=True",
        lambda: (c := _healthy(cluster, "t-zeist")).get("status") == "True" and c,
        timeout=TIMEOUT,
    )
    assert healthy["reason"] == "ProbeSucceeded"
    status = get_json(cluster, "cgi", COMPONENT, "-n", "t-zeist")["status"]
    assert status["lastProbe"]["statusCode"] == 200
    assert status["lastProbe"]["url"] == f"{server.base}/gm0355/healthz"
    assert status["lastProbe"]["latencyMs"] >= 0

    server.set("/gm0355/healthz", Behaviour(503))
    down = wait_for(
        "Healthy=False",
        lambda: (c := _healthy(cluster, "t-zeist")).get("status") == "False" and c,
        timeout=TIMEOUT,
    )
    assert down["reason"] == "HTTPError"
    assert "503" in down["message"]
    wait_for("an Unhealthy event", lambda: "Unhealthy" in _events(cluster, "t-zeist"))
    summary = wait_for(
        "the tenant's summary to show it",
        lambda: next(
            (
                c
                for c in (get_json(cluster, "mt", "t-zeist").get("status") or {}).get("components")
                or []
                if c["name"] == COMPONENT and c.get("healthy") is False and c.get("ready")
            ),
            None,
        ),
        timeout=TIMEOUT,
    )
    assert summary["ready"] is True  # still bound; health is a separate signal
    rollup = condition(get_json(cluster, "mt", "t-zeist"), "Healthy")
    assert rollup["status"] == "False"
    assert COMPONENT in rollup["message"]

    server.set("/gm0355/healthz", Behaviour(200))
    wait_for("Healthy=True again", lambda: _healthy(cluster, "t-zeist").get("status") == "True")
    wait_for("a Recovered event", lambda: "Recovered" in _events(cluster, "t-zeist"))


def test_a_steady_probe_makes_no_status_writes(
    cluster: Cluster, prober_operator: OperatorProcess, server: LocalServer
) -> None:
    server.set("/gm0355/healthz", Behaviour(200))
    cluster.apply(tenant("t-zeist", "GM0355", "local-saas"))
    wait_for("Healthy=True", lambda: _healthy(cluster, "t-zeist").get("status") == "True")
    before = get_json(cluster, "cgi", COMPONENT, "-n", "t-zeist")["metadata"]["resourceVersion"]
    hits = server.hits.get("/gm0355/healthz", 0)
    wait_for(
        "ten more probes",
        lambda: server.hits.get("/gm0355/healthz", 0) >= hits + 10,
        timeout=TIMEOUT,
    )
    after = get_json(cluster, "cgi", COMPONENT, "-n", "t-zeist")["metadata"]["resourceVersion"]
    assert after == before


def test_the_metadata_address_is_refused_even_inside_an_allowed_network(
    cluster: Cluster, prober_operator: OperatorProcess
) -> None:
    cluster.apply(tenant("t-baarn", "GM0308", "metadata-saas"))
    refused = wait_for(
        "Healthy=False",
        lambda: (c := _healthy(cluster, "t-baarn")).get("status") == "False" and c,
        timeout=TIMEOUT,
    )
    assert refused["reason"] == "AddressNotAllowed"
    assert "metadata" in refused["message"]


def test_metrics_show_health_per_tenant_and_component(
    cluster: Cluster, prober_operator: OperatorProcess, server: LocalServer
) -> None:
    server.set("/gm0355/healthz", Behaviour(200))
    cluster.apply(tenant("t-zeist", "GM0355", "local-saas"))
    wait_for("Healthy=True", lambda: _healthy(cluster, "t-zeist").get("status") == "True")
    series = f'cg_installation_healthy{{component="{COMPONENT}",tenant="t-zeist"}} 1.0'
    wait_for("the healthy series", lambda: series in prober_operator.metrics(), timeout=TIMEOUT)
    page = prober_operator.metrics()
    assert f'cg_probes_total{{component="{COMPONENT}",reason="ProbeSucceeded"}}' in page
    assert 'cg_probe_duration_seconds_count{component="probe-test",delivery="SaaS"}' in page
    assert 'resource="componentinstallations/status",verb="patch"' in page


class LoopbackAlias:
    """A pod IP added to the loopback interface with a server on it, so that the API server's
    service proxy, dialling the (KWOK-simulated) pod, reaches a real HTTP server."""

    def __init__(self, address: str) -> None:
        ip = shutil.which("ip")
        if ip is None:
            raise AssertionError("the `ip` command (iproute2) is needed for this test")
        self.ip, self.address = ip, address
        subprocess.run([ip, "addr", "add", f"{address}/32", "dev", "lo"], check=True)
        self.server = LocalServer(host=address, port=CONTAINER_PORT).start()

    def close(self) -> None:
        self.server.stop()
        subprocess.run([self.ip, "addr", "del", f"{self.address}/32", "dev", "lo"], check=False)


def test_a_container_is_probed_through_the_api_server_service_proxy(
    cluster: Cluster, prober_operator: OperatorProcess
) -> None:
    cluster.apply(tenant("t-soest", "GM0342", "container"))
    wait_for(
        "the installation Ready",
        lambda: (
            condition(get_json(cluster, "cgi", COMPONENT, "-n", "t-soest"), "Ready").get("status")
            == "True"
        ),
        timeout=TIMEOUT,
    )
    # KWOK's pod IPs lead nowhere: the proxy's answer is an honest failure, not a fake pass.
    failed = wait_for(
        "Healthy=False",
        lambda: (c := _healthy(cluster, "t-soest")).get("status") == "False" and c,
        timeout=TIMEOUT,
    )
    proxy_path = f"/api/v1/namespaces/t-soest/services/{COMPONENT}:80/proxy/ready"
    assert proxy_path in failed["message"]
    pods = get_json(
        cluster, "pods", "-n", "t-soest", "-l", f"appstore.commonground.nl/installation={COMPONENT}"
    )
    addresses = [p["status"]["podIP"] for p in pods["items"] if p["status"].get("podIP")]
    assert addresses
    aliases = [LoopbackAlias(a) for a in addresses]
    try:
        for alias in aliases:
            alias.server.set("/ready", Behaviour(200))
        healthy = wait_for(
            "Healthy=True through the proxy",
            lambda: (c := _healthy(cluster, "t-soest")).get("status") == "True" and c,
            timeout=TIMEOUT,
        )
        assert healthy["reason"] == "ProbeSucceeded"
        assert sum(a.server.hits.get("/ready", 0) for a in aliases) >= 1
    finally:
        for alias in aliases:
            alias.close()
