"""Exposure: which host a subscription gets, who may hold it, and the route users reach it by.

Rendered Ingresses and NetworkPolicies are validated against the Kubernetes 1.36 schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cg_operator.api.component import CGComponentSpec
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.api.tenant import MunicipalityTenantSpec
from cg_operator.reconcile.exposure import (
    CERT_MANAGER_ISSUER,
    ExposureMode,
    ExposureSettings,
    GatewayRef,
    HostClaims,
    claimed_hosts,
    host_conflict_errors,
    host_errors,
    taken_hosts,
    tenant_hosts,
)
from cg_operator.reconcile.installation import plan_installation
from cg_operator.reconcile.installation_summary import readiness
from cg_operator.reconcile.tenant import plan_tenant

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = {
    path.stem: CGComponentSpec.model_validate(yaml.safe_load(path.read_text())["spec"])
    for path in (REPO / "examples" / "catalog").glob("*.yaml")
}
NAMESPACE = "gm0363-amsterdam"
GATEWAY = GatewayRef("gateways", "public", "https")
READY = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def tenant(**spec: Any) -> MunicipalityTenantSpec:
    return MunicipalityTenantSpec.model_validate(
        {"municipality": {"name": "Amsterdam", "code": "GM0363"}, **spec}
    )


def subscribed(*components: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": c, "offering": "container", **extra.get(c, {})} for c in components]


def plan(component: str, settings: ExposureSettings, **spec: Any) -> Any:
    live = {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "ComponentInstallation",
        "metadata": {"name": component, "namespace": NAMESPACE, "uid": "0000-cgi"},
        "spec": {
            "tenant": NAMESPACE,
            "municipality": {"name": "Amsterdam", "code": "GM0363"},
            "component": component,
            "offering": "container",
            "version": CATALOGUE[component].default_version,
            **spec,
        },
    }
    entry = CATALOGUE[component]
    container = entry.version(live["spec"]["version"]).container  # type: ignore[union-attr]
    assert container is not None
    return plan_installation(
        live,
        ComponentInstallationSpec.model_validate(live["spec"]),
        entry,
        {r.component: READY for r in entry.requires},
        passwords={f"{component}-{s.type.value.lower()}": "pw" for s in container.backing_services},
        credentials=None,
        generated={s.name: "g" * s.length for s in container.generated_secrets},
        exposure=settings,
    )


def of_kind(result: Any, kind: str) -> list[dict[str, Any]]:
    return [o for o in result.children if o["kind"] == kind]


def config(result: Any) -> dict[str, str]:
    [found] = [o for o in of_kind(result, "ConfigMap") if o["metadata"]["name"].endswith("-config")]
    return dict(found["data"])


def validate(obj: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(obj, "1.36.0", strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {error}")


# --- Which host -----------------------------------------------------------------------------


def test_an_exposed_component_gets_its_alias_under_the_tenants_domain() -> None:
    spec = tenant(
        domain="amsterdam.nl",
        components=subscribed(
            "open-zaak",
            "keycloak",
            "objecttypen",
            **{"keycloak": {"host": "inloggen.amsterdam.nl"}},
        ),
    )
    assert tenant_hosts(spec, CATALOGUE) == {
        0: "zaken.amsterdam.nl",
        1: "inloggen.amsterdam.nl",  # the subscription's own host wins
        2: "objecttypen.amsterdam.nl",
    }
    plan = plan_tenant(
        {"apiVersion": "v1", "kind": "MunicipalityTenant", "metadata": {"name": "t", "uid": "u"}},
        spec,
        CATALOGUE,
    )
    hosts = {i["spec"]["component"]: i["spec"].get("host") for i in plan.installations}
    assert hosts == {
        "open-zaak": "zaken.amsterdam.nl",
        "keycloak": "inloggen.amsterdam.nl",
        "objecttypen": "objecttypen.amsterdam.nl",
    }


def test_nothing_is_exposed_without_a_domain_or_for_a_saas_binding() -> None:
    assert tenant_hosts(tenant(components=subscribed("open-zaak")), CATALOGUE) == {}
    saas = tenant(
        domain="amsterdam.nl",
        components=[
            {
                "name": "open-formulieren",
                "offering": "formulierenfabriek-saas",
                "credentialsSecretRef": {"name": "x"},
            }
        ],
    )
    assert tenant_hosts(saas, CATALOGUE) == {}


def test_a_host_must_lie_under_the_tenants_or_the_platforms_domains() -> None:
    spec = tenant(
        domain="amsterdam.nl",
        components=subscribed(
            "open-zaak",
            "keycloak",
            "objecttypen",
            **{
                "keycloak": {"host": "login.evil.example"},
                "objecttypen": {"host": "objecttypen.gemeenten.example"},
            },
        ),
    )
    errors = host_errors(spec, CATALOGUE, ExposureSettings())
    assert [(e.field, e.message) for e in errors] == [
        (
            "spec.components[1].host",
            "login.evil.example is not under the tenant's domains (amsterdam.nl)",
        ),
        (
            "spec.components[2].host",
            "objecttypen.gemeenten.example is not under the tenant's domains (amsterdam.nl)",
        ),
    ]
    platform = ExposureSettings(extra_domains=("gemeenten.example",))
    assert [e.field for e in host_errors(spec, CATALOGUE, platform)] == ["spec.components[1].host"]


def test_one_host_is_one_subscriptions_and_only_exposed_components_take_one() -> None:
    spec = tenant(
        domain="amsterdam.nl",
        components=subscribed(
            "open-zaak",
            "keycloak",
            "signalen",
            **{
                "keycloak": {"host": "zaken.amsterdam.nl"},
                "signalen": {"host": "meldingen.amsterdam.nl"},
            },
        ),
    )
    errors = {e.field: e.message for e in host_errors(spec, CATALOGUE, ExposureSettings())}
    assert errors == {
        "spec.components[1].host": "zaken.amsterdam.nl is already the host of 'open-zaak'",
        "spec.components[2].host": "'signalen' is not exposed (in-cluster only)",
    }


def test_of_two_tenants_claiming_a_host_the_first_created_keeps_it() -> None:
    mine = {0: "zaken.amsterdam.nl", 1: "login.amsterdam.nl"}
    others = [
        ("gm0363-old", "2026-01-01T00:00:00Z", {"zaken.amsterdam.nl"}),
        ("gm9999-later", "2026-12-01T00:00:00Z", {"login.amsterdam.nl"}),
    ]
    taken = taken_hosts("gm0363-amsterdam", "2026-06-01T00:00:00Z", mine, others)
    assert taken == {0: ("zaken.amsterdam.nl", "gm0363-old")}
    [error] = host_conflict_errors(taken)
    assert error.field == "spec.components[0].host"
    assert error.message == "zaken.amsterdam.nl is already exposed by tenant 'gm0363-old'"
    # The holder is never refused for the later claim; equal timestamps go by name.
    assert taken_hosts(
        "gm0363-old",
        "2026-01-01T00:00:00Z",
        mine,
        [("a", "2026-01-01T00:00:00Z", {"zaken.amsterdam.nl"})],
    ) == {0: ("zaken.amsterdam.nl", "a")}
    assert (
        taken_hosts(
            "a",
            "2026-01-01T00:00:00Z",
            mine,
            [("b", "2026-01-01T00:00:00Z", {"zaken.amsterdam.nl"})],
        )
        == {}
    )


def test_claimed_hosts_of_a_stored_spec_match_the_parsed_ones() -> None:
    raw = {
        "municipality": {"name": "Amsterdam", "code": "GM0363"},
        "domain": "amsterdam.nl",
        "components": subscribed(
            "open-zaak", "signalen", **{"open-zaak": {"host": "z.amsterdam.nl"}}
        ),
    }
    parsed = tenant_hosts(MunicipalityTenantSpec.model_validate(raw), CATALOGUE)
    assert claimed_hosts(raw, CATALOGUE) == set(parsed.values()) == {"z.amsterdam.nl"}


def stored_tenant(uid: str, generation: int, domain: str, *components: str) -> dict[str, Any]:
    return {
        "metadata": {"name": f"gm-{uid}", "uid": uid, "generation": generation},
        "spec": {"domain": domain, "components": subscribed(*components)},
    }


def test_a_tenants_claimed_hosts_follow_its_spec_and_the_catalogue_not_its_status() -> None:
    claims = HostClaims()
    generations = dict.fromkeys(CATALOGUE, 1)
    first = stored_tenant("a", 1, "amsterdam.nl", "open-zaak", "signalen")
    assert claims.of(first, CATALOGUE, generations) == {"zaken.amsterdam.nl"}
    # A status write leaves the generation as it was: the claim is not computed again.
    assert claims.of({**first, "status": {"x": 1}}, CATALOGUE, generations) == {
        "zaken.amsterdam.nl"
    }
    # A new domain is a new generation.
    moved = stored_tenant("a", 2, "gemeente.amsterdam.nl", "open-zaak")
    assert claims.of(moved, CATALOGUE, generations) == {"zaken.gemeente.amsterdam.nl"}
    # A catalogue entry the tenant reads changes its alias: a new generation of that entry.
    oz = CATALOGUE["open-zaak"]
    assert oz.exposure is not None
    renamed = {
        **CATALOGUE,
        "open-zaak": oz.model_copy(
            update={"exposure": oz.exposure.model_copy(update={"alias": "zaak"})}
        ),
    }
    assert claims.of(moved, renamed, generations) == {"zaken.gemeente.amsterdam.nl"}
    assert claims.of(moved, renamed, {**generations, "open-zaak": 2}) == {
        "zaak.gemeente.amsterdam.nl"
    }
    # An entry it does not read may change without a new computation; one that goes away
    # (no generation) takes its host with it.
    assert claims.of(moved, renamed, {**generations, "open-zaak": 2, "signalen": 7}) == {
        "zaak.gemeente.amsterdam.nl"
    }
    gone = {k: v for k, v in renamed.items() if k != "open-zaak"}
    assert (
        claims.of(moved, gone, {k: v for k, v in generations.items() if k != "open-zaak"}) == set()
    )


def test_host_claims_forget_the_tenants_that_are_gone() -> None:
    claims = HostClaims()
    generations = dict.fromkeys(CATALOGUE, 1)
    a = stored_tenant("a", 1, "amsterdam.nl", "open-zaak")
    b = stored_tenant("b", 1, "utrecht.nl", "open-zaak")
    claims.of(a, CATALOGUE, generations)
    claims.of(b, CATALOGUE, generations)
    claims.retain([b])
    assert len(claims) == 1
    assert claims.of(b, CATALOGUE, generations) == {"zaken.utrecht.nl"}


# --- The route ------------------------------------------------------------------------------


def test_an_ingress_routes_the_public_host_to_the_proxy_with_a_cert_manager_certificate() -> None:
    settings = ExposureSettings(
        ingress_class="nginx", cluster_issuer="letsencrypt", ingress_namespaces=("ingress-nginx",)
    )
    result = plan("open-zaak", settings, host="zaken.amsterdam.nl")
    [ingress] = of_kind(result, "Ingress")
    validate(ingress)
    assert ingress["metadata"]["annotations"] == {CERT_MANAGER_ISSUER: "letsencrypt"}
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["zaken.amsterdam.nl"], "secretName": "open-zaak-tls"}
    ]
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == "zaken.amsterdam.nl"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    # Open Zaak's chart puts nginx in front (private media): users reach that.
    assert backend == {"name": "open-zaak-proxy", "port": {"name": "http"}}
    assert ingress["metadata"]["ownerReferences"][0]["name"] == "open-zaak"
    assert result.url == "https://zaken.amsterdam.nl/"
    assert not result.unrouted


def test_the_app_learns_its_public_address_and_allows_its_host() -> None:
    https = config(
        plan("open-zaak", ExposureSettings(tls_secret="wildcard"), host="zaken.amsterdam.nl")  # noqa: S106
    )
    assert https["SITE_DOMAIN"] == "zaken.amsterdam.nl"
    assert https["IS_HTTPS"] == "True"
    assert "zaken.amsterdam.nl" in https["ALLOWED_HOSTS"].split(",")
    plain = config(plan("open-zaak", ExposureSettings(), host="zaken.amsterdam.nl"))
    assert plain["IS_HTTPS"] == "False", "no TLS configured: the app must not insist on https"
    keycloak = config(
        plan("keycloak", ExposureSettings(cluster_issuer="x"), host="login.amsterdam.nl")
    )
    assert keycloak["KC_HOSTNAME"] == "https://login.amsterdam.nl"


def test_a_tenants_value_never_overrides_the_derived_public_address() -> None:
    result = plan(
        "open-zaak",
        ExposureSettings(),
        host="zaken.amsterdam.nl",
        values={"SITE_DOMAIN": "phishing.example"},
    )
    assert config(result)["SITE_DOMAIN"] == "zaken.amsterdam.nl"


def test_the_ingress_controllers_namespace_reaches_only_the_exposed_pods() -> None:
    settings = ExposureSettings(ingress_namespaces=("ingress-nginx",))
    result = plan("objecttypen", settings, host="objecttypen.amsterdam.nl")
    [policy] = [
        p for p in of_kind(result, "NetworkPolicy") if p["metadata"]["name"].endswith("-exposed")
    ]
    validate(policy)
    assert policy["spec"]["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/instance": "objecttypen"}
    }
    [rule] = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http"}]
    selector = rule["from"][0]["namespaceSelector"]["matchExpressions"][0]
    assert selector["values"] == ["ingress-nginx"]
    without = plan("objecttypen", ExposureSettings(), host="objecttypen.amsterdam.nl")
    assert not [
        p for p in of_kind(without, "NetworkPolicy") if p["metadata"]["name"].endswith("-exposed")
    ]


def test_an_httproute_attaches_to_the_platform_gateway() -> None:
    settings = ExposureSettings(mode=ExposureMode.HTTPROUTE, gateway=GATEWAY)
    result = plan("open-formulieren", settings, host="formulieren.amsterdam.nl")
    assert not of_kind(result, "Ingress")
    [route] = of_kind(result, "HTTPRoute")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "namespace": "gateways",
            "name": "public",
            "sectionName": "https",
        }
    ]
    assert route["spec"]["hostnames"] == ["formulieren.amsterdam.nl"]
    [rule] = route["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert rule["backendRefs"] == [{"name": "open-formulieren-proxy", "port": 80}]
    assert config(result)["BASE_URL"] == "https://formulieren.amsterdam.nl"


def test_without_the_gateway_api_installed_the_installation_says_so_and_still_deploys() -> None:
    settings = ExposureSettings(
        mode=ExposureMode.HTTPROUTE, gateway=GATEWAY, routes_available=False
    )
    result = plan("objecttypen", settings, host="objecttypen.amsterdam.nl")
    assert not of_kind(result, "HTTPRoute")
    assert of_kind(result, "Deployment"), "the workloads do not wait for the route"
    verdict = readiness(result, wrote=False, workloads=(True, "available"))
    assert not verdict.ready
    assert verdict.reason == "ExposureUnavailable"
    assert "gateway.networking.k8s.io/v1 httproutes" in verdict.message
    assert "not installed" in verdict.message


def test_exposure_none_routes_nothing_but_the_app_still_knows_its_address() -> None:
    result = plan("open-zaak", ExposureSettings(mode=ExposureMode.NONE), host="zaken.amsterdam.nl")
    assert not of_kind(result, "Ingress")
    assert not of_kind(result, "HTTPRoute")
    assert config(result)["SITE_DOMAIN"] == "zaken.amsterdam.nl"
    assert readiness(result, wrote=False, workloads=(True, "available")).ready


def test_an_unexposed_installation_gets_no_route_and_no_url() -> None:
    result = plan("objecttypen", ExposureSettings())
    assert not of_kind(result, "Ingress")
    assert result.url == ""


def test_a_public_setting_with_an_unknown_placeholder_is_refused() -> None:
    wire = CATALOGUE["objecttypen"].model_dump(by_alias=True, exclude_none=True)
    wire["exposure"]["env"] = [{"name": "BASE_URL", "value": "{scheme}://{hostname}/"}]
    with pytest.raises(ValueError, match=r"unknown placeholders \['hostname'\]"):
        CGComponentSpec.model_validate(wire)


@pytest.mark.parametrize(
    ("text", "ok"),
    [("gw/public", True), ("gw/public/https", True), ("public", False), ("gw/Public", False)],
)
def test_the_gateway_flag_names_namespace_name_and_listener(text: str, ok: bool) -> None:
    if ok:
        assert GatewayRef.parse(text).name == "public"
    else:
        with pytest.raises(ValueError, match="NAMESPACE/NAME"):
            GatewayRef.parse(text)
