"""A component's configuration Job against the real control plane: a Job that fails is
reported on the installation with its reason, keeps it from Ready and is an event; once the
cause is gone, new inputs make a new Job that succeeds, and the failed one is removed. A part
of the configuration for another component runs only while that component is subscribed.

KWOK completes every Job pod it runs (its default pod-complete stage); to fail one, a
MutatingAdmissionPolicy keeps the Job's pods unschedulable, so the Job passes its deadline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import OperatorProcess
from tests.support.cluster import Cluster, condition, get_json, wait_for
from tests.support.configuration import (
    COMPONENT,
    PEER,
    component,
    entry,
    make_job_pods_unschedulable,
    remove_policy,
    wait_configured,
)

TENANT = "t-configure-fails"
TIMEOUT = 120


def tenant(name: str = TENANT, code: str = "GM0731", *components: str) -> dict[str, object]:
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "MunicipalityTenant",
        "metadata": {"name": name},
        "spec": {
            "municipality": {"name": "Configureren", "code": code},
            "ring": "volger",
            "namespace": name,
            "deletionPolicy": "Delete",
            "components": [{"name": c, "offering": "container"} for c in components or [COMPONENT]],
        },
    }


@pytest.fixture
def policy(cluster: Cluster, crds: None) -> Iterator[str]:
    name = make_job_pods_unschedulable(cluster, TENANT)
    yield name
    remove_policy(cluster, name, TENANT)
    cluster.kubectl("delete", "mt", TENANT, "--ignore-not-found", "--timeout=90s")
    cluster.kubectl("delete", "cgc", COMPONENT, "--ignore-not-found")


def test_a_failed_configuration_keeps_the_installation_from_ready_until_fixed(
    cluster: Cluster, module_operator: OperatorProcess, policy: str
) -> None:
    cluster.apply(component())
    cluster.apply(tenant())
    failed = wait_configured(cluster, TENANT, "ConfigurationFailed", TIMEOUT)
    assert failed["status"] == "False"
    assert "failed" in failed["message"]
    assert "deadline" in failed["message"].lower()
    cgi = get_json(cluster, "cgi", COMPONENT, "-n", TENANT)
    ready = condition(cgi, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ConfigurationFailed")
    assert "observedVersion" not in cgi["status"], "a version that is not configured is not run"
    wait_for(
        "a ConfigurationFailed event",
        lambda: any(
            e["reason"] == "ConfigurationFailed" and e["type"] == "Warning"
            for e in get_json(cluster, "events", "-n", TENANT).get("items") or []
        ),
        timeout=30,
    )
    first = failed["message"].split()[3]  # "the configuration Job <name> failed: ..."

    # The cause is gone and the configuration changes: a new Job, which succeeds.
    remove_policy(cluster, policy, TENANT)
    cluster.apply(component(data="site: {host}\nretry: 1\n", deadline=600))
    done = wait_configured(cluster, TENANT, "Configured", TIMEOUT)
    assert done["status"] == "True"
    assert first not in done["message"]
    wait_for(
        "the failed Job removed",
        lambda: get_json(cluster, "job", first, "-n", TENANT) == {} or None,
        timeout=60,
    )
    wait_for(
        "the installation Ready",
        lambda: (
            condition(get_json(cluster, "cgi", COMPONENT, "-n", TENANT), "Ready").get("status")
            == "True"
            or None
        ),
        timeout=60,
    )


PARTS_TENANT = "t-configure-parts"


def parts_tenant(*components: str) -> dict[str, object]:
    return tenant(PARTS_TENANT, "GM0732", *components)


@pytest.fixture
def with_peer(cluster: Cluster, crds: None) -> Iterator[None]:
    cluster.apply(entry(PEER))
    part = {"component": PEER, "data": PART, "commands": [AFTER]}
    cluster.apply(component(data="", deadline=600, parts=[part]))
    yield
    cluster.kubectl("delete", "mt", PARTS_TENANT, "--ignore-not-found", "--timeout=90s")
    cluster.kubectl("delete", "cgc", COMPONENT, PEER, "--ignore-not-found")


PART = "peer:\n  url: '{url:configure-peer}'\n"
AFTER = ["/app/after-configure", "--peer"]


def _ready(namespace: str, cluster: Cluster) -> dict[str, object] | None:
    cgi = get_json(cluster, "cgi", COMPONENT, "-n", namespace)
    return cgi if condition(cgi, "Ready").get("status") == "True" else None


def test_a_part_is_configured_only_while_its_component_is_subscribed(
    cluster: Cluster, module_operator: OperatorProcess, with_peer: None
) -> None:
    """Open Notificaties without Open Zaak: what concerns the other component waits for nothing
    until it is subscribed, then runs, its commands after the configuration's own (as Open
    Zaak's part for Objecten gives a scope); unsubscribing it takes the Job away again."""
    cluster.apply(parts_tenant(COMPONENT))
    alone = wait_for(
        "Ready without the peer", lambda: _ready(PARTS_TENANT, cluster), timeout=TIMEOUT
    )
    assert condition(alone, "Configured") == {}
    jobs = get_json(cluster, "jobs", "-n", PARTS_TENANT)
    assert jobs["items"] == []

    cluster.apply(parts_tenant(COMPONENT, PEER))
    done = wait_configured(cluster, PARTS_TENANT, "Configured", TIMEOUT)
    assert done["status"] == "True"
    text = get_json(cluster, "configmap", f"{COMPONENT}-configuration", "-n", PARTS_TENANT)
    peer = get_json(cluster, "cgi", PEER, "-n", PARTS_TENANT)["status"]["endpoint"]
    assert f"url: {peer}" in text["data"]["configuration.yaml"]
    # The part's command ran after the configuration's own, in the same Job: KWOK completes a
    # pod with init containers as it does any (its pod stages mark each init container done).
    (job,) = get_json(cluster, "jobs", "-n", PARTS_TENANT)["items"]
    pod = job["spec"]["template"]["spec"]
    assert [c["command"][0] for c in pod["initContainers"]] == ["/app/configure"]
    assert [c["command"] for c in pod["containers"]] == [AFTER]

    cluster.apply(parts_tenant(COMPONENT))
    wait_for(
        "the Job and the Configured condition gone",
        lambda: (
            (
                get_json(cluster, "jobs", "-n", PARTS_TENANT)["items"] == []
                and condition(get_json(cluster, "cgi", COMPONENT, "-n", PARTS_TENANT), "Configured")
                == {}
            )
            or None
        ),
        timeout=TIMEOUT,
    )
    assert _ready(PARTS_TENANT, cluster) is not None
