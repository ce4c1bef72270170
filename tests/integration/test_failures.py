"""A pass that keeps failing surfaces on its object: Ready=False and Stalled=True with reason
ReconcileError, one Warning event per distinct failure, backoff meanwhile, and recovery on its
own once the cause is gone. The cause here is an admission policy refusing the operator's
ConfigMaps in one tenant's namespace, as a cluster's own policy engine might."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import OperatorProcess, start_operator
from tests.support.admission import refusing_configmaps
from tests.support.cluster import Cluster, condition, get_json, wait_for
from tests.support.probe_catalogue import COMPONENT, component, tenant

POLICY = "cg-test-refuse-configmaps"
TENANT = "t-poison"


def _policy() -> list[dict[str, Any]]:
    return refusing_configmaps(
        POLICY,
        {"kubernetes.io/metadata.name": TENANT},
        "refused by a test policy",
        expression="!has(object.metadata.labels) || !("
        "'appstore.commonground.nl/installation' in object.metadata.labels)",
    )


@pytest.fixture(scope="module")
def operator(
    cluster: Cluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    cluster.apply(component(8080))
    for obj in _policy():
        cluster.apply(obj)
    proc = start_operator(cluster, tmp_path_factory.mktemp("failures") / "operator.log")
    yield proc
    for obj in reversed(_policy()):
        cluster.kubectl("delete", obj["kind"], POLICY, "--ignore-not-found")
    cluster.kubectl("delete", "mt", TENANT, "--ignore-not-found", "--timeout=110s")
    cluster.kubectl("delete", "cgc", COMPONENT, "--ignore-not-found", "--timeout=60s")
    proc.stop()


def _failure_events(cluster: Cluster) -> list[dict[str, Any]]:
    items = get_json(cluster, "events", "-n", TENANT).get("items") or []
    return [e for e in items if e["reason"] == "ReconcileError"]


def test_a_pass_that_keeps_failing_is_reported_on_the_object_and_recovers(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    cluster.apply(tenant(TENANT, "GM0797", "container"))

    def stalled() -> dict[str, Any] | None:
        cgi: dict[str, Any] = get_json(cluster, "cgi", COMPONENT, "-n", TENANT)
        return cgi if condition(cgi, "Ready").get("reason") == "ReconcileError" else None

    cgi = wait_for("the installation to report its failing passes", stalled, timeout=90)
    ready, stuck = condition(cgi, "Ready"), condition(cgi, "Stalled")
    assert ready["status"] == "False"
    assert stuck["status"] == "True"
    assert "the API server answered" in ready["message"]
    wait_for("a Warning event", lambda: _failure_events(cluster), timeout=30)
    # Backoff continues (1, 2, 5, 10, 30 s); the same failure makes no second event.
    failures_before = operator.log().count(f"reconcile of ('componentinstallations', '{TENANT}'")
    wait_for(
        "two more failed passes",
        lambda: (
            operator.log().count(f"reconcile of ('componentinstallations', '{TENANT}'")
            >= failures_before + 2
        ),
        timeout=60,
    )
    events = _failure_events(cluster)
    assert len(events) == 1
    assert events[0]["type"] == "Warning"
    assert events[0]["count"] == 1

    cluster.kubectl("delete", "validatingadmissionpolicybinding", POLICY)

    def recovered() -> dict[str, Any] | None:
        found = get_json(cluster, "cgi", COMPONENT, "-n", TENANT)
        return found if condition(found, "Ready").get("status") == "True" else None

    healthy = wait_for("the installation to recover by itself", recovered, timeout=120)
    assert condition(healthy, "Stalled") == {}
