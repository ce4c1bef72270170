"""`kubectl cg` against the real control plane, as a script would use it: the catalogue and
tenants as the API server prints them, a municipality subscribed and unsubscribed, a status
whose exit code says Ready or not, a rollout's wave approved by a delivery organisation (the
chart's role, through a TokenRequest token) who may not subscribe anyone."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import OperatorProcess
from tests.support.appstore import RING_LABEL, approval_rollout, make_tenant, with_second_version
from tests.support.chart import render
from tests.support.cluster import Cluster, get_json, wait_for
from tests.support.configuration import entry
from tests.support.identity import token_kubeconfig

COMPONENT = "cli-test"
KOPLOPER, VOLGER = "t-cli-almere", "t-cli-zwolle"
ROLLOUT = "cli-test-1-1"
DELIVERY = "t-cli-delivery"
TIMEOUT = 120


def run(
    cluster: Cluster, *args: str, kubeconfig: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`kubectl cg ARGS` as kubectl runs the plugin: the installed kubectl-cg on the PATH."""
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "kubectl-cg"),
            *args,
            "--kubeconfig",
            str(kubeconfig or cluster.kubeconfig),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def component() -> dict[str, Any]:
    return with_second_version(entry(COMPONENT))


def rollout() -> dict[str, Any]:
    return approval_rollout(ROLLOUT, COMPONENT, "1.1.0", {RING_LABEL: "koploper"})


@pytest.fixture(scope="module")
def store(cluster: Cluster, module_operator: OperatorProcess) -> Iterator[None]:
    cluster.apply(component())
    cluster.apply(make_tenant(KOPLOPER, "koploper", "GM0741", COMPONENT))
    cluster.apply(make_tenant(VOLGER, "volger", "GM0742"))
    yield
    cluster.kubectl("delete", "cgr", ROLLOUT, "--ignore-not-found")
    cluster.kubectl("delete", "mt", KOPLOPER, VOLGER, "--ignore-not-found", "--timeout=90s")
    cluster.kubectl("delete", "cgc", COMPONENT, "--ignore-not-found")


@pytest.fixture(scope="module")
def delivery_organisation(
    cluster: Cluster, store: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A kubeconfig acting as a ServiceAccount bound to the chart's delivery-organisation role."""
    (role,) = [
        o
        for o in render(None)
        if o["kind"] == "ClusterRole" and o["metadata"]["name"].endswith("-delivery-organisation")
    ]
    role["metadata"] = {"name": DELIVERY}
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": DELIVERY},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": DELIVERY,
        },
        "subjects": [{"kind": "ServiceAccount", "name": DELIVERY, "namespace": DELIVERY}],
    }
    cluster.kubectl("create", "namespace", DELIVERY, check=False)
    cluster.kubectl("create", "serviceaccount", DELIVERY, "-n", DELIVERY, check=False)
    cluster.apply(role)
    cluster.apply(binding)
    token = cluster.kubectl("create", "token", DELIVERY, "-n", DELIVERY).stdout.strip()
    yield token_kubeconfig(cluster, token, tmp_path_factory.mktemp("delivery") / "kubeconfig")
    cluster.kubectl("delete", "clusterrolebinding,clusterrole", DELIVERY, "--ignore-not-found")
    cluster.kubectl("delete", "namespace", DELIVERY, "--ignore-not-found", "--wait=false")


