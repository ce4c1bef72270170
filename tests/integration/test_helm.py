"""`helm install` of charts/cg-operator into the real cluster, then `helm uninstall`.

The image does not matter: kwok runs no containers and reports the pod Ready, so the Deployment
becomes Available as it would on a real cluster with a pullable image. What is checked is what
Helm and the API server make of the chart: the objects exist with the spec the chart promises,
the ServiceAccount holds the ClusterRole's permissions, and uninstalling keeps the CRDs and the
objects people made.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.chart import helm_binary
from tests.support.cluster import REPO, Cluster, wait_for
from tests.support.identity import USER_ROLE_SUFFIXES

CHART = REPO / "charts" / "cg-operator"
GROUP = "appstore.commonground.nl"
CRD_NAMES = [
    f"{plural}.{GROUP}"
    for plural in (
        "cgcomponents",
        "municipalitytenants",
        "componentinstallations",
        "componentrollouts",
    )
]


@dataclass(frozen=True)
class Release:
    """An installed release: its name (also the resources' name), namespace and tools."""

    name: str
    namespace: str
    cluster: Cluster
    helm_home: Path
    crds_existed: frozenset[str]

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """helm against the test cluster, with config and cache in a temporary folder."""
        env = {
            **os.environ,
            "HELM_CONFIG_HOME": str(self.helm_home / "config"),
            "HELM_CACHE_HOME": str(self.helm_home / "cache"),
            "HELM_DATA_HOME": str(self.helm_home / "data"),
        }
        result = subprocess.run(
            [helm_binary(), "--kubeconfig", str(self.cluster.kubeconfig), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
        return result

    def get(self, kind: str, name: str, namespaced: bool = True) -> dict[str, Any] | None:
        """The live object as JSON (with managedFields), or None when it does not exist."""
        scope = ["-n", self.namespace] if namespaced else []
        found = self.cluster.kubectl(
            "get", kind, name, *scope, "-o", "json", "--show-managed-fields", check=False
        )
        return json.loads(found.stdout) if found.returncode == 0 else None

    def can(self, verb: str, resource: str, namespace: str | None = None) -> bool:
        """Whether the operator's ServiceAccount may `verb` `resource` in every namespace (or
        in `namespace`)."""
        account = f"system:serviceaccount:{self.namespace}:{self.name}"
        where = ["-n", namespace] if namespace else ["--all-namespaces"]
        answer = self.cluster.kubectl(
            "auth", "can-i", verb, resource, *where, "--as", account, check=False
        )
        return answer.stdout.strip() == "yes"


def _existing_crds(cluster: Cluster) -> frozenset[str]:
    listed = cluster.kubectl("get", "crd", "-o", "name").stdout.split()
    names = {n.removeprefix("customresourcedefinition.apiextensions.k8s.io/") for n in listed}
    return frozenset(names & set(CRD_NAMES))


@pytest.fixture(scope="module")
def release(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    """The chart installed (and waited for) as a fresh release in a fresh namespace."""
    suffix = uuid.uuid4().hex[:6]
    installed = Release(
        name=f"cg-operator-{suffix}",
        namespace=f"cg-helm-{suffix}",
        cluster=cluster,
        helm_home=tmp_path_factory.mktemp("helm"),
        crds_existed=_existing_crds(cluster),
    )
    installed.helm(
        "install",
        installed.name,
        str(CHART),
        "--namespace",
        installed.namespace,
        "--create-namespace",
        "--set",
        "image.repository=registry.example.org/platform/cg-operator",
        "--wait",
        "--timeout",
        "180s",
    )
    yield installed
    installed.helm("uninstall", installed.name, "--namespace", installed.namespace, check=False)
    cluster.kubectl("delete", "namespace", installed.namespace, "--wait=false", check=False)


def test_the_deployment_becomes_available_as_the_chart_describes_it(release: Release) -> None:
    def available() -> dict[str, Any] | None:
        deployment = release.get("deployment", release.name)
        conditions = {
            c["type"]: c["status"]
            for c in (deployment or {}).get("status", {}).get("conditions", [])
        }
        return deployment if conditions.get("Available") == "True" else None

    deployment = wait_for("the operator Deployment to be Available", available, timeout=120)
    spec = deployment["spec"]
    # Two pods, one leading by the Lease; a rolling update keeps one Ready throughout.
    assert spec["replicas"] == 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == release.name
    assert pod["automountServiceAccountToken"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    [operator] = pod["containers"]
    assert operator["image"] == "registry.example.org/platform/cg-operator:0.1.0"
    assert operator["command"] == ["cg-operator", "run"]
    args = operator["args"]
    assert args[:4] == [
        "--liveness",
        "http://0.0.0.0:8080/healthz",
        "--metrics-address",
        "0.0.0.0:8081",
    ]
    assert operator["securityContext"]["readOnlyRootFilesystem"] is True
    assert operator["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert operator["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert deployment["status"]["availableReplicas"] == 2


def test_the_service_account_and_metrics_service_exist(release: Release) -> None:
    account = release.get("serviceaccount", release.name)
    assert account is not None
    assert account["automountServiceAccountToken"] is False
    service = release.get("service", f"{release.name}-metrics")
    assert service is not None
    assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [("metrics", 8081)]
    pods = release.cluster.kubectl(
        "get",
        "pods",
        "-n",
        release.namespace,
        "-l",
        ",".join(f"{k}={v}" for k, v in service["spec"]["selector"].items()),
        "-o",
        "name",
    ).stdout.split()
    assert len(pods) == 2, "the metrics Service selects the operator pods (leader and standby)"


def test_the_cluster_role_is_bound_to_the_operator_account(release: Release) -> None:
    role = release.get("clusterrole", release.name, namespaced=False)
    binding = release.get("clusterrolebinding", release.name, namespaced=False)
    assert role is not None
    assert binding is not None
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": release.name,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": release.name, "namespace": release.namespace}
    ]
    for rule in role["rules"]:
        assert not any("*" in v for values in rule.values() for v in values), rule
    for suffix in USER_ROLE_SUFFIXES:
        assert release.get("clusterrole", f"{release.name}{suffix}", namespaced=False)


def test_the_api_server_grants_the_account_what_the_operator_does_and_no_more(
    release: Release,
) -> None:
    for verb, resource in [
        ("patch", "deployments.apps"),
        ("create", "statefulsets.apps"),
        ("watch", "secrets"),
        ("get", "secrets"),
        ("delete", "namespaces"),
        ("patch", f"componentinstallations.{GROUP}/status"),
        ("list", f"cgcomponents.{GROUP}"),
        ("create", "events"),
    ]:
        assert release.can(verb, resource), f"{verb} {resource}"
    for verb, resource in [
        ("create", "pods"),
        ("patch", f"cgcomponents.{GROUP}"),
        ("update", "secrets"),
        ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
        ("get", "services/proxy"),
        ("delete", "nodes"),
    ]:
        assert not release.can(verb, resource), f"{verb} {resource}"
    # Leader election: its own Lease in the release namespace, nobody else's.
    lease = f"leases.coordination.k8s.io/{release.name}-leader"
    assert release.can("update", lease, release.namespace)
    assert release.can("create", "leases.coordination.k8s.io", release.namespace)
    assert not release.can("update", "leases.coordination.k8s.io/other", release.namespace)
    assert not release.can("update", lease, "kube-system")


def test_uninstall_keeps_the_crds_and_what_people_made(release: Release) -> None:
    # The CRDs came from the chart's crds/ unless something (another test) installed them first.
    for name in CRD_NAMES:
        crd = release.get("crd", name, namespaced=False)
        assert crd is not None, f"{name} is not installed"
        if name not in release.crds_existed:
            managers = {m["manager"] for m in crd["metadata"].get("managedFields", [])}
            assert "helm" in managers, f"{name} was not created by helm: {managers}"
    release.cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{n}" for n in CRD_NAMES]
    )
    tenant = f"gm9999-helm-{release.name[-6:]}"
    release.cluster.apply(
        {
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "MunicipalityTenant",
            "metadata": {"name": tenant},
            "spec": {
                "municipality": {"name": "Helmdorp", "code": "GM9999"},
                "ring": "volger",
                "components": [],
            },
        }
    )
    try:
        release.helm("uninstall", release.name, "--namespace", release.namespace, "--wait")
        assert release.get("deployment", release.name) is None
        assert release.get("clusterrole", release.name, namespaced=False) is None
        assert release.get("clusterrolebinding", release.name, namespaced=False) is None
        for name in CRD_NAMES:
            assert release.get("crd", name, namespaced=False) is not None, f"{name} was removed"
        assert release.get("municipalitytenant", tenant, namespaced=False) is not None
    finally:
        release.cluster.kubectl("delete", "municipalitytenant", tenant, "--wait=false", check=False)
