"""The Helm chart (charts/cg-operator), rendered by the real helm binary without a cluster.

Linted and rendered with the default values and with tests/data/chart/full-values.yaml (every
switch on); every rendered object is validated against the Kubernetes 1.36 schema, strictly.
The operator's ClusterRole must cover what the code does and nothing more, with no wildcard;
the pod must be restricted; the values schema must reject what it does not know, naming the
key; the chart's copies of the CRDs and monitoring files and its values reference must be fresh.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from cg_operator.api.component import BackingServiceType
from cg_operator.api.constants import GROUP, LABEL_SHARD
from cg_operator.cli import (
    backing_images,
    build_parser,
    election_settings,
    exposure_settings,
    health_config,
)
from cg_operator.cli import (
    shard as shard_of_args,
)
from cg_operator.handlers.observed import CHILD_KINDS
from cg_operator.k8s.election import ElectionTiming
from cg_operator.reconcile.backing import BackingImages
from cg_operator.reconcile.exposure import ExposureMode, ExposureSettings, GatewayRef
from tests.support.chart import CHART, KUBE_VERSION, NAMESPACE, helm, render, template_args

# Every test here renders or lints the chart with the real helm binary.
pytestmark = pytest.mark.tools

REPO = Path(__file__).resolve().parents[2]
FULL_VALUES = REPO / "tests" / "data" / "chart" / "full-values.yaml"
OWN_PLURALS = ("cgcomponents", "municipalitytenants", "componentinstallations", "componentrollouts")
# Kinds defined by the Prometheus Operator's CRDs: not in the Kubernetes schema.
CRD_KINDS = {
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
}
VALUES = {"default": None, "full": FULL_VALUES}


def render_set(*settings: str) -> list[dict[str, Any]]:
    """Render with the defaults plus `--set` settings."""
    extra: list[str] = []
    for setting in settings:
        extra += ["--set", setting]
    return render(None, *extra)


@pytest.fixture(scope="module", params=list(VALUES), ids=list(VALUES))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    """(name of the values, the rendered objects) for the defaults and the full values file."""
    name = str(request.param)
    return name, render(VALUES[name])


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The single object of a kind (and name) among objects; without a name, the operator's
    (the App Store page's objects, named <fullname>-appstore, are taken by name)."""
    found = [
        o
        for o in objects
        if o["kind"] == kind
        and (
            o["metadata"]["name"] == name
            if name is not None
            else not o["metadata"]["name"].endswith("-appstore")
        )
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def operator_role(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The operator's ClusterRole: the one the release's ClusterRoleBinding to the
    operator's ServiceAccount names."""
    deployment = one(objects, "Deployment")
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    bindings = [
        b
        for b in objects
        if b["kind"] == "ClusterRoleBinding"
        and any(
            s["kind"] == "ServiceAccount" and s["name"] == account and s["namespace"] == NAMESPACE
            for s in b["subjects"]
        )
    ]
    assert len(bindings) == 1, "exactly one ClusterRoleBinding names the operator's account"
    return one(objects, "ClusterRole", bindings[0]["roleRef"]["name"])


def allows(role: dict[str, Any], group: str, resource: str, verb: str) -> bool:
    """Whether the role's rules grant verb on group/resource."""
    return any(
        group in rule.get("apiGroups", [])
        and resource in rule.get("resources", [])
        and verb in rule.get("verbs", [])
        for rule in role["rules"]
    )


def granted(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    """Every (group, resource, verb) the role grants."""
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The operator container of the Deployment."""
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1
    return dict(pod["containers"][0])


# --- lint and schema validity --------------------------------------------------------------


@pytest.mark.parametrize("values", list(VALUES))
def test_helm_lint_passes_strictly(values: str) -> None:
    args = ["lint", str(CHART), "--strict", "--kube-version", KUBE_VERSION]
    if VALUES[values] is not None:
        args += ["--values", str(VALUES[values])]
    result = helm(*args)
    assert "0 chart(s) failed" in result.stdout


def test_every_rendered_object_is_valid_kubernetes_1_36(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _name, objects = rendered
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            # Defined by the Prometheus Operator's CRDs, not by Kubernetes.
            assert obj["apiVersion"] == CRD_KINDS[obj["kind"]], obj["kind"]
            assert obj["metadata"]["namespace"] == NAMESPACE
            assert obj["spec"]
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {error}")


def test_the_crds_in_the_chart_are_valid_and_are_the_four_kinds() -> None:
    crds = [o for o in render(None, "--include-crds") if o["kind"] == "CustomResourceDefinition"]
    for crd in crds:
        kubernetes_validate.validate(crd, KUBE_VERSION, strict=True)
    assert sorted(c["spec"]["names"]["plural"] for c in crds) == sorted(OWN_PLURALS)
    assert {c["spec"]["group"] for c in crds} == {GROUP}


def test_defaults_render_the_operator_and_its_rbac_and_no_optional_extras() -> None:
    objects = render(None)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(
        ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service", "Deployment"]
        # Two replicas, one leading: its Lease's Role, and a budget for node drains.
        + ["Role", "RoleBinding", "PodDisruptionBudget"]
        + ["ClusterRole"] * 4  # viewer, delivery organisation, catalogue editor, platform team
        # A municipality's changes to its own tenant limited to its subscriptions and approvals.
        + ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
    )
    assert all(o["metadata"].get("namespace") in (None, NAMESPACE) for o in objects)


def test_the_chart_refuses_kubernetes_older_than_1_30() -> None:
    result = helm("template", "x", str(CHART), "--kube-version", "1.29.9", check=False)
    assert result.returncode != 0
    assert ">=1.30.0-0" in result.stderr


def test_app_version_is_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == project["version"]
    assert chart["kubeVersion"] == ">=1.30.0-0"


# --- the Deployment --------------------------------------------------------------------------


def test_two_replicas_one_leading_updated_without_a_gap(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    objects = rendered[1]
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2
    # The new pod (a standby, Ready) starts before the old one stops and hands the Lease over.
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    spread = pod["topologySpreadConstraints"][0]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"]["matchLabels"] == selector
    budget = one(objects, "PodDisruptionBudget")
    assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": selector}}
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}) for e in container(objects)["env"]}
    assert env["POD_NAMESPACE"] == {"fieldPath": "metadata.namespace"}
    assert env["POD_NAME"] == {"fieldPath": "metadata.name"}
    assert "--leader-elect" in container(objects)["args"]


def test_without_leader_election_one_replica_is_recreated_never_two_at_once() -> None:
    objects = render_set("leaderElection.enabled=false", "replicas=1")
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert "--leader-elect" not in container(objects)["args"]
    assert not [o for o in objects if o["kind"] in ("Role", "RoleBinding", "PodDisruptionBudget")]
    refused = helm(
        *template_args(None, "--set", "leaderElection.enabled=false", "--set", "replicas=2"),
        check=False,
    )
    assert refused.returncode != 0
    assert "replicas above 1 needs leaderElection.enabled" in refused.stderr


def test_in_the_nodes_network_the_old_pod_stops_first() -> None:
    # Ports 8080 and 8081 are the node's: a new pod on the same node could not bind them.
    deployment = one(render_set("podNetwork.hostNetwork=true", "replicas=1"), "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_lease_durations_the_client_would_refuse_are_refused() -> None:
    for settings, message in [
        (("leaderElection.renewDeadline=10",), "less than leaderElection.leaseDuration"),
        (("leaderElection.retryPeriod=6",), "1.2 x leaderElection.retryPeriod"),
    ]:
        extra = [arg for setting in settings for arg in ("--set", setting)]
        refused = helm(*template_args(None, *extra), check=False)
        assert refused.returncode != 0, settings
        assert message in refused.stderr, refused.stderr


def test_the_operator_may_hold_its_own_lease_and_no_other(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    objects = rendered[1]
    deployment = one(objects, "Deployment")
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    args = container(objects)["args"]
    lease = args[args.index("--leader-election-id") + 1]
    name = deployment["metadata"]["name"] + "-leader-election"
    role = one(objects, "Role", name)
    assert role["metadata"]["namespace"] == NAMESPACE
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [lease],
            "verbs": ["get", "update"],
        },
    ]
    binding = one(objects, "RoleBinding", name)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": name,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
    ]


def test_the_pod_is_restricted(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    pod = one(rendered[1], "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is True
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(host), host
    security = container(rendered[1])["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 65532
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not security.get("privileged")
    # A writable /tmp, since the root filesystem is read-only.
    mounts = {m["mountPath"]: m["name"] for m in container(rendered[1])["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]  # noqa: S108 - the pod's path, not ours
    assert all("hostPath" not in v for v in volumes.values())


def test_probes_ask_kopfs_health_endpoint(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    spec = container(rendered[1])
    ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
    assert ports == {"health": 8080, "metrics": 8081}
    for probe in ("livenessProbe", "readinessProbe"):
        get = spec[probe]["httpGet"]
        assert get["path"] == "/healthz"
        assert ports.get(get["port"], get["port"]) == 8080


def test_the_operator_cli_accepts_the_rendered_arguments(
    rendered: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = container(rendered[1])
    assert spec["command"] == ["cg-operator", "run"]
    monkeypatch.setenv("POD_NAMESPACE", NAMESPACE)  # from the downward API in the pod
    args = build_parser().parse_args(["run", *spec["args"]])
    election = election_settings(args)  # durations the client refuses fail here
    assert election is not None
    assert election.namespace == NAMESPACE
    assert election.timing == ElectionTiming()
    health = health_config(args)  # a CIDR the operator would refuse fails here
    exposure = exposure_settings(args)  # so does an incomplete exposure choice
    images = backing_images(args)  # and an image key naming no backing service
    assert args.liveness == "http://0.0.0.0:8080/healthz"
    assert args.metrics_address == "0.0.0.0:8081"
    if rendered[0] == "default":
        assert args.namespace == []
        assert not args.verbose
        assert (args.probe_interval, args.probe_timeout) == (30.0, 5.0)
        assert (args.probe_concurrency, args.probe_status_refresh) == (16, 600.0)
        assert args.probe_allow_cidr == []
        assert args.container_probe == "auto"
        assert args.cluster_domain == "cluster.local"
        assert exposure == ExposureSettings(mode=ExposureMode.INGRESS)
        assert images == BackingImages()
    else:
        assert args.namespace == ["gm0363-amsterdam", "gm0518-den-haag"]
        assert args.verbose
        assert (args.probe_interval, args.probe_timeout) == (15.0, 2.5)
        assert (args.probe_concurrency, args.probe_status_refresh) == (8, 300.0)
        assert args.probe_allow_cidr == ["10.20.0.0/16", "fd00::/8"]
        assert len(health.prober.policy.allowed_networks) == 2
        assert args.container_probe == "proxy"
        assert args.cluster_domain == "cluster.example"
        assert exposure.mode is ExposureMode.HTTPROUTE
        assert exposure.gateway == GatewayRef("gateways", "public", "https")
        assert exposure.tls_secret == "wildcard-gemeenten"  # noqa: S105 - a Secret name
        assert exposure.extra_domains == ("gemeenten.example.nl",)
        assert exposure.ingress_namespaces == ("gateways",)
        assert images.lookup(BackingServiceType.POSTGRESQL, None, "17") == (
            "registry.gemeenten.example/library/postgres@sha256:" + "0" * 64
        )
        assert images.lookup(BackingServiceType.REDIS, None, "7") == (
            "registry.gemeenten.example/library/redis:7"
        )


def test_image_defaults_to_the_app_version_and_takes_a_digest() -> None:
    assert container(render(None))["image"] == "cg-operator:0.1.0"
    full = container(render(FULL_VALUES))
    assert full["image"] == (
        "registry.example.org/platform/cg-operator:0.1.0@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )
    assert full["imagePullPolicy"] == "Always"


def test_scheduling_values_reach_the_pod() -> None:
    pod = one(render(FULL_VALUES), "Deployment")["spec"]["template"]
    spec = pod["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert spec["tolerations"][0]["key"] == "dedicated"
    assert set(spec["affinity"]) == {"nodeAffinity", "podAntiAffinity"}
    assert spec["priorityClassName"] == "system-cluster-critical"
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["metadata"]["annotations"] == {"example.org/owner": "platform-team"}
    assert pod["metadata"]["labels"]["team"] == "platform"
    assert container(render(FULL_VALUES))["resources"] == {
        "requests": {"cpu": "250m", "memory": "384Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }


def test_a_pod_label_cannot_break_the_selector() -> None:
    objects = render_set("podLabels.app\\.kubernetes\\.io/name=other")
    deployment = one(objects, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "cg-operator"


def test_an_empty_resource_value_is_left_out() -> None:
    resources = container(render(None))["resources"]
    assert resources == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"memory": "1536Mi"},
    }


# --- RBAC -------------------------------------------------------------------------------------


def test_no_role_has_a_wildcard(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    roles = [o for o in rendered[1] if o["kind"] in ("ClusterRole", "Role")]
    assert roles
    for role in roles:
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
                assert not any("*" in item for item in rule.get(field, [])), (
                    f"{role['metadata']['name']}: wildcard in {field}: {rule}"
                )


def test_the_operator_may_do_what_its_code_does(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    role = operator_role(rendered[1])
    # Every child kind is watched (kopf, label selector), applied (server-side apply: patch,
    # and create when absent) and pruned, except the tenant's workload ServiceAccount, which is
    # wanted as long as the tenant exists (the namespace takes it along).
    for kind in CHILD_KINDS:
        for verb in ("list", "watch", "create", "patch", "delete"):
            if (kind.plural, verb) == ("serviceaccounts", "delete"):
                assert not allows(role, kind.group, kind.plural, verb), "delete serviceaccounts"
                continue
            assert allows(role, kind.group, kind.plural, verb), f"{verb} {kind.plural}"
    for plural in OWN_PLURALS:
        for verb in ("list", "watch"):
            assert allows(role, GROUP, plural, verb), f"{verb} {plural}"
        assert allows(role, GROUP, f"{plural}/status", "patch"), f"patch {plural}/status"
    # Finalizer and ring label of tenants.
    assert allows(role, GROUP, "municipalitytenants", "patch")
    # Claims: shared Data volumes applied, those of embedded services listed by label,
    # labelled retained, deleted.
    for verb in ("list", "patch", "delete"):
        assert allows(role, "", "persistentvolumeclaims", verb)
    # Reads by name: credentials and passwords, a namespace that may belong to someone else.
    assert allows(role, "", "secrets", "get")
    assert allows(role, "", "namespaces", "get")
    assert allows(role, "", "events", "create")
    for verb in ("list", "watch"):
        assert allows(role, "apiextensions.k8s.io", "customresourcedefinitions", verb)


def test_the_operator_may_do_nothing_more(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    role = operator_role(rendered[1])
    grants = granted(role)
    verbs = {verb for _g, _r, verb in grants}
    assert verbs <= {"get", "list", "watch", "create", "patch", "delete", "update"}
    # update only where blockOwnerDeletion needs it: the owners' finalizers.
    assert {(g, r) for g, r, v in grants if v == "update"} == {
        (GROUP, "municipalitytenants/finalizers"),
        (GROUP, "componentinstallations/finalizers"),
    }
    for group, resource in [
        ("", "pods"),
        ("", "nodes"),
        ("", "pods/exec"),
        ("", "serviceaccounts/token"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
    ]:
        writes = {v for g, r, v in grants if (g, r) == (group, resource)} - {"list", "watch"}
        assert not writes, f"{resource}: {writes}"
    # The catalogue and rollouts are only read (also by name: a rollout's progress, a failing
    # entry's conditions); their status is written.
    assert {v for g, r, v in grants if (g, r) == (GROUP, "cgcomponents")} == {
        "get",
        "list",
        "watch",
    }
    rollouts = {v for g, r, v in grants if (g, r) == (GROUP, "componentrollouts")}
    assert rollouts == {"get", "list", "watch"}
    # No kopf peering objects: the operator runs standalone.
    assert not any("peering" in r for _g, r, _v in grants)
    # Nothing is deleted in bulk.
    assert "deletecollection" not in verbs


def test_the_service_proxy_is_granted_only_for_proxy_probes() -> None:
    assert not allows(operator_role(render(None)), "", "services/proxy", "get")
    for mode in ("direct", "off", "auto"):
        objects = render_set(f"operator.probes.containerProbe={mode}")
        assert not allows(operator_role(objects), "", "services/proxy", "get"), mode
    proxied = render_set("operator.probes.containerProbe=proxy")
    assert allows(operator_role(proxied), "", "services/proxy", "get")


def test_the_binding_names_the_operator_account_and_role(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    objects = rendered[1]
    account = one(objects, "ServiceAccount")
    deployment = one(objects, "Deployment")
    assert (
        deployment["spec"]["template"]["spec"]["serviceAccountName"]
        == (account["metadata"]["name"])
    )
    assert account["metadata"]["namespace"] == NAMESPACE
    role = operator_role(objects)
    assert role["metadata"]["name"] == deployment["metadata"]["name"]


def test_rbac_and_service_account_can_be_left_to_someone_else() -> None:
    objects = render_set(
        "rbac.create=false", "serviceAccount.create=false", "serviceAccount.name=ops"
    )
    assert not [o for o in objects if o["kind"] in ("ServiceAccount", "ClusterRoleBinding")]
    assert one(objects, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "ops"
    missing = helm(*template_args(None, "--set", "serviceAccount.create=false"), check=False)
    assert missing.returncode != 0
    assert "serviceAccount.name is required" in missing.stderr


def _user_role(objects: list[dict[str, Any]], suffix: str) -> dict[str, Any]:
    return one(objects, "ClusterRole", f"{one(objects, 'Deployment')['metadata']['name']}-{suffix}")


def test_the_viewer_reads_every_kind_and_is_part_of_view() -> None:
    objects = render(None)
    viewer = _user_role(objects, "viewer")
    assert granted(viewer) == {
        (GROUP, plural, verb) for plural in OWN_PLURALS for verb in ("get", "list", "watch")
    }
    labels = viewer["metadata"]["labels"]
    assert labels["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    for role in ("delivery-organisation", "catalogue-editor"):
        assert not any(
            k.startswith("rbac.authorization.k8s.io/aggregate")
            for k in _user_role(objects, role)["metadata"]["labels"]
        ), role
    unaggregated = _user_role(render_set("userRoles.aggregateToView=false"), "viewer")
    assert "rbac.authorization.k8s.io/aggregate-to-view" not in unaggregated["metadata"]["labels"]


@pytest.mark.parametrize(
    ("suffix", "managed"),
    [("delivery-organisation", "componentrollouts"), ("catalogue-editor", "cgcomponents")],
)
def test_a_team_role_manages_its_kind_and_reads_the_rest(suffix: str, managed: str) -> None:
    role = _user_role(render(None), suffix)
    grants = granted(role)
    manage = {"get", "list", "watch", "create", "update", "patch", "delete"}
    assert {v for g, r, v in grants if (g, r) == (GROUP, managed)} == manage
    assert {v for g, r, v in grants if (g, r) == (GROUP, f"{managed}/status")} == {"get"}
    for plural in set(OWN_PLURALS) - {managed}:
        assert {v for g, r, v in grants if (g, r) == (GROUP, plural)} == {"get", "list", "watch"}
    assert {g for g, _r, _v in grants} == {GROUP}
    assert {r for _g, r, _v in grants} == {*OWN_PLURALS, f"{managed}/status"}


def test_the_platform_team_manages_municipalities_in_full_and_the_catalogue_and_rollouts() -> None:
    grants = granted(_user_role(render(None), "platform-team"))
    change = {"get", "list", "watch", "create", "update", "patch", "delete"}
    # "manage": what the tenant self-service policy asks for a ring, quota or deletion policy.
    assert {v for g, r, v in grants if r == "municipalitytenants"} == {*change, "manage"}
    for plural in ("cgcomponents", "componentrollouts"):
        assert {v for g, r, v in grants if r == plural} == change
    # The operator makes the installations; a person changing one would fight it.
    assert {v for g, r, v in grants if r == "componentinstallations"} == {"get", "list", "watch"}
    assert {v for g, r, v in grants if r.endswith("/status")} == {"get"}
    assert {g for g, _r, _v in grants} == {GROUP}


def test_team_roles_are_bound_to_the_subjects_given() -> None:
    objects = render(FULL_VALUES)
    bindings = {b["roleRef"]["name"]: b for b in objects if b["kind"] == "ClusterRoleBinding"}
    delivery = bindings["cg-appstore-operator-delivery-organisation"]["subjects"]
    assert delivery == [
        {"kind": "Group", "name": "leverancier-acme", "apiGroup": "rbac.authorization.k8s.io"},
        {"kind": "ServiceAccount", "name": "rollout-bot", "namespace": "ci"},
    ]
    editors = bindings["cg-appstore-operator-catalogue-editor"]["subjects"]
    assert editors == [
        {"kind": "User", "name": "steward@example.org", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    platform = bindings["cg-appstore-operator-platform-team"]["subjects"]
    assert platform == [
        {"kind": "Group", "name": "platform-team", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    assert not [b for b in render(None) if b["kind"] == "ClusterRoleBinding"][1:]


# --- the optional monitoring and network objects ------------------------------------------------


def test_the_metrics_service_selects_the_pod_on_port_8081() -> None:
    objects = render(None)
    service = one(objects, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8081, "targetPort": "metrics", "protocol": "TCP"}
    ]
    pod_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert not [o for o in render_set("metrics.service.enabled=false") if o["kind"] == "Service"]


def test_the_service_monitor_scrapes_the_metrics_service() -> None:
    objects = render(FULL_VALUES)
    monitor = one(objects, "ServiceMonitor")
    service = one(objects, "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}
    ]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    lonely = helm(
        *template_args(
            None,
            "--set",
            "metrics.serviceMonitor.enabled=true",
            "--set",
            "metrics.service.enabled=false",
        ),
        check=False,
    )
    assert lonely.returncode != 0
    assert "metrics.service.enabled" in lonely.stderr


def test_the_prometheus_rule_carries_the_alerts_unchanged() -> None:
    rule = one(render(FULL_VALUES), "PrometheusRule")
    alerts = yaml.safe_load((REPO / "monitoring" / "alerts.yaml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]
    assert rule["metadata"]["labels"]["release"] == "prometheus"


def test_the_dashboard_configmap_is_for_grafanas_sidecar() -> None:
    config_map = one(render(FULL_VALUES), "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Common Ground"}
    dashboard = json.loads((REPO / "monitoring" / "dashboard.json").read_text())
    assert json.loads(config_map["data"]["cg-operator.json"]) == dashboard
    overridden = render(
        None,
        "--set",
        "grafanaDashboard.enabled=true",
        "--set-string",
        "grafanaDashboard.labels.grafana_dashboard=0",
    )
    assert one(overridden, "ConfigMap")["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_the_network_policy_opens_only_health_metrics_api_dns_and_probes() -> None:
    policy = one(render(FULL_VALUES), "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "appstore",
        "app.kubernetes.io/instance": "cg-operator",
    }
    [ingress] = policy["ingress"]
    assert sorted(p["port"] for p in ingress["ports"]) == [8080, 8081]
    assert ingress["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    api, dns, *probes = policy["egress"]
    assert api == {
        "ports": [{"port": 6443, "protocol": "TCP"}],
        "to": [{"ipBlock": {"cidr": "172.18.0.2/32"}}],
    }
    assert sorted((p["port"], p["protocol"]) for p in dns["ports"]) == [(53, "TCP"), (53, "UDP")]
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert len(probes) == 2
    default = one(render_set("networkPolicy.enabled=true"), "NetworkPolicy")["spec"]
    assert "from" not in default["ingress"][0]  # any source, but only the two ports
    assert "to" not in default["egress"][0]  # any address, only the API server ports
    assert [p["port"] for p in default["egress"][0]["ports"]] == [443, 6443]
    closed = one(
        render_set("networkPolicy.enabled=true", "networkPolicy.probeEgress=null"), "NetworkPolicy"
    )["spec"]
    assert len(closed["egress"]) == 2


# --- the values schema ---------------------------------------------------------------------------


def _object_nodes(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield path, node
        for key, child in node.items():
            yield from _object_nodes(child, f"{path}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _object_nodes(child, f"{path}/{index}")


def test_the_schema_is_draft_07_and_closed_at_every_object() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    nodes = list(_object_nodes(schema))
    assert len(nodes) > 30
    for path, node in nodes:
        closed = node.get("additionalProperties")
        assert closed is False or isinstance(closed, dict), f"{path} accepts any key"
    validator = jsonschema.Draft7Validator(schema)
    for values in (
        yaml.safe_load((CHART / "values.yaml").read_text()),
        yaml.safe_load(FULL_VALUES.read_text()),
    ):
        errors = [e.message for e in validator.iter_errors(values)]
        assert not errors


BAD_VALUES = [
    ("an unknown top-level key", {"replicaCount": 2}, "'replicaCount' not allowed"),
    (
        "an unknown nested key",
        {"operator": {"probes": {"intervall": 5}}},
        "'intervall' not allowed",
    ),
    ("a misspelt section", {"metrics": {"serviceMonitors": {}}}, "'serviceMonitors' not allowed"),
    (
        "a string for an integer",
        {"operator": {"probes": {"concurrency": "many"}}},
        "/operator/probes/concurrency",
    ),
    ("a string for a boolean", {"rbac": {"create": "yes"}}, "/rbac/create"),
    (
        "a negative interval",
        {"operator": {"probes": {"interval": -1}}},
        "/operator/probes/interval",
    ),
    (
        "an unknown probe mode",
        {"operator": {"probes": {"containerProbe": "sometimes"}}},
        "/operator/probes/containerProbe",
    ),
    ("an unknown log level", {"operator": {"logLevel": "trace"}}, "/operator/logLevel"),
    ("an unknown pull policy", {"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ("a malformed digest", {"image": {"digest": "latest"}}, "/image/digest"),
    (
        "a malformed CIDR",
        {"operator": {"probes": {"allowCidrs": ["ten-dot"]}}},
        "/operator/probes/allowCidrs/0",
    ),
    (
        "a malformed quantity",
        {"resources": {"limits": {"memory": "lots"}}},
        "/resources/limits/memory",
    ),
    (
        "an unknown affinity field",
        {"affinity": {"nodeAffinity": {"soon": {}}}},
        "'soon' not allowed",
    ),
    (
        "a toleration's unknown effect",
        {"tolerations": [{"key": "a", "effect": "Never"}]},
        "/tolerations/0/effect",
    ),
    (
        "a ServiceAccount subject without namespace",
        {"userRoles": {"catalogueEditorSubjects": [{"kind": "ServiceAccount", "name": "x"}]}},
        "/userRoles/catalogueEditorSubjects/0",
    ),
    ("a list for a map", {"podLabels": ["team"]}, "/podLabels"),
    ("no replica", {"replicas": 0}, "/replicas"),
    ("a retry period of 0", {"leaderElection": {"retryPeriod": 0}}, "/leaderElection/retryPeriod"),
]


@pytest.mark.parametrize(("case", "values", "names"), BAD_VALUES, ids=[c[0] for c in BAD_VALUES])
def test_bad_values_are_rejected_naming_the_key(
    case: str, values: dict[str, Any], names: str, tmp_path: Path
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    result = helm(*template_args(path), check=False)
    assert result.returncode != 0, f"{case} was accepted"
    assert "values don't meet the specifications of the schema" in result.stderr
    assert names in result.stderr, result.stderr


# --- generated and copied files ------------------------------------------------------------------


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "hack" / name), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


def test_the_charts_crds_and_monitoring_files_are_the_repositorys() -> None:
    result = _script("chart_sync_crds.py", "--check")
    assert result.returncode == 0, result.stderr
    top = {p.name: p.read_bytes() for p in (REPO / "crds").glob("*.yaml")}
    chart = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    assert chart == top
    for name in ("alerts.yaml", "dashboard.json"):
        assert (CHART / "files" / name).read_bytes() == (REPO / "monitoring" / name).read_bytes()


def test_the_sync_check_notices_stale_missing_and_orphaned_copies(tmp_path: Path) -> None:
    for folder in ("crds", "monitoring", "charts/cg-operator/crds", "charts/cg-operator/files"):
        (tmp_path / folder).mkdir(parents=True)
    for path in (REPO / "crds").glob("*.yaml"):
        shutil.copy(path, tmp_path / "crds")
    for name in ("alerts.yaml", "dashboard.json"):
        shutil.copy(REPO / "monitoring" / name, tmp_path / "monitoring")
    repo = ["--repo", str(tmp_path)]
    assert _script("chart_sync_crds.py", "--check", *repo).returncode == 1  # nothing copied yet
    assert _script("chart_sync_crds.py", *repo).returncode == 0
    assert _script("chart_sync_crds.py", "--check", *repo).returncode == 0
    some_crd = sorted((tmp_path / "crds").glob("*.yaml"))[0]
    some_crd.write_text(some_crd.read_text() + "# changed\n")
    (tmp_path / "charts/cg-operator/crds/old.yaml").write_text("kind: Gone\n")
    (tmp_path / "monitoring" / "alerts.yaml").write_text("groups: []\n")
    stale = _script("chart_sync_crds.py", "--check", *repo)
    assert stale.returncode == 1
    assert f"charts/cg-operator/crds/{some_crd.name} is stale" in stale.stderr
    assert "charts/cg-operator/crds/old.yaml has no source" in stale.stderr
    assert "charts/cg-operator/files/alerts.yaml is stale" in stale.stderr
    assert _script("chart_sync_crds.py", *repo).returncode == 0
    assert _script("chart_sync_crds.py", "--check", *repo).returncode == 0
    assert not (tmp_path / "charts/cg-operator/crds/old.yaml").exists()


def test_the_values_reference_is_fresh_and_complete() -> None:
    result = _script("chart_values_doc.py", "--check")
    assert result.returncode == 0, result.stderr
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for key in ("image.repository", "operator.probes.containerProbe", "networkPolicy.probeEgress"):
        assert f"| `{key}` |" in readme
    assert values["operator"]["probes"]["interval"] == 30
    assert "| `operator.probes.interval` | number | `30` |" in readme


def test_the_values_reference_check_notices_drift(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    args = ["--check", "--chart", str(chart)]
    assert _script("chart_values_doc.py", *args).returncode == 0
    values = chart / "values.yaml"
    values.write_text(values.read_text().replace('  tag: ""', '  tag: "1.2.3"'))
    stale = _script("chart_values_doc.py", *args)
    assert stale.returncode == 1
    assert "is stale" in stale.stderr
    assert _script("chart_values_doc.py", "--chart", str(chart)).returncode == 0
    assert '| `image.tag` | string | `"1.2.3"` |' in (chart / "README.md").read_text()
    values.write_text(
        values.read_text().replace("  # Image tag; empty means the chart's appVersion.\n", "")
    )
    undocumented = _script("chart_values_doc.py", *args)
    assert undocumented.returncode == 1
    assert "image.tag: no comment above it" in undocumented.stderr


# --- the App Store page and the municipality roles ----------------------------------------


def test_the_page_runs_without_any_credentials_of_its_own() -> None:
    """Every call it makes carries the person's token: it gets no token, no role, and the API
    server's CA from kube-root-ca.crt; its pods are not the operator Deployment's."""
    objects = render(FULL_VALUES)
    name = "cg-appstore-operator-appstore"
    page = one(objects, "Deployment", name)
    pod = page["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert one(objects, "ServiceAccount", name)["automountServiceAccountToken"] is False
    bound = [
        s["name"]
        for o in objects
        if o["kind"] in ("ClusterRoleBinding", "RoleBinding")
        for s in o["subjects"]
    ]
    assert name not in bound
    (container,) = pod["containers"]
    assert container["command"][:2] == ["cg-operator", "appstore"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["volumes"][0]["configMap"]["name"] == "kube-root-ca.crt"
    operator = one(objects, "Deployment")["spec"]["selector"]["matchLabels"]
    labels = page["spec"]["template"]["metadata"]["labels"]
    assert not all(labels.get(k) == v for k, v in operator.items())
    policy = one(objects, "NetworkPolicy", name)["spec"]
    assert [p["port"] for p in policy["ingress"][0]["ports"]] == [8090]


def test_the_page_runs_where_the_operator_may_and_in_the_same_network() -> None:
    """A node without a pod network or kube-proxy (hack/realnode/operator-values.yaml): the
    page gets the operator's placement, the node's network on the listen address, and the API
    server's address."""
    objects = render(
        REPO / "hack" / "realnode" / "operator-values.yaml",
        "--set",
        "podNetwork.apiServer.port=6443",
        "--set",
        "appstore.enabled=true",
    )
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    (page_name,) = [n for n in deployments if n.endswith("-appstore")]
    operator = one(objects, "Deployment")["spec"]["template"]["spec"]
    pod = deployments[page_name]["spec"]["template"]["spec"]
    for key in ("hostNetwork", "dnsPolicy", "nodeSelector", "tolerations"):
        assert pod[key] == operator[key], key
    (page,) = pod["containers"]
    assert page["command"][-2:] == ["--address", "127.0.0.1:8090"]
    env = {e["name"]: e.get("value") for e in page["env"]}
    assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == ("127.0.0.1", "6443")


def test_a_municipality_role_reaches_its_own_tenant_and_namespace_only() -> None:
    objects = render(FULL_VALUES)
    name = "cg-appstore-operator-municipality-gm0363-amsterdam"
    rules = one(objects, "ClusterRole", name)["rules"]
    tenant_rule = next(r for r in rules if "municipalitytenants" in r["resources"])
    assert tenant_rule["resourceNames"] == ["gm0363-amsterdam"]
    assert "list" not in tenant_rule["verbs"]
    assert all("componentinstallations" not in r["resources"] for r in rules)
    role = one(objects, "Role", name)
    assert role["metadata"]["namespace"] == "gm0363-amsterdam"
    assert one(objects, "RoleBinding", name)["subjects"] == [
        {"kind": "Group", "name": "gemeente-amsterdam", "apiGroup": "rbac.authorization.k8s.io"}
    ]


def test_the_self_service_policy_spares_only_the_operator() -> None:
    objects = render(None)
    policy = one(objects, "ValidatingAdmissionPolicy")["spec"]
    (condition,) = policy["matchConditions"]
    assert f"system:serviceaccount:{NAMESPACE}:" in condition["expression"]
    assert policy["matchConstraints"]["resourceRules"][0]["resources"] == ["municipalitytenants"]


def test_each_shard_is_a_deployment_with_its_own_lease_and_pods() -> None:
    objects = render_set("shards={main,east}")
    deployments = {d["metadata"]["name"]: d for d in objects if d["kind"] == "Deployment"}
    operators = {n: d for n, d in deployments.items() if n.startswith("cg-operator-")}
    assert set(operators) >= {"cg-operator-main", "cg-operator-east"}
    assert "cg-operator" not in deployments, "no unsharded operator beside the shards"
    leases = []
    for shard in ("main", "east"):
        deployment = operators[f"cg-operator-{shard}"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector[LABEL_SHARD] == shard, "a shard's pods are told apart from another's"
        assert deployment["spec"]["template"]["metadata"]["labels"][LABEL_SHARD] == shard
        spec = deployment["spec"]["template"]["spec"]["containers"][0]
        args = build_parser().parse_args(["run", *spec["args"]])
        assert shard_of_args(args).name == shard
        election = election_settings(
            build_parser().parse_args(
                ["run", *spec["args"], "--leader-election-namespace", NAMESPACE]
            )
        )
        assert election is not None
        leases.append(election.name)
        budget = one(objects, "PodDisruptionBudget", f"cg-operator-{shard}")
        assert budget["spec"]["selector"]["matchLabels"] == selector
    assert len(set(leases)) == 2, "each shard elects its leader on its own Lease"
    role = one(objects, "Role", "cg-operator-leader-election")
    assert role["rules"][1]["resourceNames"] == leases


def test_shards_without_the_primary_are_refused() -> None:
    refused = helm(*template_args(None, "--set", "shards={east,west}"), check=False)
    assert refused.returncode != 0
    assert "shards must include main" in refused.stderr
    bad = helm(*template_args(None, "--set", "shards={main,Ea/st}"), check=False)
    assert bad.returncode != 0
    assert "shards" in bad.stderr
