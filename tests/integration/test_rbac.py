"""The chart's RBAC proved, not assumed: the operator runs outside the cluster as the chart's
ServiceAccount (a token from the TokenRequest API, not the admin certificate) while tenants
converge, drift is repaired, a subscription is dropped and a tenant is deleted. Any missing
permission fails the test; rules the operator never used are listed and must be the explained
ones."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from cg_operator.handlers.observed import CHILD_KINDS
from tests.integration.conftest import OperatorProcess
from tests.support.cluster import REPO, Cluster, wait_for
from tests.support.configuration import COMPONENT as CONFIGURED
from tests.support.configuration import component as configure_component
from tests.support.configuration import (
    make_job_pods_unschedulable,
    remove_policy,
    wait_configured,
)
from tests.support.identity import chart_identity, service_account_kubeconfig

TIMEOUT = 240
NAMESPACE = "cg-rbac-proof"
# Rules the chart grants that these scenarios cannot exercise, and why each stays.
EXPLAINED_UNUSED = {
    # blockOwnerDeletion on children needs it where OwnerReferencesPermissionEnforcement runs
    # (OpenShift, hardened clusters); the local API server does not enforce it.
    ("municipalitytenants/finalizers", "update"),
    ("componentinstallations/finalizers", "update"),
    # Pruned only when the plan stops wanting one: replicas lowered to 1. Same prune path as
    # the deletes exercised here (a backing service's NetworkPolicy goes with the delivery
    # switch).
    ("poddisruptionbudgets", "delete"),
    # A failed configuration Job's log is read from a pod that ran and failed. KWOK's stages
    # only complete pods; the failure here is a deadline, after which the Job controller has
    # already removed its (never started) pod, so there is no log to read. The pods are listed.
    ("pods/log", "get"),
    # Read only to report an object whose passes keep failing (handlers/failures.py); none
    # fails in this run.
    ("cgcomponents", "get"),
    ("municipalitytenants", "get"),
    ("componentinstallations", "get"),
    # HTTPRoutes are written only with operator.exposure.mode httproute and the Gateway API
    # installed (tests/integration/test_exposure_httproute.py); this run uses Ingresses.
    ("httproutes", "create"),
    ("httproutes", "patch"),
    ("httproutes", "delete"),
}


def _json(cluster: Cluster, *args: str) -> Any:
    found = cluster.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(found.stdout) if found.returncode == 0 else {}


def _ready(cluster: Cluster, *args: str) -> bool:
    conditions = (_json(cluster, *args).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


ROLLOUT = {
    "apiVersion": "appstore.commonground.nl/v1alpha1",
    "kind": "ComponentRollout",
    "metadata": {"name": "rbac-proof"},
    "spec": {
        "component": "open-notificaties",
        "version": "1.16.2",
        "waves": [{"name": "all", "tenantSelector": {}, "bakeTime": "1s"}],
    },
}
QUOTA = {
    "requestsCpu": "4",
    "requestsMemory": "8Gi",
    # Open Zaak runs four processes (2 web, worker, beat) at a 2-CPU limit each.
    "limitsCpu": "20",
    "limitsMemory": "16Gi",
    "pods": 40,
    "defaultContainerCpu": "50m",
}


def tenant(
    name: str,
    code: str,
    *components: str | tuple[str, str],
    deletion: str = "Delete",
    quota: dict[str, Any] | None = None,
    domain: str | None = None,
) -> dict[str, Any]:
    """A tenant; a component is a name (container offering) or (name, offering)."""
    subscriptions = [
        {"name": c, "offering": "container"}
        if isinstance(c, str)
        else dict(zip(("name", "offering"), c, strict=True))
        for c in components
    ]
    spec: dict[str, Any] = {
        "municipality": {"name": name.removeprefix("t-rbac-").title(), "code": code},
        "ring": "volger",
        "namespace": name,
        "deletionPolicy": deletion,
        "components": subscriptions,
    }
    if quota:
        spec["quota"] = quota
    if domain:
        spec["domain"] = domain
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "MunicipalityTenant",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture(scope="module")
def as_service_account(
    cluster: Cluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    workdir = tmp_path_factory.mktemp("rbac")
    with service_account_kubeconfig(cluster, NAMESPACE, workdir) as kubeconfig:
        cluster.kubectl("apply", "--server-side", "-f", str(REPO / "examples" / "catalog"))
        proc = OperatorProcess(cluster, workdir / "operator.log", {"KUBECONFIG": str(kubeconfig)})
        try:
            wait_for("the operator live", proc.healthy, timeout=60)
            yield proc
        finally:
            for name in ("t-rbac-houten", "t-rbac-nieuwegein"):
                cluster.kubectl(
                    "delete", "mt", name, "--ignore-not-found", "--timeout=110s", check=False
                )
            proc.stop()
            # Houten's namespace is retained (deletionPolicy Retain): a rerun starts clean.
            cluster.kubectl(
                "delete",
                "namespace",
                "t-rbac-houten",
                "--ignore-not-found",
                "--timeout=110s",
                check=False,
            )


def _forbidden(proc: OperatorProcess) -> list[str]:
    return [
        line for line in proc.log().splitlines() if re.search(r'HTTP/1\.1" 403|[Ff]orbidden', line)
    ]


def test_the_operator_does_its_work_with_exactly_the_charts_permissions(
    cluster: Cluster, as_service_account: OperatorProcess
) -> None:
    proc = as_service_account
    houten = ("t-rbac-houten", "GM0321")
    cluster.apply(tenant(*houten, "open-notificaties", "open-zaak", deletion="Retain", quota=QUOTA))
    nieuwegein = ("t-rbac-nieuwegein", "GM0356")
    cluster.apply(tenant(*nieuwegein, "referentielijsten", domain="nieuwegein.example"))
    for name in ("t-rbac-houten", "t-rbac-nieuwegein"):
        wait_for(f"{name} Ready", lambda n=name: _ready(cluster, "mt", n), timeout=TIMEOUT)

    # Drift: a Deployment deleted by hand comes back.
    cluster.kubectl("delete", "deployment", "referentielijsten", "-n", "t-rbac-nieuwegein")
    wait_for(
        "the Deployment back",
        # {} is what a missing object reads as, and wait_for takes anything but None or False.
        lambda: (
            _json(cluster, "deployment", "referentielijsten", "-n", "t-rbac-nieuwegein") or None
        ),
        timeout=TIMEOUT,
    )
    # Someone else changes a field, twice: put back each time, one Event counted up (events
    # create, get and patch).
    for _round in range(2):
        cluster.kubectl(
            "patch",
            "deployment",
            "referentielijsten",
            "-n",
            "t-rbac-nieuwegein",
            "--type=merge",
            "-p",
            '{"spec": {"replicas": 2}}',
            "--field-manager=rbac-proof",
        )
        wait_for(
            "the replicas put back",
            lambda: (
                _json(cluster, "deployment", "referentielijsten", "-n", "t-rbac-nieuwegein")
                .get("spec", {})
                .get("replicas")
                == 1
            ),
            timeout=TIMEOUT,
        )
    wait_for(
        "the repair counted twice on one Event",
        lambda: any(
            e.get("reason") == "DriftRepaired" and e.get("count") == 2
            for e in _json(cluster, "events", "-n", "t-rbac-nieuwegein").get("items") or []
        ),
        timeout=TIMEOUT,
    )
    # Exposed under the tenant's domain: an Ingress.
    assert _json(cluster, "ingress", "referentielijsten", "-n", "t-rbac-nieuwegein")
    # Container -> SaaS: the workloads, settings, route and data (deletionPolicy Delete) are
    # pruned and the Service is replaced by an ExternalName one.
    saas = ("referentielijsten", "registerdiensten-saas")
    cluster.apply(tenant(*nieuwegein, saas, domain="nieuwegein.example"))
    wait_for(
        "the SaaS binding",
        lambda: (
            _json(cluster, "service", "referentielijsten", "-n", "t-rbac-nieuwegein")
            .get("spec", {})
            .get("type")
            == "ExternalName"
        ),
        timeout=TIMEOUT,
    )
    wait_for(
        "the route pruned",
        lambda: not _json(cluster, "ingress", "referentielijsten", "-n", "t-rbac-nieuwegein"),
        timeout=TIMEOUT,
    )
    # Unsubscribe under Retain: workloads go, data stays labelled retained; the quota goes.
    cluster.apply(tenant(*houten, "open-notificaties", deletion="Retain"))
    wait_for(
        "open-zaak gone and its claims retained",
        lambda: (
            not _json(cluster, "cgi", "open-zaak", "-n", "t-rbac-houten")
            and all(
                (c["metadata"].get("labels") or {}).get("appstore.commonground.nl/retained")
                for c in _json(
                    cluster,
                    "pvc",
                    "-n",
                    "t-rbac-houten",
                    "-l",
                    "appstore.commonground.nl/installation=open-zaak",
                ).get("items", [{"metadata": {}}])
            )
        ),
        timeout=TIMEOUT,
    )
    wait_for(
        "the quota gone",
        lambda: not _json(cluster, "resourcequota", "-n", "t-rbac-houten").get("items"),
        timeout=TIMEOUT,
    )
    # A municipality moves to the koplopers: its namespace is relabelled (a patch).
    moved = tenant(*houten, "open-notificaties", deletion="Retain")
    moved["spec"]["ring"] = "koploper"
    cluster.apply(moved)
    wait_for(
        "the namespace relabelled",
        lambda: (
            (_json(cluster, "namespace", "t-rbac-houten")["metadata"].get("labels") or {}).get(
                "appstore.commonground.nl/ring"
            )
            == "koploper"
        ),
        timeout=TIMEOUT,
    )
    # A rollout's progress is written to its status.
    cluster.apply(ROLLOUT)
    wait_for(
        "the rollout's progress",
        lambda: (_json(cluster, "cgr", "rbac-proof").get("status") or {}).get("tenants"),
        timeout=TIMEOUT,
    )
    cluster.kubectl("delete", "cgr", "rbac-proof")
    # A configuration Job that fails (its pods held Pending until its deadline): its pods are
    # listed and a log read for the reason; fixed, a new Job replaces it (jobs delete).
    policy = make_job_pods_unschedulable(cluster, "t-rbac-nieuwegein")
    try:
        cluster.apply(configure_component())
        cluster.apply(tenant(*nieuwegein, saas, CONFIGURED, domain="nieuwegein.example"))
        wait_configured(cluster, "t-rbac-nieuwegein", "ConfigurationFailed", TIMEOUT)
    finally:
        remove_policy(cluster, policy, "t-rbac-nieuwegein")
    cluster.apply(configure_component(data="site: {host}\nfixed: true\n", deadline=600))
    wait_configured(cluster, "t-rbac-nieuwegein", "Configured", TIMEOUT)
    # Deleting a tenant with deletionPolicy Delete removes its namespace.
    cluster.kubectl("delete", "mt", "t-rbac-nieuwegein", "--timeout=200s")
    cluster.kubectl("delete", "cgc", CONFIGURED)
    wait_for(
        "the namespace going",
        lambda: (
            not _json(cluster, "namespace", "t-rbac-nieuwegein")
            or _json(cluster, "namespace", "t-rbac-nieuwegein")["status"]["phase"] == "Terminating"
        ),
        timeout=TIMEOUT,
    )
    assert _forbidden(proc) == []
    assert proc.healthy()
    page = proc.metrics()
    assert 'code="403"' not in page

    granted = _granted(chart_identity(NAMESPACE))
    unused = granted - _used(page) - _watched()
    assert unused == EXPLAINED_UNUSED, f"rules never used: {sorted(unused - EXPLAINED_UNUSED)}"


def _granted(identity: list[dict[str, Any]]) -> set[tuple[str, str]]:
    role = next(o for o in identity if o["kind"] == "ClusterRole")
    return {
        (resource, verb)
        for rule in role["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _used(page: str) -> set[tuple[str, str]]:
    """(resource, RBAC verb) of every request the reconcilers made (cg_api_requests_total).
    A server-side apply is authorised as patch, and as create when it made the object (201)."""
    used = set()
    pattern = re.compile(r'^cg_api_requests_total\{code="(\d+)",resource="([^"]+)",verb="(\w+)"\}')
    for line in page.splitlines():
        match = pattern.match(line)
        if not match:
            continue
        code, resource, verb = match.groups()
        if verb == "apply":
            used.add((resource, "patch"))
            if code == "201":
                used.add((resource, "create"))
        else:
            used.add((resource, verb))
    return used


def _watched() -> set[tuple[str, str]]:
    """What kopf lists and watches: every child kind, our four kinds and the CRDs."""
    plurals = {k.plural for k in CHILD_KINDS} | {
        "cgcomponents",
        "municipalitytenants",
        "componentrollouts",
        "customresourcedefinitions",
    }
    return {(p, verb) for p in plurals for verb in ("list", "watch")}
