"""Exposure through Ingresses against the real control plane: a tenant's domain gives its
exposed component a host, an Ingress with a cert-manager certificate and a policy admitting the
ingress controller; the app learns its address; once a controller takes the route up, health
includes the public URL; two tenants never share a host, and the later
one gets it once the first lets go. (No ingress controller runs here: the objects are the
contract with one.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import OperatorProcess, start_operator
from tests.support.cluster import Cluster, condition, get_json, wait_for
from tests.support.exposure import COMPONENT, component, delete_tenants, ready_condition, tenant

OPERATOR_ARGS = (
    "--exposure",
    "ingress",
    "--ingress-class",
    "nginx",
    "--tls-cluster-issuer",
    "letsencrypt",
    "--ingress-namespace",
    "ingress-nginx",
    "--public-domain",
    "gemeenten.example",
)


@pytest.fixture(scope="module")
def exposing_operator(
    cluster: Cluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    proc = start_operator(
        cluster, tmp_path_factory.mktemp("exposure") / "operator.log", args=OPERATOR_ARGS
    )
    cluster.apply(component())
    yield proc
    delete_tenants(cluster, "t-expo-a", "t-expo-b", "t-expo-c")
    cluster.kubectl("delete", "cgc", COMPONENT, "--ignore-not-found")
    proc.stop()


def _ingress(cluster: Cluster, namespace: str) -> dict[str, object]:
    return get_json(cluster, "ingress", COMPONENT, "-n", namespace)  # type: ignore[no-any-return]


def _condition(cluster: Cluster, namespace: str, type_: str) -> dict[str, Any]:
    return condition(get_json(cluster, "cgi", COMPONENT, "-n", namespace), type_)


def test_an_exposed_subscription_gets_an_ingress_and_learns_its_address(
    cluster: Cluster, exposing_operator: OperatorProcess
) -> None:
    namespace = "t-expo-a"
    cluster.apply(tenant(namespace, "GM0701", "a.example"))
    ingress = wait_for("the Ingress", lambda: _ingress(cluster, namespace) or None, timeout=90)
    spec = ingress["spec"]
    assert isinstance(spec, dict)
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["app.a.example"], "secretName": f"{COMPONENT}-tls"}]
    assert spec["rules"][0]["host"] == "app.a.example"
    assert spec["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == COMPONENT
    metadata = ingress["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    wait_for(
        "the installation Ready at its public URL",
        lambda: (
            ready_condition(cluster, "cgi", COMPONENT, namespace).get("status") == "True"
            and get_json(cluster, "cgi", COMPONENT, "-n", namespace)["status"].get("url")
            == "https://app.a.example/"
        ),
        timeout=120,
    )
    config = get_json(cluster, "configmap", f"{COMPONENT}-config", "-n", namespace)["data"]
    assert config["SITE_DOMAIN"] == "app.a.example"
    assert config["IS_HTTPS"] == "True"
    assert "app.a.example" in config["ALLOWED_HOSTS"].split(",")
    policy = get_json(cluster, "networkpolicy", f"{COMPONENT}-exposed", "-n", namespace)
    selector = policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]
    assert selector["matchExpressions"][0]["values"] == ["ingress-nginx"]

    # An ingress controller takes the route up (its address in the Ingress status): from then
    # on health includes the public URL, which here does not resolve.
    cluster.kubectl(
        "patch",
        "ingress",
        COMPONENT,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}}',
    )
    healthy = wait_for(
        "Healthy judged on the public URL",
        lambda: (c := _condition(cluster, namespace, "Healthy")).get("status") == "False" and c,
        timeout=90,
    )
    assert isinstance(healthy, dict)
    assert healthy["reason"] == "DNSFailure"
    assert healthy["message"].startswith("public URL https://app.a.example/: ")

    # The municipality drops its domain: the route goes, and so does what the app knew.
    cluster.kubectl(
        "patch", "mt", namespace, "--type=json", "-p", '[{"op": "remove", "path": "/spec/domain"}]'
    )
    wait_for("the Ingress pruned", lambda: not _ingress(cluster, namespace), timeout=90)
    wait_for(
        "no public URL, no SITE_DOMAIN",
        lambda: (
            "url" not in get_json(cluster, "cgi", COMPONENT, "-n", namespace)["status"]
            and "SITE_DOMAIN"
            not in get_json(cluster, "configmap", f"{COMPONENT}-config", "-n", namespace)["data"]
        ),
        timeout=90,
    )
    assert not get_json(cluster, "networkpolicy", f"{COMPONENT}-exposed", "-n", namespace)


def test_a_host_is_one_tenants_and_passes_on_when_the_holder_lets_go(
    cluster: Cluster, exposing_operator: OperatorProcess
) -> None:
    shared = "loket.gemeenten.example"  # under the platform's extra domain
    cluster.apply(tenant("t-expo-b", "GM0702", "b.example", host=shared))
    wait_for(
        "the first tenant's Ingress", lambda: _ingress(cluster, "t-expo-b") or None, timeout=90
    )
    cluster.apply(tenant("t-expo-c", "GM0703", "c.example", host=shared))
    refused = wait_for(
        "the later tenant refused, naming the holder",
        lambda: (
            (c := ready_condition(cluster, "mt", "t-expo-c")).get("status") == "False"
            and "exposed by tenant" in c.get("message", "")
            and c
        ),
        timeout=60,
    )
    assert isinstance(refused, dict)
    assert (
        f"spec.components[0].host: {shared} is already exposed by tenant 't-expo-b'"
        in (refused["message"])
    )
    assert not get_json(cluster, "ns", "t-expo-c"), "nothing of the refused tenant is deployed"
    assert _ingress(cluster, "t-expo-b")["spec"]["rules"][0]["host"] == shared  # type: ignore[index]

    delete_tenants(cluster, "t-expo-b")
    ingress = wait_for(
        "the host passed on", lambda: _ingress(cluster, "t-expo-c") or None, timeout=120
    )
    assert ingress["spec"]["rules"][0]["host"] == shared  # type: ignore[index]
