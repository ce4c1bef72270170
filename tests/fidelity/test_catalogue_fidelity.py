"""The example catalogue against what the real components need (tests/fidelity/facts.yaml, a
table kept apart from the catalogue): every component and version is rendered as a tenant would
get it and held against the table. A disagreement fails with both values shown.

Pure: the operator's own planner, no cluster. Nothing here runs the real images; the facts
come from the maintainers' material, each with its source in facts.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from cg_operator.api.component import CGComponentSpec, OfferingType
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.reconcile.configuration import render_configuration
from cg_operator.reconcile.exposure import ExposureSettings
from cg_operator.reconcile.installation import plan_installation

REPO = Path(__file__).resolve().parents[2]
FACTS = yaml.safe_load((Path(__file__).parent / "facts.yaml").read_text())
CATALOGUE = {
    path.stem: CGComponentSpec.model_validate(yaml.safe_load(path.read_text())["spec"])
    for path in sorted((REPO / "examples" / "catalog").glob("*.yaml"))
}
NAMESPACE = "gm0363-amsterdam"
PUBLIC_HOST = "app.amsterdam.example"
# Ingress with cert-manager: https.
EXPOSURE = ExposureSettings(cluster_issuer="letsencrypt")


def _container_versions() -> Iterator[tuple[str, str]]:
    for name, component in CATALOGUE.items():
        if any(o.type is OfferingType.CONTAINER for o in component.offerings):
            for version in component.versions:
                yield name, version.version


CASES = list(_container_versions())


def facts_for(component: str, version: str) -> dict[str, Any] | None:
    by_version = FACTS["components"].get(component) or {}
    found = by_version.get(version) or by_version.get("*")
    if found is None:
        return None
    return {
        k: (v.replace("{version}", version) if isinstance(v, str) else v) for k, v in found.items()
    }


@dataclass
class Rendered:
    """One installation as the planner renders it, indexed for the checks."""

    deployments: dict[str, dict[str, Any]]  # role -> Deployment of the app's own processes
    config: dict[str, str]
    statefulsets: list[dict[str, Any]]
    proxy: dict[str, Any] | None = None  # the web server in front, when the chart runs one
    proxy_conf: str = ""  # its configuration
    ingress: dict[str, Any] | None = None  # the route to it, when exposed

    def env(self, role: str) -> dict[str, dict[str, Any]]:
        container = self.deployments[role]["spec"]["template"]["spec"]["containers"][0]
        return {e["name"]: e for e in container.get("env") or []}

    def source(self, role: str, name: str) -> str | None:
        """'secret', 'config', 'value' or None: where a variable of a process comes from."""
        entry = self.env(role).get(name)
        if entry is not None:
            return "secret" if "secretKeyRef" in (entry.get("valueFrom") or {}) else "value"
        return "config" if name in self.config else None

    def value(self, role: str, name: str) -> str | None:
        entry = self.env(role).get(name)
        if entry is not None:
            return entry.get("value")
        return self.config.get(name)


def render(component: str, version: str) -> Rendered:
    entry = CATALOGUE[component]
    container = entry.version(version).container  # type: ignore[union-attr]
    assert container is not None
    offering = next(o for o in entry.offerings if o.type is OfferingType.CONTAINER)
    live = {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "ComponentInstallation",
        "metadata": {"name": component, "namespace": NAMESPACE, "uid": "0000-cgi"},
        "spec": {
            "tenant": NAMESPACE,
            "municipality": {"name": "Amsterdam", "code": "GM0363"},
            "component": component,
            "offering": offering.name,
            "version": version,
            "host": PUBLIC_HOST,
            "secretValues": [
                {"name": s.name, "secretKeyRef": {"name": "tenant-secrets", "key": s.name}}
                for s in container.tenant_secrets
            ],
        },
    }
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    plan = plan_installation(
        live,
        ComponentInstallationSpec.model_validate(live["spec"]),
        entry,
        {r.component: ready for r in entry.requires},
        passwords={f"{component}-{s.type.value.lower()}": "pw" for s in container.backing_services},
        credentials=None,
        generated={s.name: "g" * s.length for s in container.generated_secrets},
        secret_keys={"tenant-secrets": frozenset(s.name for s in container.tenant_secrets)},
        exposure=EXPOSURE,
    )
    assert not plan.errors, plan.errors
    assert not plan.missing, plan.missing
    objects = [*plan.children, *plan.data]
    deployments = {
        o["metadata"]["labels"]["app.kubernetes.io/component"]: o
        for o in objects
        if o["kind"] == "Deployment"
    }
    proxy = deployments.pop("proxy", None)
    config = next(
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config")
    )["data"]
    statefulsets = [o for o in objects if o["kind"] == "StatefulSet"]
    proxy_conf = next(
        (
            o["data"]["default.conf"]
            for o in objects
            if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-proxy")
        ),
        "",
    )
    ingress = next((o for o in objects if o["kind"] == "Ingress"), None)
    return Rendered(deployments, config, statefulsets, proxy, proxy_conf, ingress)


def test_every_container_component_used_by_a_tenant_has_facts() -> None:
    used = set()
    for path in (REPO / "examples" / "tenants").glob("*.yaml"):
        for subscription in yaml.safe_load(path.read_text())["spec"].get("components") or []:
            offering = CATALOGUE[subscription["name"]].offering(subscription["offering"])
            if offering is not None and offering.type is OfferingType.CONTAINER:
                used.add(subscription["name"])
    missing = sorted(
        f"{name} {version}"
        for name, version in CASES
        if name in used and facts_for(name, version) is None
    )
    assert not missing, f"no facts in tests/fidelity/facts.yaml for: {missing}"
    assert len(used) >= 13


@pytest.fixture(params=CASES, ids=[f"{c}-{v}" for c, v in CASES])
def case(request: pytest.FixtureRequest) -> tuple[str, str, Rendered, dict[str, Any] | None]:
    component, version = request.param
    return component, version, render(component, version), facts_for(component, version)


def test_every_process_runs_as_a_numeric_non_root_user(case: Any) -> None:
    component, version, rendered, facts = case
    for role, deployment in rendered.deployments.items():
        security = deployment["spec"]["template"]["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True
        assert isinstance(security.get("runAsUser"), int), role
        assert security["runAsUser"] > 0, role
        if facts:
            assert security["runAsUser"] == facts["uid"], (
                f"{component} {version} {role}: runAsUser {security['runAsUser']} (catalogue) "
                f"!= {facts['uid']} (facts)"
            )


def test_the_image_is_the_one_the_maintainers_publish(case: Any) -> None:
    component, version, rendered, facts = case
    if not facts:
        return
    for role, deployment in rendered.deployments.items():
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"].split("@")[0]
        assert image == facts["image"], (
            f"{component} {version} {role}: {image} (catalogue) != {facts['image']} (facts)"
        )


def test_probes_use_paths_that_exist_and_send_an_allowed_host(case: Any) -> None:
    component, version, rendered, facts = case
    web = rendered.deployments["web"]["spec"]["template"]["spec"]["containers"][0]
    allowed = (rendered.value("web", "ALLOWED_HOSTS") or "").split(",")
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = web[kind]["httpGet"]
        if facts:
            assert get["path"] in facts["probePaths"], (
                f"{component} {version} {kind}: {get['path']} (catalogue) is not among the paths "
                f"that exist: {facts['probePaths']} (facts)"
            )
        if facts and facts.get("hostCheck"):
            headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
            assert headers.get("Host") in allowed, (
                f"{component} {version} {kind}: Host {headers.get('Host')!r} "
                f"not in ALLOWED_HOSTS {allowed}"
            )
    if facts and facts.get("hostCheck"):
        for name in (component, f"{component}.{NAMESPACE}.svc.cluster.local", PUBLIC_HOST):
            assert name in allowed, (
                f"{component} {version}: {name} missing from ALLOWED_HOSTS {allowed}"
            )


def test_secrets_come_from_secrets_and_required_settings_are_set(case: Any) -> None:
    component, version, rendered, facts = case
    if not facts:
        return
    for role in rendered.deployments:
        for name in facts.get("secrets", []):
            assert rendered.source(role, name) == "secret", (
                f"{component} {version} {role}: {name} comes from {rendered.source(role, name)} "
                "(catalogue), must be a Secret (facts)"
            )
        for name in facts.get("required", []):
            assert rendered.source(role, name) is not None, (
                f"{component} {version} {role}: {name} is required (facts) and not set (catalogue)"
            )
        for name, expected in (facts.get("values") or {}).items():
            actual = rendered.value(role, name)
            assert actual in (None, expected), (
                f"{component} {version} {role}: {name}={actual!r} (catalogue) "
                f"!= {expected!r} (facts)"
            )
        for name in facts.get("never", []):
            assert rendered.source(role, name) is None, (
                f"{component} {version} {role}: {name} must not be set"
            )
    for secret in facts.get("secrets", []):
        assert secret not in rendered.config, f"{component} {version}: {secret} in the ConfigMap"


def test_written_paths_are_one_claim_shared_by_every_process(case: Any) -> None:
    component, version, rendered, facts = case
    if not facts:
        return
    for path in facts.get("sharedPaths", []):
        claims = set()
        for role, deployment in rendered.deployments.items():
            pod = deployment["spec"]["template"]["spec"]
            mount = next(
                (
                    m
                    for m in pod["containers"][0].get("volumeMounts") or []
                    if m["mountPath"] == path
                ),
                None,
            )
            assert mount is not None, (
                f"{component} {version} {role}: {path} (facts) is not mounted (catalogue)"
            )
            volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
            assert "persistentVolumeClaim" in volume, (
                f"{component} {version} {role}: {path} is not a claim"
            )
            claims.add(volume["persistentVolumeClaim"]["claimName"])
        assert len(claims) == 1, f"{component} {version}: {path} on different claims {claims}"


def test_the_proxy_in_front_is_the_one_the_chart_runs(case: Any) -> None:
    component, version, rendered, facts = case
    expected = (facts or {}).get("proxy")
    if rendered.proxy is None:
        assert expected is None, f"{component} {version}: the chart runs {expected} in front"
        return
    assert expected is not None, f"{component} {version}: a proxy (catalogue) the facts lack"
    pod = rendered.proxy["spec"]["template"]["spec"]
    image = pod["containers"][0]["image"]
    assert image == expected["image"], f"{component} {version}: proxy {image} != facts"
    assert pod["securityContext"]["runAsUser"] == expected["uid"]
    mounted = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert set(expected.get("serves", [])) <= mounted, f"{component} {version}: mounts {mounted}"
    if "index" in expected:
        fallback = rendered.proxy_conf.split("location / {")[1].split("}")[0]
        assert f"rewrite ^ {expected['index']} last;" in fallback, f"{component} {version}"


def test_the_processes_the_app_needs_run(case: Any) -> None:
    component, version, rendered, facts = case
    if not facts:
        return
    missing = set(facts["processes"]) - set(rendered.deployments)
    assert not missing, (
        f"{component} {version}: processes {sorted(rendered.deployments)} (catalogue) lack "
        f"{sorted(missing)} (facts)"
    )


def test_backing_services_run_images_that_exist(case: Any) -> None:
    component, version, rendered, facts = case
    # A recorded digest (reconcile/digests) follows the tag: the tag is what must exist.
    images = {
        s["spec"]["template"]["spec"]["containers"][0]["image"].split("@")[0]
        for s in rendered.statefulsets
    }
    unknown = images - set(FACTS["embeddedImages"])
    assert not unknown, (
        f"{component} {version}: embedded images {sorted(unknown)} are not known tags"
    )
    if not facts:
        return
    if facts.get("postgis"):
        assert any("postgis" in i for i in images), (
            f"{component} {version}: needs PostGIS, has {images}"
        )
    for wanted in facts.get("embedded", []):
        kind, _, tag = wanted.partition(":")
        name = {"RabbitMQ": "rabbitmq", "Elasticsearch": "elasticsearch", "Solr": "solr"}[kind]
        assert any(i.startswith(f"{name}:{tag}") for i in images), (
            f"{component} {version}: needs {wanted} (facts), embedded images are {sorted(images)}"
        )


def test_the_solr_core_the_app_needs_is_created(case: Any) -> None:
    component, version, rendered, facts = case
    if not facts or "solrCore" not in facts:
        return
    solr = [
        s
        for s in rendered.statefulsets
        if "solr:" in s["spec"]["template"]["spec"]["containers"][0]["image"]
    ]
    assert solr, f"{component} {version}: needs Solr (facts), none embedded"
    args = solr[0]["spec"]["template"]["spec"]["containers"][0].get("args") or []
    assert args == ["solr-precreate", facts["solrCore"]], (
        f"{component} {version}: Solr args {args} (catalogue) do not create core "
        f"{facts['solrCore']!r} (facts)"
    )


def test_an_exposed_component_learns_its_public_address_as_its_chart_tells_it(case: Any) -> None:
    component, version, rendered, facts = case
    expected = (facts or {}).get("public")
    if CATALOGUE[component].exposure is None:
        assert expected is None, f"{component}: the maintainers expose it; the catalogue does not"
        assert rendered.ingress is None
        return
    assert expected is not None, f"{component} {version}: exposed (catalogue), facts say not"
    meaning = {"host": PUBLIC_HOST, "origin": f"https://{PUBLIC_HOST}", "https": "True"}
    for name, holds in expected.items():
        assert rendered.config.get(name) == meaning[holds], f"{component} {version}: {name}"
    if (facts or {}).get("hostCheck"):
        assert PUBLIC_HOST in rendered.config["ALLOWED_HOSTS"].split(",")
    assert rendered.ingress is not None
    [rule] = rendered.ingress["spec"]["rules"]
    assert rule["host"] == PUBLIC_HOST
    # Users reach the web server in front when the chart runs one, as its ingress does.
    backend = rule["http"]["paths"][0]["backend"]["service"]["name"]
    assert backend == (f"{component}-proxy" if (facts or {}).get("proxy") else component)


CONFIGURED = [
    (name, version.version)
    for name, component in CATALOGUE.items()
    for version in component.versions
    if version.container is not None and version.container.configuration is not None
]
# Configured by the app's own setup_configuration, or by a tool in an image of its own.
BY_SETUP_CONFIGURATION = [
    (c, v)
    for c, v in CONFIGURED
    if CATALOGUE[c].version(v).container.configuration.image is None  # type: ignore[union-attr]
]
BY_A_TOOL = [c for c in CONFIGURED if c not in BY_SETUP_CONFIGURATION]


def fully_rendered(component: str, version: str) -> dict[str, Any]:
    """The configuration with every part applied: every other component subscribed and
    exposed."""
    config = CATALOGUE[component].version(version).container.configuration  # type: ignore[union-attr]
    assert config is not None
    others = {r.component for r in CATALOGUE[component].requires} | {
        p.component for p in config.parts
    }
    text, _ = render_configuration(
        config,
        subscribed=others,
        host=PUBLIC_HOST,
        endpoints={c: f"http://{c}.{NAMESPACE}.svc.cluster.local/" for c in others},
        origins={c: f"https://{c}.example.nl" for c in others},
    )
    return dict(yaml.safe_load(text) or {})


@pytest.mark.parametrize(
    "case", BY_SETUP_CONFIGURATION, ids=[f"{c}-{v}" for c, v in BY_SETUP_CONFIGURATION]
)
def test_the_configuration_uses_only_steps_the_version_ships(case: Any) -> None:
    """Every key of the configuration, with every part applied, is a step namespace or enable
    setting of that version's setup_configuration, each namespace with its step enabled (an
    unknown key is ignored by the app, a namespace without its enable setting is not run)."""
    component, version = case
    by_version = FACTS["setupSteps"].get(component) or {}
    steps = by_version.get(version) or by_version.get("*")
    assert steps is not None, f"no setupSteps facts for {component} {version}"
    rendered = fully_rendered(component, version)
    keys = set(rendered)
    enables = set(steps.values())
    assert keys <= set(steps) | enables, sorted(keys - set(steps) - enables)
    for namespace in keys & set(steps):
        assert rendered.get(steps[namespace]) is True, (namespace, steps[namespace])
    for enable in keys & enables:
        namespace = next(n for n, e in steps.items() if e == enable)
        assert namespace in keys, f"{enable} without {namespace}"


@pytest.mark.parametrize(
    "case", BY_SETUP_CONFIGURATION, ids=[f"{c}-{v}" for c, v in BY_SETUP_CONFIGURATION]
)
def test_an_admin_login_through_keycloak_is_what_mozilla_django_oidc_db_reads(case: Any) -> None:
    """Where a configuration logs its admin in through Keycloak: only the step's own fields
    (the models forbid others), the one item identifier 2.0.x accepts, the group settings under
    `options` where the login reads them, and a client Keycloak knows under the same name and
    secret, sending the browser back to the app's callback."""
    component, version = case
    oidc = fully_rendered(component, version).get("oidc_db_config_admin_auth")
    if oidc is None:
        return  # this component's admin has no OIDC part
    facts = FACTS["adminOidc"]
    (provider,) = oidc["providers"]
    assert set(provider) <= set(facts["provider"])
    assert set(provider["endpoint_config"]) <= set(facts["endpoints"])
    (item,) = oidc["items"]
    assert set(item) <= set(facts["item"]), sorted(set(item) - set(facts["item"]))
    assert item["identifier"] == facts["itemIdentifier"]
    assert item["oidc_provider_identifier"] == provider["identifier"]
    assert item["options"]["user_settings"]["claim_mappings"]["username"]
    assert "make_users_staff" in item["options"]["groups_settings"]
    endpoints = provider["endpoint_config"]
    assert endpoints["oidc_op_authorization_endpoint"].startswith("https://keycloak.example.nl/")
    assert endpoints["oidc_op_token_endpoint"].startswith(f"http://keycloak.{NAMESPACE}.svc")

    # Keycloak's side: a client of the same id and credential, returning to this app.
    realm = fully_rendered("keycloak", CATALOGUE["keycloak"].default_version)
    (client,) = [c for c in realm["clients"] if c["clientId"] == item["oidc_rp_client_id"]]
    assert item["oidc_rp_client_id"] == component
    secret = item["oidc_rp_client_secret"]
    # value_from, or ${NAME} where the command runs envsubst (django-setup-configuration 0.8.2)
    env = secret["value_from"]["env"] if isinstance(secret, dict) else secret.strip("${}")
    assert client["secret"] == f"$(env:{env})"
    callback = facts["callback"].get(component) or facts["callback"]["*"]
    assert client["redirectUris"] == [f"https://{component}.example.nl{callback}"]
    for endpoint in endpoints.values():
        assert f"/realms/{realm['realm']}/protocol/openid-connect/" in endpoint