def test_the_catalogue_and_tenants_print_with_the_servers_columns(
    cluster: Cluster, store: None
) -> None:
    table = run(cluster, "catalog")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "DISPLAY", "NAME"]  # the CRD's printer columns
    assert any(r.startswith(COMPONENT + " ") for r in rows)
    listed = run(cluster, "tenants", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    names = {t["metadata"]["name"] for t in json.loads(listed.stdout)}
    assert {KOPLOPER, VOLGER} <= names
    bare = run(cluster, "tenants", "--no-headers")
    assert not bare.stdout.startswith("NAME")


def test_status_exit_codes_say_ready_not_ready_and_not_found(cluster: Cluster, store: None) -> None:
    wait_for(
        "the koploper Ready",
        lambda: run(cluster, "status", KOPLOPER).returncode == 0 or None,
        timeout=TIMEOUT,
    )
    (row,) = json.loads(run(cluster, "status", KOPLOPER, "-o", "json").stdout)
    assert (row["component"], row["version"], row["ready"]) == (COMPONENT, "1.0.0", "True")
    empty = run(cluster, "status", VOLGER)
    assert empty.returncode == 3, "a municipality with nothing Ready is not Ready"
    missing = run(cluster, "status", "t-cli-nowhere")
    assert missing.returncode == 4
    assert "not found" in missing.stderr


def test_subscribe_and_unsubscribe_a_municipality(cluster: Cluster, store: None) -> None:
    done = run(cluster, "subscribe", VOLGER, COMPONENT, "--version", "1.0.0")
    assert done.returncode == 0, done.stderr
    assert f"{VOLGER} subscribes to {COMPONENT}" in done.stdout
    wait_for(
        "the new installation Ready",
        lambda: run(cluster, "status", VOLGER).returncode == 0 or None,
        timeout=TIMEOUT,
    )
    again = run(cluster, "subscribe", VOLGER, COMPONENT)
    assert again.returncode == 1
    assert "already subscribes" in again.stderr
    fleet = json.loads(run(cluster, "fleet", COMPONENT, "-o", "json").stdout)
    # Read from the server's Table rows of this component's installations only (a field
    # selector): versions, Ready and the tenant that places each in its ring.
    assert fleet["total"] == 2
    assert fleet["ready"] == 2
    assert [r["ring"] for r in fleet["rings"]] == ["koploper", "volger"]
    assert [(r["tenants"][0][0], r["tenants"][0][2]) for r in fleet["rings"]] == [
        (KOPLOPER, "True"),
        (VOLGER, "True"),
    ]
    assert fleet["rings"][1]["versions"] == {"1.0.0": 1}

    unconfirmed = run(cluster, "unsubscribe", VOLGER, COMPONENT)
    assert unconfirmed.returncode == 2
    assert "deleted (deletionPolicy Delete)" in unconfirmed.stderr
    assert run(cluster, "unsubscribe", VOLGER, COMPONENT, "--yes").returncode == 0
    wait_for(
        "the installation removed",
        lambda: get_json(cluster, "cgi", COMPONENT, "-n", VOLGER) == {} or None,
        timeout=TIMEOUT,
    )


def test_a_delivery_organisation_approves_a_wave_but_cannot_subscribe(
    cluster: Cluster, store: None, delivery_organisation: Path
) -> None:
    cluster.apply(rollout())
    as_delivery = {"kubeconfig": delivery_organisation}
    wait_for(
        "the wave waiting for approval",
        lambda: (
            "waits for spec.approvedWaves" in run(cluster, "rollout", "status", ROLLOUT).stdout
            or None
        ),
        timeout=TIMEOUT,
    )
    waiting = run(cluster, "rollout", "status", ROLLOUT, **as_delivery)
    assert waiting.returncode == 3, waiting.stdout + waiting.stderr

    refused = run(cluster, "subscribe", VOLGER, COMPONENT, **as_delivery)
    assert refused.returncode == 5
    assert "not allowed" in refused.stderr
    assert "municipalitytenants" in refused.stderr

    approved = run(
        cluster, "rollout", "approve-wave", ROLLOUT, "--wave", "koplopers", **as_delivery
    )
    assert approved.returncode == 0, approved.stderr
    watched = run(cluster, "rollout", "status", ROLLOUT, "--watch", **as_delivery)
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert "Complete" in watched.stdout
    (row,) = json.loads(run(cluster, "status", KOPLOPER, "-o", "json").stdout)
    assert row["version"] == "1.1.0"
