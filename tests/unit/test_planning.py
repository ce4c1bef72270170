"""Planning is pure: what a tenant and an installation should look like, from spec and catalogue.

Every rendered object is validated against the Kubernetes 1.36 OpenAPI schema, strictly."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cg_operator.api.component import CGComponentSpec, host_allowed
from cg_operator.api.constants import FINALIZER, LABEL_COMPONENT_ROLE
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.api.tenant import MunicipalityTenantSpec
from cg_operator.reconcile.backing import BackingImages
from cg_operator.reconcile.digests import RECORDED
from cg_operator.reconcile.installation import plan_installation, tenancy_errors
from cg_operator.reconcile.installation_summary import deployable, readiness
from cg_operator.reconcile.tenant import plan_tenant

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = {
    path.stem: CGComponentSpec.model_validate(yaml.safe_load(path.read_text())["spec"])
    for path in (REPO / "examples" / "catalog").glob("*.yaml")
}
TENANT = {
    "apiVersion": "appstore.commonground.nl/v1alpha1",
    "kind": "MunicipalityTenant",
    "metadata": {"name": "gm0363-amsterdam", "uid": "0000-tenant"},
}


def validate(obj: dict[str, Any]) -> None:
    if obj["apiVersion"].startswith("appstore."):
        return
    try:
        kubernetes_validate.validate(obj, "1.36.0", strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {error}")


def installation(component: str, offering: str = "container", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "ComponentInstallation",
        "metadata": {"name": component, "namespace": "gm0363-amsterdam", "uid": "0000-cgi"},
        "spec": {
            "tenant": "gm0363-amsterdam",
            "municipality": {"name": "Amsterdam", "code": "GM0363"},
            "component": component,
            "offering": offering,
            "version": CATALOGUE[component].default_version,
            **spec,
        },
    }


def plan(live: dict[str, Any], installed: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    spec = ComponentInstallationSpec.model_validate(live["spec"])
    return plan_installation(
        live,
        spec,
        CATALOGUE[spec.component],
        installed or {},
        passwords=kwargs.get("passwords", {"objecttypen-postgresql": "s3cret"}),
        credentials=kwargs.get("credentials"),
        secret_keys=kwargs.get("secret_keys"),
        backing_images=kwargs.get("backing_images"),
    )


def ready(component: str) -> dict[str, Any]:
    return {
        "spec": {"component": component},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_tenant_plan_renders_valid_guard_rails_and_one_installation_per_subscription() -> None:
    spec = MunicipalityTenantSpec.model_validate(
        yaml.safe_load((REPO / "examples/tenants/gm0363-amsterdam.yaml").read_text())["spec"]
    )
    result = plan_tenant(TENANT, spec, CATALOGUE)
    for obj in [result.namespace_object, *result.children, *result.installations]:
        validate(obj)
    assert result.namespace == "gm0363-amsterdam"
    assert "ownerReferences" not in result.namespace_object["metadata"], "Retain outlives it"
    kinds = sorted(o["kind"] for o in result.children)
    assert kinds.count("NetworkPolicy") >= 3
    assert {"ResourceQuota", "LimitRange", "ServiceAccount"} <= set(kinds)
    assert [i["metadata"]["name"] for i in result.installations] == [
        s.name for s in spec.components
    ]
    for cgi in result.installations:
        assert cgi["metadata"]["ownerReferences"][0]["uid"] == "0000-tenant"
        # Made with the finalizer that keeps its data until it is disposed of as its
        # deletionPolicy says: no separate write to add it, no moment without it.
        assert cgi["metadata"]["finalizers"] == [FINALIZER]
        assert cgi["spec"]["version"] in {
            v.version for v in CATALOGUE[cgi["spec"]["component"]].versions
        }


def policies(children: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o["spec"] for o in children if o["kind"] == "NetworkPolicy"}


def test_the_ingress_namespaces_reach_only_web_processes_and_proxies_on_their_http_port() -> None:
    spec = MunicipalityTenantSpec.model_validate(
        yaml.safe_load((REPO / "examples/tenants/gm0363-amsterdam.yaml").read_text())["spec"]
    )
    found = policies(plan_tenant(TENANT, spec, CATALOGUE).children)
    ingress = found["allow-ingress-from-namespaces"]
    assert ingress["podSelector"] == {
        "matchExpressions": [
            {"key": LABEL_COMPONENT_ROLE, "operator": "In", "values": ["web", "proxy"]}
        ]
    }
    assert ingress["ingress"][0]["ports"] == [{"port": "http"}]
    # The tenant's own pods reach each other, but not the embedded backing services.
    same = found["allow-same-namespace"]["podSelector"]["matchExpressions"]
    assert same == [
        {"key": LABEL_COMPONENT_ROLE, "operator": "NotIn", "values": ["backing-service"]}
    ]


def test_an_open_egress_cidr_never_reaches_cloud_metadata() -> None:
    spec = MunicipalityTenantSpec.model_validate(
        {
            "municipality": {"name": "Amsterdam", "code": "GM0363"},
            "network": {"egressCIDRs": ["0.0.0.0/0", "203.0.113.0/24"]},
            "components": [],
        }
    )
    egress = policies(plan_tenant(TENANT, spec, CATALOGUE).children)["allow-egress-cidrs"]
    open_all, supplier = egress["egress"][0]["to"]
    assert "169.254.169.254/32" in open_all["ipBlock"]["except"]
    assert "168.63.129.16/32" in open_all["ipBlock"]["except"]
    assert supplier == {"ipBlock": {"cidr": "203.0.113.0/24"}}


def test_an_embedded_backing_service_answers_only_its_own_component() -> None:
    result = plan(installation("objecttypen"))
    found = policies([*result.data, *result.children])
    database = found["objecttypen-postgresql"]
    assert database["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/instance": "objecttypen-postgresql"}
    }
    [rule] = database["ingress"]
    assert rule["from"][0]["podSelector"]["matchLabels"] == {
        "appstore.commonground.nl/installation": "objecttypen"
    }
    assert rule["ports"] == [{"port": "postgresql"}]


def test_secret_values_and_host_names_reach_the_installation() -> None:
    ref = {"name": "REGISTERS__0__KLANTINTERACTIE_TOKEN", "secretKeyRef": {"name": "k", "key": "t"}}
    spec = MunicipalityTenantSpec.model_validate(
        {
            "municipality": {"name": "Utrecht", "code": "GM0344"},
            "components": [
                {
                    "name": "kiss",
                    "offering": "container",
                    "secretValues": [ref],
                    "hostnames": ["kiss.utrecht.example"],
                }
            ],
        }
    )
    installation = plan_tenant(TENANT, spec, CATALOGUE).installations[0]["spec"]
    assert installation["secretValues"] == [ref]
    assert installation["hostnames"] == ["kiss.utrecht.example"]


def test_pinned_version_wins_over_the_default() -> None:
    spec = MunicipalityTenantSpec.model_validate(
        {
            "municipality": {"name": "Tilburg", "code": "GM0855"},
            "components": [{"name": "objecttypen", "offering": "container", "version": "3.4.0"}],
        }
    )
    assert plan_tenant(TENANT, spec, CATALOGUE).installations[0]["spec"]["version"] == "3.4.0"


def test_container_plan_is_valid_restricted_and_keeps_secrets_out_of_specs() -> None:
    result = plan(installation("objecttypen"))
    for obj in [*result.children, *result.data]:
        validate(obj)
    deployments = [o for o in result.children if o["kind"] == "Deployment"]
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["enableServiceLinks"] is False
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            # Connection details by reference: a Secret key, or a value composed only of
            # references the kubelet expands ($(CG_REDIS_HOST)).
            assert all(
                "valueFrom" in e or re.fullmatch(r"([^$]|\$\(CG_[A-Z_]+\))*", e["value"])
                for e in container["env"]
            ), "connection details by ref"
    data_secret = next(o for o in result.data if o["metadata"]["name"] == "objecttypen-postgresql")
    assert base64.b64decode(data_secret["data"]["password"]).decode() == "s3cret"
    assert "ownerReferences" not in data_secret["metadata"], "data is never garbage-collected"
    assert all(o["metadata"]["ownerReferences"][0]["uid"] == "0000-cgi" for o in result.children)
    assert not any(o["kind"] == "PodDisruptionBudget" for o in result.children)


def test_replicas_above_one_get_a_disruption_budget() -> None:
    replicated = [
        n
        for n, c in CATALOGUE.items()
        if any(v.container and v.container.replicas > 1 for v in c.versions)
    ]
    assert replicated, "the example catalogue has a component with 2+ replicas"
    name = replicated[0]
    component = CATALOGUE[name]
    result = plan(
        installation(
            name,
            version=next(
                v.version for v in component.versions if v.container and v.container.replicas > 1
            ),
        ),
        {r.component: ready(r.component) for r in component.requires},
    )
    assert any(o["kind"] == "PodDisruptionBudget" for o in result.children)


def test_dependencies_gate_and_wire() -> None:
    live = installation("open-zaak")
    missing = plan(live)
    assert (missing.dependencies.ready, missing.dependencies.reason) == (False, "MissingDependency")
    waiting = plan(live, {"open-notificaties": {"spec": {}, "status": {}}})
    assert waiting.dependencies.reason == "DependencyNotReady"
    wired = plan(live, {"open-notificaties": ready("open-notificaties")})
    assert wired.dependencies.ready
    web = next(
        o
        for o in wired.children
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "open-zaak"
    )
    env = {e["name"]: e for e in web["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["NOTIFICATIONS_API_ROOT"]["valueFrom"]["secretKeyRef"] == {
        "name": "open-notificaties-binding",
        "key": "uri",
    }


def dependency(ready: str, healthy: str, observed_version: str | None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "conditions": [
            {"type": "Ready", "status": ready},
            {"type": "Healthy", "status": healthy},
        ]
    }
    if observed_version:
        status["observedVersion"] = observed_version
    return {"spec": {"component": "open-notificaties"}, "status": status}


@pytest.mark.parametrize(
    ("notificaties", "serves"),
    [
        pytest.param(dependency("True", "True", "1.9.0"), True, id="ready"),
        # Rolling to a new version (or its configuration Job runs): the previous pods serve.
        pytest.param(dependency("False", "Unknown", "1.9.0"), True, id="upgrading"),
        # Its configuration failed after an upgrade: the previous configuration still holds.
        pytest.param(dependency("False", "True", "1.9.0"), True, id="configuration-failed"),
        # Its pods are gone at the version it ran: nothing answers.
        pytest.param(dependency("False", "False", "1.9.0"), False, id="workloads-lost"),
        # Never Ready yet (first install): nothing has served.
        pytest.param(dependency("False", "Unknown", None), False, id="installing"),
        pytest.param(dependency("False", "True", None), False, id="never-configured"),
    ],
)
def test_a_dependency_that_served_keeps_its_dependents_while_it_upgrades(
    notificaties: dict[str, Any], serves: bool
) -> None:
    """A dependent stays DependenciesReady while its dependency rolls to a new version (its
    previous pods answer until the new ones are available), and waits for a first install or
    for workloads that are gone."""
    wired = plan(installation("open-zaak"), {"open-notificaties": notificaties})
    assert wired.dependencies.ready is serves
    if not serves:
        assert wired.dependencies.reason == "DependencyNotReady"


def test_external_backing_services_come_from_the_named_secret() -> None:
    live = installation(
        "objecttypen",
        backingServices={"postgresql": {"mode": "External", "secretRef": {"name": "shared-db"}}},
    )
    result = plan(live)
    assert not any(o["metadata"]["name"] == "objecttypen-postgresql" for o in result.data)
    web = next(o for o in result.children if o["kind"] == "Deployment")
    env = {e["name"]: e for e in web["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DB_HOST"]["valueFrom"]["secretKeyRef"] == {"name": "shared-db", "key": "host"}


def test_the_embedded_database_runs_the_image_the_platform_pinned() -> None:
    pinned = "registry.gemeenten.example/postgres@sha256:" + "c" * 64
    images = BackingImages.parse([f"postgresql={pinned}"])
    for result, image in (
        (plan(installation("objecttypen")), f"postgres:17@{RECORDED['postgres:17']}"),
        (plan(installation("objecttypen"), backing_images=images), pinned),
    ):
        database = next(o for o in result.children if o["kind"] == "StatefulSet")
        assert database["metadata"]["name"] == "objecttypen-postgresql"
        assert database["spec"]["template"]["spec"]["containers"][0]["image"] == image


def test_saas_plan_fills_in_the_municipality_and_copies_credentials() -> None:
    live = installation(
        "open-klant",
        offering=next(o.name for o in CATALOGUE["open-klant"].offerings if o.type == "SaaS"),
        credentialsSecretRef={"name": "klant-key"},
    )
    key = base64.b64encode(b"abc").decode()
    result = plan(
        live,
        credentials={"apiKey": key, "uri": "ignored"},
        secret_keys={"klant-key": frozenset({"apiKey", "uri"})},
    )
    assert result.missing == []
    for obj in result.children:
        validate(obj)
    assert sorted(o["kind"] for o in result.children) == ["Secret", "Service"]
    secret = next(o for o in result.children if o["kind"] == "Secret")
    assert secret["data"]["apiKey"] == key
    assert base64.b64decode(secret["data"]["uri"]).decode() == result.endpoint
    assert "amsterdam" in result.endpoint or "gm0363" in result.endpoint.lower()


def test_a_missing_credentials_secret_freezes_the_binding_instead_of_dropping_credentials() -> None:
    live = installation(
        "open-klant",
        offering=next(o.name for o in CATALOGUE["open-klant"].offerings if o.type == "SaaS"),
        credentialsSecretRef={"name": "klant-key"},
    )
    result = plan(live, credentials=None, secret_keys={"klant-key": None})
    assert result.missing == ["spec.credentialsSecretRef: Secret 'klant-key' does not exist"]
    assert deployable([*result.data, *result.children], result, lambda _ref: None) is None
    verdict = readiness(result, wrote=False, workloads=(True, ""))
    assert (verdict.ready, verdict.reason) == (False, "MissingSecret")


def test_an_endpoint_outside_the_allowed_hosts_is_invalid() -> None:
    component = CATALOGUE["referentielijsten"].model_copy(deep=True)
    saas = next(o for o in component.offerings if o.type == "SaaS")
    assert saas.saas is not None
    object.__setattr__(saas.saas, "allowed_hosts", ["*.elsewhere.example"])
    live = installation("referentielijsten", offering=saas.name)
    spec = ComponentInstallationSpec.model_validate(live["spec"])
    result = plan_installation(live, spec, component, {}, passwords={}, credentials=None)
    assert [e.field for e in result.errors] == ["spec.offering"]
    assert "not in its allowedHosts" in result.errors[0].message


@pytest.mark.parametrize(
    ("host", "allowed", "ok"),
    [
        ("gm0363.x.example", ["*.x.example"], True),
        ("a.b.x.example", ["*.x.example"], True),
        ("x.example", ["*.x.example"], False),
        ("evilx.example", ["*.x.example"], False),
        ("x.example", ["x.example"], True),
        ("X.Example.", ["x.example"], True),
    ],
)
def test_host_allowlist(host: str, allowed: list[str], ok: bool) -> None:
    assert host_allowed(host, allowed) is ok


def test_an_installation_is_reconciled_only_in_its_tenants_namespace() -> None:
    ours = tenancy_errors(
        "gm0363-amsterdam",
        "gm0363-amsterdam",
        tenant_exists=True,
        namespace_tenant="gm0363-amsterdam",
    )
    assert ours == []
    [elsewhere] = tenancy_errors(
        "gm0363-amsterdam", "kube-system", tenant_exists=True, namespace_tenant=None
    )
    assert elsewhere.field == "spec.tenant"
    assert "'kube-system' is not tenant 'gm0363-amsterdam'" in elsewhere.message
    [other] = tenancy_errors(
        "gm0363-amsterdam", "gm0599-rotterdam", tenant_exists=True, namespace_tenant="gm0599"
    )
    assert other.field == "spec.tenant"
    [missing] = tenancy_errors("ghost", "team-x", tenant_exists=False, namespace_tenant=None)
    assert missing.message == "no MunicipalityTenant named 'ghost'"


def test_a_subscription_without_values_plans_no_values_map() -> None:
    # An empty map reaches the API server as null, which the schema refuses: every pass of the
    # tenant failed once a subscription's last value was removed.
    spec = MunicipalityTenantSpec.model_validate(
        {
            "municipality": {"name": "Amsterdam", "code": "GM0363"},
            "components": [{"name": "objecttypen", "offering": "container", "values": {}}],
        }
    )
    [cgi] = plan_tenant(TENANT, spec, CATALOGUE).installations
    assert "values" not in cgi["spec"]