@pytest.mark.parametrize("case", BY_A_TOOL, ids=[f"{c}-{v}" for c, v in BY_A_TOOL])
def test_a_realm_file_uses_only_fields_keycloak_config_cli_reads(case: Any) -> None:
    """keycloak-config-cli refuses a realm file with a field Keycloak does not know."""
    component, version = case
    facts = FACTS["realmImport"][component]
    realm = fully_rendered(component, version)
    assert set(realm) <= set(facts["realm"]), sorted(set(realm) - set(facts["realm"]))
    assert realm["clients"], "a client per app"
    for client in realm["clients"]:
        assert set(client) <= set(facts["client"]), sorted(set(client) - set(facts["client"]))
        mappers = client.get("protocolMappers", [])
        for mapper in mappers:
            assert set(mapper) <= set(facts["protocolMapper"])
        # A client that puts its roles in the token defines them.
        if any(m["protocolMapper"] == "oidc-usermodel-client-role-mapper" for m in mappers):
            assert client["clientId"] in realm["roles"]["client"]
    service_accounts = {c["clientId"] for c in realm["clients"] if c.get("serviceAccountsEnabled")}
    for user in realm.get("users", []):
        assert set(user) <= set(facts["user"]), sorted(set(user) - set(facts["user"]))
        # Keycloak names a service account's user after its client.
        assert user["serviceAccountClientId"] in service_accounts
        assert user["username"] == f"service-account-{user['serviceAccountClientId']}"
