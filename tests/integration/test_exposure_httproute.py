"""Exposure through the Gateway API against the real control plane: with HTTPRoute chosen and
the Gateway API CRDs missing the installation says so (and still deploys); once the CRDs are
installed (the standard ones from the sigs.k8s.io/gateway-api Go module, copied into the binary
cache by `make tools`) the route attaches to the platform Gateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import OperatorProcess, start_operator
from tests.support.cluster import Cluster, get_json, wait_for
from tests.support.exposure import COMPONENT, component, delete_tenants, ready_condition, tenant
from tests.support.tools import bin_dir

NAMESPACE = "t-route-a"


def gateway_api_crds() -> Path:
    found = bin_dir() / "gateway-api-crds"
    if not (found / "gateway.networking.k8s.io_httproutes.yaml").is_file():
        pytest.fail(f"no Gateway API CRDs in {found}: run `make tools`")
    return found


@pytest.fixture(scope="module")
def route_operator(
    cluster: Cluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    crds_dir = gateway_api_crds()
    cluster.kubectl("delete", "--ignore-not-found", "-f", str(crds_dir))
    proc = start_operator(
        cluster,
        tmp_path_factory.mktemp("httproute") / "operator.log",
        args=("--exposure", "httproute", "--gateway", "gateways/public/https"),
    )
    cluster.apply(component())
    yield proc
    delete_tenants(cluster, NAMESPACE)
    cluster.kubectl("delete", "cgc", COMPONENT, "--ignore-not-found")
    proc.stop()
    cluster.kubectl("delete", "--ignore-not-found", "-f", str(crds_dir))


def test_without_the_gateway_api_the_installation_says_so_then_routes_once_installed(
    cluster: Cluster, route_operator: OperatorProcess
) -> None:
    cluster.apply(tenant(NAMESPACE, "GM0704", "r.example"))
    unavailable = wait_for(
        "Ready=False, ExposureUnavailable",
        lambda: (
            (c := ready_condition(cluster, "cgi", COMPONENT, NAMESPACE)).get("reason")
            == "ExposureUnavailable"
            and c
        ),
        timeout=90,
    )
    assert isinstance(unavailable, dict)
    assert unavailable["status"] == "False"
    assert "httproutes" in unavailable["message"]
    assert "not installed" in unavailable["message"]
    assert get_json(cluster, "deployment", COMPONENT, "-n", NAMESPACE), "workloads still deploy"

    crds_dir = gateway_api_crds()
    cluster.kubectl("apply", "--server-side", "-f", str(crds_dir))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(crds_dir))
    # The operator asks discovery again at most once a minute, and rechecks the installation
    # every 15 s: up to about 75 s.
    route = wait_for(
        "the HTTPRoute",
        lambda: get_json(cluster, "httproute", COMPONENT, "-n", NAMESPACE) or None,
        timeout=150,
        interval=1,
    )
    assert route["spec"]["parentRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "namespace": "gateways",
            "name": "public",
            "sectionName": "https",
        }
    ]
    assert route["spec"]["hostnames"] == ["app.r.example"]
    assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == COMPONENT
    wait_for(
        "the installation Ready",
        lambda: ready_condition(cluster, "cgi", COMPONENT, NAMESPACE).get("status") == "True",
        timeout=90,
    )
    cgi = get_json(cluster, "cgi", COMPONENT, "-n", NAMESPACE)
    assert cgi["status"]["url"] == "https://app.r.example/"
