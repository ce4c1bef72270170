"""A real Prometheus server (Debian's package) scrapes the running operator while examples/
converge, loads monitoring/alerts.yaml, and is asked in PromQL what a platform team would ask:
do the series match the cluster, and does an endpoint that goes down show up and alert?"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import OperatorProcess, start_operator
from tests.support.cluster import REPO, Cluster, apply_examples, apply_tenant_secrets, wait_for
from tests.support.http_server import Behaviour, LocalServer
from tests.support.probe_catalogue import COMPONENT, component, tenant
from tests.support.tools import require_tool

TIMEOUT = 240
E2E_TENANT = "t-e2e-bunnik"
EXAMPLE_TENANTS = {
    doc["metadata"]["name"]
    for path in (REPO / "examples").rglob("*.yaml")
    for doc in yaml.safe_load_all(path.read_text())
    if doc and doc.get("kind") == "MunicipalityTenant"
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Prometheus:
    """`prometheus` on 127.0.0.1 scraping the operator every second, with the alert rules."""

    def __init__(self, workdir: Path, target: str) -> None:
        binary = require_tool("prometheus")
        self.port = _free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(REPO / "monitoring" / "alerts.yaml")],
            "scrape_configs": [
                {"job_name": "cg-operator", "static_configs": [{"targets": [target]}]}
            ],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = (workdir / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector for `promql` (fails the test on a query error)."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": promql}
        )
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def by(self, promql: str, label: str) -> dict[str, float]:
        """{label value: sample value} of an instant vector."""
        return {r["metric"].get(label, ""): float(r["value"][1]) for r in self.query(promql)}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    running = LocalServer().start()
    running.set("/gm0312/healthz", Behaviour(200))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def fleet(
    cluster: Cluster,
    crds: None,
    server: LocalServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    """examples/ plus one SaaS tenant on the local server, and the operator running."""
    apply_examples(cluster)
    cluster.apply(component(server.port))
    proc = start_operator(
        cluster,
        tmp_path_factory.mktemp("e2e") / "operator.log",
        args=["--probe-interval=1", "--probe-allow-cidr=127.0.0.0/8"],
    )
    apply_tenant_secrets(cluster)
    # A tenant new to this operator process, so its writes show in the metrics.
    cluster.apply(tenant(E2E_TENANT, "GM0312", "local-saas"))
    yield proc
    cluster.kubectl("delete", "mt", E2E_TENANT, "--ignore-not-found", "--timeout=110s")
    proc.stop()


@pytest.fixture(scope="module")
def prometheus(
    fleet: OperatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    running = Prometheus(tmp_path_factory.mktemp("prometheus"), f"127.0.0.1:{fleet.metrics_port}")
    try:
        wait_for("Prometheus ready", running.ready, timeout=60)
        wait_for(
            "the operator scraped",
            lambda: running.by('up{job="cg-operator"}', "job").get("cg-operator") == 1.0,
            timeout=60,
        )
        yield running
    finally:
        running.stop()


def _cluster_ready_per_tenant(cluster: Cluster) -> Counter[str]:
    items = json.loads(cluster.kubectl("get", "cgi", "-A", "-o", "json").stdout)["items"]
    ready: Counter[str] = Counter()
    for item in items:
        ready[item["spec"]["tenant"]] += 0
        for condition in (item.get("status") or {}).get("conditions") or []:
            if condition["type"] == "Ready" and condition["status"] == "True":
                ready[item["spec"]["tenant"]] += 1
    return ready


def test_ready_installations_per_tenant_match_the_cluster(
    cluster: Cluster, prometheus: Prometheus
) -> None:
    def converged() -> bool:
        tenants = [
            t
            for t in json.loads(cluster.kubectl("get", "mt", "-o", "json").stdout)["items"]
            if t["metadata"]["name"] in EXAMPLE_TENANTS
        ]
        return len(tenants) == len(EXAMPLE_TENANTS) and all(
            any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (t.get("status") or {}).get("conditions") or []
            )
            for t in tenants
        )

    wait_for("every example tenant Ready", converged, timeout=TIMEOUT)
    promql = "sum by (tenant) (cg_installation_ready)"

    def matches() -> dict[str, float] | None:
        expected = {t: float(n) for t, n in _cluster_ready_per_tenant(cluster).items()}
        seen = prometheus.by(promql, "tenant")
        return seen if seen == expected else None

    seen = wait_for(f"{promql} to match the cluster", matches, timeout=60)
    assert seen["gm0363-amsterdam"] >= 1


def test_inventory_series_match_the_cluster(cluster: Cluster, prometheus: Prometheus) -> None:
    installations = json.loads(cluster.kubectl("get", "cgi", "-A", "-o", "json").stdout)["items"]
    tenants = json.loads(cluster.kubectl("get", "mt", "-o", "json").stdout)["items"]
    rings = Counter(t["spec"]["ring"] for t in tenants)
    wait_for(
        "count(cg_installation_info) to match",
        lambda: prometheus.by("count(cg_installation_info)", "") == {"": float(len(installations))},
        timeout=60,
    )
    assert prometheus.by("cg_tenants", "ring") == {r: float(n) for r, n in rings.items()}
    versions = prometheus.by(
        'cg_installation_info{tenant="gm0363-amsterdam",component="open-zaak"}', "version"
    )
    amsterdam = next(
        i
        for i in installations
        if i["spec"]["tenant"] == "gm0363-amsterdam" and i["spec"]["component"] == "open-zaak"
    )
    assert versions == {amsterdam["status"]["observedVersion"]: 1.0}


def test_controller_metrics_are_scraped(prometheus: Prometheus) -> None:
    assert prometheus.by("cg_build_info", "version") == {"0.1.0": 1.0}
    kinds = prometheus.by("sum by (kind) (cg_reconcile_total)", "kind")
    assert {"ComponentInstallation", "MunicipalityTenant", "CGComponent"} <= set(kinds)
    p99 = (
        "histogram_quantile(0.99, sum by (le, kind) "
        "(rate(cg_reconcile_duration_seconds_bucket[5m])))"
    )
    # rate() needs two scrapes of the histogram; the dashboard's latency panel uses this query.
    wait_for(
        "the p99 reconcile latency",
        lambda: "ComponentInstallation" in prometheus.by(p99, "kind"),
        timeout=60,
    )
    fresh = prometheus.by("time() - cg_watch_last_event_timestamp_seconds", "resource")
    assert {"componentinstallations", "deployments", "secrets"} <= set(fresh)
    applies = 'sum by (resource) (cg_api_requests_total{verb="apply"})'
    # The e2e tenant's ExternalName Service and binding Secret, applied by this process.
    wait_for(
        "applies of the e2e tenant's Service and Secret",
        lambda: {"services", "secrets"} <= set(prometheus.by(applies, "resource")),
        timeout=TIMEOUT,
    )
    assert prometheus.query('ALERTS{alertname="CGWatchStalled"}') == []


def test_a_saas_endpoint_that_goes_down_turns_its_series_to_0_and_its_alert_pending(
    prometheus: Prometheus, server: LocalServer
) -> None:
    selector = f'tenant="{E2E_TENANT}",component="{COMPONENT}"'
    wait_for(
        "the healthy series at 1",
        lambda: (
            prometheus.by(f"cg_installation_healthy{{{selector}}}", "tenant") == {E2E_TENANT: 1.0}
        ),
        timeout=TIMEOUT,
    )
    server.set("/gm0312/healthz", Behaviour(503))
    wait_for(
        "the healthy series at 0",
        lambda: (
            prometheus.by(f"cg_installation_healthy{{{selector}}}", "tenant") == {E2E_TENANT: 0.0}
        ),
        timeout=TIMEOUT,
    )
    pending = wait_for(
        "CGComponentDown pending",
        lambda: prometheus.query(f'ALERTS{{alertname="CGComponentDown",{selector}}}') or None,
        timeout=60,
    )
    assert pending[0]["metric"]["alertstate"] == "pending"  # `for: 10m` has not passed
    assert pending[0]["metric"]["severity"] == "critical"
    failures = prometheus.by(
        f'sum by (reason) (cg_probes_total{{component="{COMPONENT}"}})', "reason"
    )
    assert failures.get("HTTPError", 0) >= 1
    server.set("/gm0312/healthz", Behaviour(200))
    wait_for(
        "the alert gone once it recovers",
        lambda: not prometheus.query(f'ALERTS{{alertname="CGComponentDown",{selector}}}'),
        timeout=TIMEOUT,
    )
