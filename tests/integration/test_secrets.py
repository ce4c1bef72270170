"""Secret settings on the real control plane: a generated SECRET_KEY is made once and survives
restarts, upgrades and a resubscription, changes only when rotation is asked for; a setting the
municipality must supply keeps the installation from deploying until its Secret exists; no
secret value ever shows up in a ConfigMap, a status or an event."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import OperatorProcess, start_operator
from tests.support.cluster import Cluster, condition, get_json, wait_for

TIMEOUT = 180
COMPONENT = "secret-test"
TENANT = "t-secrets"
NAMESPACE = TENANT


def _version(version: str) -> dict[str, Any]:
    return {
        "version": version,
        "container": {
            "image": f"registry.example/secret-test:{version}",
            "port": 8000,
            "user": {"runAsUser": 1000},
            "probes": {"readiness": "/ready"},
            "generatedSecrets": [{"name": "SECRET_KEY", "length": 50}],
            "tenantSecrets": [
                {"name": "OIDC_RP_CLIENT_SECRET", "required": True, "description": "OIDC"}
            ],
        },
    }


CATALOGUE = {
    "apiVersion": "appstore.commonground.nl/v1alpha1",
    "kind": "CGComponent",
    "metadata": {"name": COMPONENT},
    "spec": {
        "displayName": "Secret test",
        "layer": "Service",
        "lifecycle": "Beta",
        "defaultVersion": "1.0.0",
        "versions": [_version("1.0.0"), _version("1.1.0")],
        "offerings": [
            {"name": "container", "type": "Container", "deliveryOrganisation": {"name": "T"}}
        ],
    },
}


def _tenant(version: str = "1.0.0", subscribed: bool = True) -> dict[str, Any]:
    subscription = {
        "name": COMPONENT,
        "offering": "container",
        "version": version,
        "secretValues": [
            {
                "name": "OIDC_RP_CLIENT_SECRET",
                "secretKeyRef": {"name": "oidc", "key": "client-secret"},
            }
        ],
    }
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "MunicipalityTenant",
        "metadata": {"name": TENANT},
        "spec": {
            "municipality": {"name": "Geheim", "code": "GM0700"},
            "namespace": NAMESPACE,
            "deletionPolicy": "Retain",
            "components": [subscription] if subscribed else [],
        },
    }


class Running:
    def __init__(self, proc: OperatorProcess) -> None:
        self.proc = proc


@pytest.fixture(scope="module")
def running(
    cluster: Cluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    cluster.apply(CATALOGUE)
    holder = Running(start_operator(cluster, tmp_path_factory.mktemp("secrets") / "op.log"))
    yield holder
    # The tenant goes while the operator runs: its finalizer is the operator's to remove.
    cluster.kubectl("delete", "mt", TENANT, "--ignore-not-found", "--wait=true", "--timeout=120s")
    holder.proc.stop()
    cluster.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false")
    cluster.kubectl("delete", "cgc", COMPONENT, "--ignore-not-found")


def _ready(cluster: Cluster) -> dict[str, Any] | None:
    cgi = get_json(cluster, "cgi", COMPONENT, "-n", NAMESPACE)
    return cgi if condition(cgi, "Ready").get("status") == "True" else None


def _secret_key(cluster: Cluster) -> str:
    secret = get_json(cluster, "secret", f"{COMPONENT}-secrets", "-n", NAMESPACE)
    return base64.b64decode(secret["data"]["SECRET_KEY"]).decode()


def test_a_missing_tenant_secret_blocks_deployment_until_it_exists(
    cluster: Cluster, running: Running
) -> None:
    cluster.apply(_tenant())

    def missing() -> dict[str, Any] | None:
        ready = condition(get_json(cluster, "cgi", COMPONENT, "-n", NAMESPACE), "Ready")
        return ready if ready.get("reason") == "MissingSecret" else None

    ready = wait_for("MissingSecret", missing, timeout=TIMEOUT)
    assert ready["status"] == "False"
    assert "spec.secretValues[0].secretKeyRef: Secret 'oidc' does not exist" in ready["message"]
    deployments = cluster.kubectl("get", "deployments", "-n", NAMESPACE, "-o", "name").stdout
    assert not deployments.strip(), "nothing is deployed half-way"
    cluster.kubectl(
        "create", "secret", "generic", "oidc", "-n", NAMESPACE, "--from-literal=other=x"
    )
    wait_for(
        "the missing key named",
        lambda: (
            "has no key 'client-secret'"
            in condition(get_json(cluster, "cgi", COMPONENT, "-n", NAMESPACE), "Ready").get(
                "message", ""
            )
        ),
        timeout=TIMEOUT,
    )
    cluster.kubectl(
        "patch", "secret", "oidc", "-n", NAMESPACE, "--type=merge",
        "-p", json.dumps({"stringData": {"client-secret": "s3cr3t-from-the-idp"}}),
    )  # fmt: skip
    cgi = wait_for("Ready once the Secret is complete", lambda: _ready(cluster), timeout=TIMEOUT)
    assert cgi["status"]["observedVersion"] == "1.0.0"
    web = get_json(cluster, "deployment", COMPONENT, "-n", NAMESPACE)
    env = {e["name"]: e for e in web["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["OIDC_RP_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "oidc",
        "key": "client-secret",
    }
    assert env["SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == f"{COMPONENT}-secrets"


def test_the_generated_secret_survives_restart_upgrade_and_resubscription(
    cluster: Cluster, running: Running, tmp_path: Any
) -> None:
    wait_for("Ready", lambda: _ready(cluster), timeout=TIMEOUT)
    first = _secret_key(cluster)
    assert len(first) == 50
    running.proc.stop()
    running.proc = start_operator(cluster, tmp_path / "restart.log")
    cluster.apply(_tenant("1.1.0"))
    wait_for(
        "upgraded",
        lambda: (_ready(cluster) or {}).get("status", {}).get("observedVersion") == "1.1.0",
        timeout=TIMEOUT,
    )
    assert _secret_key(cluster) == first, "an upgrade keeps the generated secret"
    cluster.apply(_tenant(subscribed=False))
    wait_for(
        "unsubscribed",
        lambda: (
            cluster.kubectl("get", "cgi", COMPONENT, "-n", NAMESPACE, check=False).returncode != 0
        ),
        timeout=TIMEOUT,
    )
    kept = get_json(cluster, "secret", f"{COMPONENT}-secrets", "-n", NAMESPACE)
    assert kept["metadata"]["labels"]["appstore.commonground.nl/retained"] == "true"
    cluster.apply(_tenant("1.1.0"))
    wait_for("Ready again", lambda: _ready(cluster), timeout=TIMEOUT)
    assert _secret_key(cluster) == first, "a resubscription under Retain gets its secret back"


def test_rotation_replaces_the_secret_once_and_says_so(cluster: Cluster, running: Running) -> None:
    wait_for("Ready", lambda: _ready(cluster), timeout=TIMEOUT)
    before = _secret_key(cluster)
    cluster.kubectl(
        "annotate", "cgi", COMPONENT, "-n", NAMESPACE,
        "appstore.commonground.nl/rotate-secrets=2026-12-02",
    )  # fmt: skip
    after = wait_for(
        "a new SECRET_KEY",
        lambda: (value := _secret_key(cluster)) != before and value,
        timeout=TIMEOUT,
    )
    assert len(after) == 50
    events = cluster.kubectl(
        "get", "events", "-n", NAMESPACE, "--field-selector", "reason=SecretsRotated", "-o", "json"
    )
    assert len(json.loads(events.stdout)["items"]) == 1
    wait_for("Ready after rotation", lambda: _ready(cluster), timeout=TIMEOUT)
    assert _secret_key(cluster) == after, "the same request does not rotate twice"


def test_no_secret_value_appears_outside_secrets(cluster: Cluster, running: Running) -> None:
    values = [_secret_key(cluster), "s3cr3t-from-the-idp"]
    places = [
        cluster.kubectl("get", "configmaps,events", "-n", NAMESPACE, "-o", "json").stdout,
        cluster.kubectl("get", "cgi", "-n", NAMESPACE, "-o", "json").stdout,
        cluster.kubectl("get", "mt", TENANT, "-o", "json").stdout,
        cluster.kubectl("get", "deployments", "-n", NAMESPACE, "-o", "json").stdout,
        running.proc.log(),
    ]
    for value in values:
        for place in places:
            assert value not in place
