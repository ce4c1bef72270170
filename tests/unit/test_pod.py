"""What a component's pods get from its catalogue entry: the numeric user, generated and
tenant-supplied secrets by reference only, derived host names with a Host header on probes,
volumes shared by every process, exec checks for workers and backing-service variables in the
names the component reads. Pure: a hand-made catalogue entry, no example needed."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import ValidationError

from cg_operator.api.component import (
    BackingService,
    CGComponentSpec,
    GeneratedSecret,
    SecretAlphabet,
)
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.reconcile.backing import component_env, required_keys
from cg_operator.reconcile.installation import plan_installation
from cg_operator.reconcile.pod import allowed_hosts, generate

NAMESPACE = "gm0363-amsterdam"


def component(**container: Any) -> CGComponentSpec:
    base: dict[str, Any] = {
        "image": "example/app:1.0.0",
        "port": 8000,
        "probes": {"readiness": "/_healthz/readyz/"},
        "user": {"runAsUser": 1000},
        "hosts": {"env": "ALLOWED_HOSTS"},
        "generatedSecrets": [{"name": "SECRET_KEY"}],
        "tenantSecrets": [
            {"name": "OIDC_RP_CLIENT_SECRET", "required": True},
            {"name": "SENTRY_DSN", "required": False},
        ],
        "volumes": [
            {"name": "media", "mountPath": "/app/private-media"},
            {"name": "tmp", "mountPath": "/tmp", "type": "Scratch"},  # noqa: S108 - a mount path
        ],
        "workers": [
            {
                "name": "worker",
                "command": ["/celery_worker.sh"],
                "healthCheck": {"command": ["maykin-common", "worker-health-check"]},
            }
        ],
        "backingServices": [{"type": "PostgreSQL"}],
    }
    return CGComponentSpec.model_validate(
        {
            "displayName": "App",
            "layer": "Service",
            "lifecycle": "Stable",
            "defaultVersion": "1.0.0",
            "versions": [{"version": "1.0.0", "container": base | container}],
            "offerings": [
                {"name": "container", "type": "Container", "deliveryOrganisation": {"name": "X"}}
            ],
        }
    )


def installation(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "ComponentInstallation",
        "metadata": {"name": "app", "namespace": NAMESPACE, "uid": "0000-cgi"},
        "spec": {
            "tenant": NAMESPACE,
            "municipality": {"name": "Amsterdam", "code": "GM0363"},
            "component": "app",
            "offering": "container",
            "version": "1.0.0",
            "secretValues": [
                {
                    "name": "OIDC_RP_CLIENT_SECRET",
                    "secretKeyRef": {"name": "oidc", "key": "client-secret"},
                }
            ],
            **spec,
        },
    }


def plan(entry: CGComponentSpec | None = None, **kwargs: Any) -> Any:
    live = kwargs.pop("live", None) or installation()
    return plan_installation(
        live,
        ComponentInstallationSpec.model_validate(live["spec"]),
        entry or component(),
        {},
        passwords={"app-postgresql": "pw"},
        credentials=None,
        generated=kwargs.pop("generated", {"SECRET_KEY": "k" * 50}),
        secret_keys=kwargs.pop("secret_keys", {"oidc": frozenset({"client-secret"})}),
        **kwargs,
    )


def deployments(result: Any) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in result.children if o["kind"] == "Deployment"}


def env_of(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_every_process_runs_as_the_images_numeric_user() -> None:
    for deployment in deployments(plan()).values():
        security = deployment["spec"]["template"]["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True
        assert (security["runAsUser"], security["runAsGroup"], security["fsGroup"]) == (
            1000,
            1000,
            1000,
        )


def test_root_is_refused_as_the_image_user() -> None:
    with pytest.raises(ValidationError, match="runAsUser"):
        component(user={"runAsUser": 0})


def test_generated_secrets_are_kept_as_data_and_reach_the_app_by_reference_only() -> None:
    result = plan()
    stored = next(o for o in result.data if o["metadata"]["name"] == "app-secrets")
    assert base64.b64decode(stored["data"]["SECRET_KEY"]).decode() == "k" * 50
    assert "ownerReferences" not in stored["metadata"], "kept with the data, never collected"
    for deployment in deployments(result).values():
        env = env_of(deployment)
        assert env["SECRET_KEY"] == {
            "name": "SECRET_KEY",
            "valueFrom": {"secretKeyRef": {"name": "app-secrets", "key": "SECRET_KEY"}},
        }
    config = next(o for o in result.children if o["kind"] == "ConfigMap")
    assert "SECRET_KEY" not in config["data"]
    assert "k" * 50 not in str(result.children)


@pytest.mark.parametrize(
    ("alphabet", "allowed"),
    [
        (
            SecretAlphabet.ALPHANUMERIC,
            set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
        ),
        (SecretAlphabet.HEX, set("0123456789abcdef")),
    ],
)
def test_a_generated_secret_has_the_asked_length_and_alphabet(
    alphabet: SecretAlphabet, allowed: set[str]
) -> None:
    secret = GeneratedSecret(name="SECRET_KEY", length=64, alphabet=alphabet)
    values = {generate(secret) for _ in range(3)}
    assert len(values) == 3, "fresh every time"
    assert all(len(v) == 64 and set(v) <= allowed for v in values)


@pytest.mark.parametrize("length", [31, 257])
def test_a_generated_secret_length_outside_32_to_256_is_refused(length: int) -> None:
    with pytest.raises(ValidationError, match="length"):
        GeneratedSecret(name="SECRET_KEY", length=length)


def test_tenant_secrets_come_from_the_named_key_of_the_tenants_secret() -> None:
    env = env_of(deployments(plan())["app"])
    assert env["OIDC_RP_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "oidc",
        "key": "client-secret",
    }


@pytest.mark.parametrize(
    ("secret_keys", "values", "problem"),
    [
        ({}, None, "Secret 'oidc' does not exist"),
        ({"oidc": frozenset({"other"})}, None, "Secret 'oidc' has no key 'client-secret'"),
        ({}, [], "OIDC_RP_CLIENT_SECRET is required"),
    ],
)
def test_a_missing_tenant_secret_is_named(
    secret_keys: dict[str, Any], values: list[Any] | None, problem: str
) -> None:
    live = installation() if values is None else installation(secretValues=values)
    result = plan(live=live, secret_keys=secret_keys)
    assert any(problem in m for m in result.missing), result.missing
    assert "SENTRY_DSN" not in " ".join(result.missing), "optional ones are not required"


def test_a_secret_value_the_component_does_not_take_is_refused_naming_it() -> None:
    live = installation(
        secretValues=[{"name": "TYPO", "secretKeyRef": {"name": "oidc", "key": "client-secret"}}]
    )
    result = plan(live=live)
    assert [e.field for e in result.errors] == ["spec.secretValues[0].name"]
    assert "OIDC_RP_CLIENT_SECRET" in result.errors[0].message
    assert not result.children


def test_a_tenant_secret_reference_cannot_name_another_namespace() -> None:
    with pytest.raises(ValidationError, match="own namespace"):
        ComponentInstallationSpec.model_validate(
            installation(
                secretValues=[
                    {
                        "name": "OIDC_RP_CLIENT_SECRET",
                        "secretKeyRef": {"name": "x", "key": "y", "namespace": "kube-system"},
                    }
                ]
            )["spec"]
        )


def test_allowed_hosts_are_derived_and_probes_send_an_allowed_host() -> None:
    live = installation(hostnames=["zaken.amsterdam.nl"], values={"ALLOWED_HOSTS": "evil.example"})
    # Even a catalogue that lets a tenant give ALLOWED_HOSTS gets the derived list.
    result = plan(component(settings=[{"name": "ALLOWED_HOSTS"}]), live=live)
    config = next(o for o in result.children if o["kind"] == "ConfigMap")
    hosts = config["data"]["ALLOWED_HOSTS"].split(",")
    assert hosts == allowed_hosts(["app"], NAMESPACE, "cluster.local", ["zaken.amsterdam.nl"])
    assert "evil.example" not in hosts, "derived, never typed by hand"
    assert {"app", f"app.{NAMESPACE}.svc.cluster.local", "zaken.amsterdam.nl"} <= set(hosts)
    web = deployments(result)["app"]["spec"]["template"]["spec"]["containers"][0]
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        headers = web[kind]["httpGet"]["httpHeaders"]
        assert headers == [{"name": "Host", "value": "app"}]
        assert headers[0]["value"] in hosts


def test_values_are_limited_to_declared_settings_and_never_override_the_catalogue() -> None:
    entry = component(
        settings=[{"name": "SITE_DOMAIN"}, {"name": "LOG_LEVEL"}],
        env=[{"name": "LOG_LEVEL", "value": "INFO"}],
    )
    live = installation(values={"SITE_DOMAIN": "zaken.amsterdam.nl", "LOG_LEVEL": "DEBUG"})
    config = next(o for o in plan(entry, live=live).children if o["kind"] == "ConfigMap")
    assert config["data"]["SITE_DOMAIN"] == "zaken.amsterdam.nl"
    assert config["data"]["LOG_LEVEL"] == "INFO", "the catalogue wins"
    refused = plan(entry, live=installation(values={"UWSGI_MASTER": "0"}))
    assert refused.children == []
    [error] = refused.errors
    assert error.field == "spec.values.UWSGI_MASTER"
    assert "its settings: LOG_LEVEL, SITE_DOMAIN" in error.message


def test_a_component_without_host_checks_gets_no_host_header() -> None:
    result = plan(component(hosts=None))
    web = deployments(result)["app"]["spec"]["template"]["spec"]["containers"][0]
    assert "httpHeaders" not in web["readinessProbe"]["httpGet"]


def test_data_volumes_are_one_claim_shared_by_every_process() -> None:
    result = plan()
    claim = next(o for o in result.data if o["kind"] == "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "app-media"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "web and worker share it"
    assert "ownerReferences" not in claim["metadata"]
    for deployment in deployments(result).values():
        pod = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["media"]["persistentVolumeClaim"]["claimName"] == "app-media"
        assert volumes["tmp"] == {"name": "tmp", "emptyDir": {}}
        mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert mounts == {"/app/private-media", "/tmp"}  # noqa: S108


def test_a_volume_path_must_be_absolute() -> None:
    with pytest.raises(ValidationError, match="mountPath"):
        component(volumes=[{"name": "media", "mountPath": "app/media"}])


def test_workers_get_their_maintainers_exec_check_and_the_root_filesystem_as_asked() -> None:
    result = plan(component(readOnlyRootFilesystem=True))
    worker = deployments(result)["app-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["livenessProbe"]["exec"]["command"] == ["maykin-common", "worker-health-check"]
    assert worker["securityContext"]["readOnlyRootFilesystem"] is True


def test_each_process_gets_its_own_resources_or_else_the_containers() -> None:
    web = {"requests": {"cpu": "250m", "memory": "768Mi"}, "limits": {"cpu": "2"}}
    beat = {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"cpu": "250m"}}
    entry = component(
        resources=web,
        workers=[
            {"name": "worker", "command": ["/celery_worker.sh"]},
            {"name": "beat", "command": ["/celery_beat.sh"], "resources": beat},
        ],
    )
    found = {
        name: d["spec"]["template"]["spec"]["containers"][0]["resources"]
        for name, d in deployments(plan(entry)).items()
    }
    assert found == {"app": web, "app-worker": web, "app-beat": beat}


def test_backing_service_variables_are_in_the_names_the_component_reads() -> None:
    service = BackingService.model_validate(
        {
            "type": "PostgreSQL",
            "env": [
                {"name": "KC_DB_URL_HOST", "key": "host"},
                {"name": "JDBC_URL", "value": "jdbc:postgresql://{host}:{port}/{database}"},
            ],
        }
    )
    env = component_env(service, "app-postgresql")
    by_name = {e["name"]: e for e in env}
    assert by_name["KC_DB_URL_HOST"]["valueFrom"] == {
        "secretKeyRef": {"name": "app-postgresql", "key": "host"}
    }
    assert by_name["JDBC_URL"]["value"] == (
        "jdbc:postgresql://$(CG_POSTGRESQL_HOST):$(CG_POSTGRESQL_PORT)/$(CG_POSTGRESQL_DATABASE)"
    )
    names = [e["name"] for e in env]
    assert names.index("CG_POSTGRESQL_HOST") < names.index("JDBC_URL"), "defined before use"
    assert required_keys(service) == ["database", "host", "port"]
    assert "DB_HOST" not in by_name, "the convention applies only when the entry names none"


def test_a_backing_service_mapping_naming_an_unknown_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown PostgreSQL connection key"):
        BackingService.model_validate(
            {"type": "PostgreSQL", "env": [{"name": "X", "value": "{hostname}:{port}"}]}
        )


def test_a_solr_core_the_component_needs_is_created_by_the_embedded_solr() -> None:
    entry = component(backingServices=[{"type": "Solr", "version": "9.10.1", "core": "zac"}])
    result = plan(entry)
    solr = next(o for o in [*result.children, *result.data] if o["kind"] == "StatefulSet")
    assert solr["spec"]["template"]["spec"]["containers"][0]["args"] == ["solr-precreate", "zac"]
    with pytest.raises(ValidationError, match="core is only for Solr"):
        BackingService.model_validate({"type": "PostgreSQL", "core": "zac"})


def test_a_version_with_build_metadata_still_makes_valid_labels() -> None:
    wire = component().model_dump(by_alias=True, exclude_none=True)
    wire["versions"][0]["version"] = wire["defaultVersion"] = "1.0.0+build.1"
    entry = CGComponentSpec.model_validate(wire)
    result = plan(entry, live=installation(version="1.0.0+build.1"))
    labels = deployments(result)["app"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/version"] == "1.0.0_build.1"


PROXY = {
    "image": "nginxinc/nginx-unprivileged:stable",
    "user": {"runAsUser": 101},
    "internal": [{"path": "/private-media/", "volume": "media"}],
    "maxBodySize": "4G",
}


def test_a_proxy_serves_private_media_only_on_the_apps_say_so_and_passes_the_rest() -> None:
    result = plan(component(proxy=PROXY))
    config = next(
        o
        for o in result.children
        if o["metadata"]["name"] == "app-proxy" and o["kind"] == "ConfigMap"
    )
    conf = config["data"]["default.conf"]
    assert (
        "location /private-media/ {\n        internal;\n        alias /app/private-media/;" in conf
    )
    assert f"proxy_pass http://app.{NAMESPACE}.svc.cluster.local:80;" in conf
    assert "client_max_body_size 4G;" in conf
    proxy = deployments(result)["app-proxy"]
    pod = proxy["spec"]["template"]["spec"]
    assert proxy["metadata"]["labels"]["app.kubernetes.io/component"] == "proxy"
    # The app's fsGroup, so mounting the shared claim never re-owns the app's files.
    assert pod["securityContext"]["runAsUser"] == 101
    assert pod["securityContext"]["fsGroup"] == 1000
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["/app/private-media"]["readOnly"] is True
    assert "envFrom" not in pod["containers"][0], "the app's settings stay with the app"
    services = {o["metadata"]["name"] for o in result.children if o["kind"] == "Service"}
    assert {"app", "app-proxy"} <= services
    [claim] = [o for o in result.data if o["kind"] == "PersistentVolumeClaim"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_a_proxy_location_must_serve_a_data_volume() -> None:
    bad = {**PROXY, "internal": [{"path": "/private-media/", "volume": "tmp"}]}
    with pytest.raises(ValidationError, match="not a Data volume"):
        component(proxy=bad)


def test_a_public_location_is_served_to_anyone_from_its_volume() -> None:
    volumes = [
        {"name": "media", "mountPath": "/app/private-media"},
        {"name": "public-media", "mountPath": "/app/media"},
    ]
    proxy = {**PROXY, "public": [{"path": "/media/", "volume": "public-media"}]}
    result = plan(component(volumes=volumes, proxy=proxy))
    conf = next(
        o["data"]["default.conf"]
        for o in result.children
        if o["metadata"]["name"] == "app-proxy" and o["kind"] == "ConfigMap"
    )
    public = conf.split("location /media/ {")[1].split("}")[0]
    assert "alias /app/media/;" in public
    assert "internal" not in public


def proxy_conf(result: Any) -> str:
    return next(
        o["data"]["default.conf"]
        for o in result.children
        if o["metadata"]["name"] == "app-proxy" and o["kind"] == "ConfigMap"
    )


def test_a_browser_app_gets_its_index_page_on_client_side_routes() -> None:
    spa = {"index": "/static/frontend/index.html", "appPaths": ["/api/", "/admin/", "/static/"]}
    proxy = {k: v for k, v in PROXY.items() if k != "internal"} | {"singlePageApp": spa}
    conf = proxy_conf(plan(component(proxy=proxy)))
    for path in spa["appPaths"]:
        block = conf.split(f"location {path} {{")[1].split("}")[0]
        assert f"proxy_pass http://app.{NAMESPACE}.svc.cluster.local:80;" in block, path
    fallback = conf.split("location / {")[1].split("}")[0]
    # Re-matched after the rewrite: the /static/ location sends the index page's request on.
    assert "rewrite ^ /static/frontend/index.html last;" in fallback
    assert "proxy_pass" not in fallback


def test_a_browser_app_index_must_be_one_the_backend_serves() -> None:
    spa = {"index": "/index.html", "appPaths": ["/api/"]}
    with pytest.raises(ValidationError, match="index must lie under one of appPaths"):
        component(proxy={**PROXY, "singlePageApp": spa})
    empty = {k: v for k, v in PROXY.items() if k != "internal"}
    with pytest.raises(ValidationError, match="a proxy serves something"):
        component(proxy=empty)


def test_callers_of_the_proxy_service_are_allowed_hosts() -> None:
    """The proxy passes the Host it was called with: its own Service names must be allowed,
    or an in-cluster caller of <component>-proxy gets a 400 from the app."""
    config = next(
        o for o in plan(component(proxy=PROXY)).children if o["metadata"]["name"] == "app-config"
    )
    hosts = config["data"]["ALLOWED_HOSTS"].split(",")
    assert {"app-proxy", f"app-proxy.{NAMESPACE}", f"app-proxy.{NAMESPACE}.svc"} <= set(hosts)
    without = next(o for o in plan(component()).children if o["metadata"]["name"] == "app-config")
    assert not any("proxy" in h for h in without["data"]["ALLOWED_HOSTS"].split(","))
